"""The lab's TLS trust for TURN over TLS: one lab CA per state folder, one server cert per relay.

How peers trust it: aiortc passes `ssl=True` for a `turns:` URL to aioice, which hands it to
`loop.create_connection`; asyncio then builds `ssl.create_default_context()` and checks the
certificate chain and the hostname (here the relay's IP address, matched against an IP
subjectAltName). There is no hook for a custom SSLContext in aiortc's RTCIceServer, but
`create_default_context()` loads OpenSSL's default verify paths, which honour the environment
variable SSL_CERT_FILE. A peer process started with SSL_CERT_FILE=<lab CA file> therefore trusts
the relays' certificates and nothing else (the system bundle is not read: fine in a hermetic lab).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "lab-ca.pem"
CA_KEY = "lab-ca.key"
_VALIDITY = datetime.timedelta(days=30)


@dataclass(frozen=True)
class ServerCert:
    cert: Path
    key: Path


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)


def ensure_ca(folder: Path) -> Path:
    """The lab CA certificate in `folder` (made once); this is the file peers trust."""
    cert_path, key_path = folder / CA_CERT, folder / CA_KEY
    if cert_path.is_file() and key_path.is_file():
        return cert_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "icelab TURN CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now()).not_valid_after(_now() + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(key_path, _pem_key(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path


def issue_server_cert(ca_folder: Path, folder: Path, name: str,
                      addresses: list[IPv4Address]) -> ServerCert:
    """A certificate for relay `name` in `folder`, valid for its IP addresses, signed by the
    lab CA kept in `ca_folder`."""
    ca_path = ensure_ca(ca_folder)
    ca_cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
    ca_key = serialization.load_pem_private_key((ca_folder / CA_KEY).read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca_folder / CA_KEY}: the lab CA key is not an EC key (remove the folder to make a new CA)")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"icelab relay {name}")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(_now()).not_valid_after(_now() + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(a) for a in addresses]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / "relay-cert.pem", folder / "relay-key.pem"
    _write_private(key_path, _pem_key(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return ServerCert(cert_path, key_path)
