"""`icelab cluster certs DIR`: a certificate authority and the scheduler's, workers' and client's
certificates (mutual TLS: each side proves it holds a certificate of the lab's CA), and the
distributed.security.Security each role uses."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from distributed.security import Security

from lab.errors import ConfigError

ROLES = ("scheduler", "worker", "client")
VALID_DAYS = 825


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "icelab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def make_certs(directory: Path) -> list[Path]:
    """ca.pem, ca-key.pem and <role>.pem + <role>-key.pem for each role; refuses to overwrite."""
    directory.mkdir(parents=True, exist_ok=True)
    existing = [p.name for p in directory.glob("*.pem")]
    if existing:
        raise ConfigError(directory, None, f"holds certificates already ({', '.join(sorted(existing))}); "
                          "choose an empty folder")
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("icelab cluster CA")).issuer_name(_name("icelab cluster CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    written = [directory / "ca.pem", directory / "ca-key.pem"]
    written[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    _write_key(written[1], ca_key)
    for role in ROLES:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder().subject_name(_name(f"icelab {role}")).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                      ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        (directory / f"{role}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(directory / f"{role}-key.pem", key)
        written += [directory / f"{role}.pem", directory / f"{role}-key.pem"]
    return written


def security(directory: Path, role: str) -> Security:
    """Mutual TLS for one role, from a folder made by make_certs (a host needs ca.pem and its
    role's two files only)."""
    needed = [directory / "ca.pem", directory / f"{role}.pem", directory / f"{role}-key.pem"]
    missing = [p.name for p in needed if not p.is_file()]
    if missing:
        raise ConfigError(directory, None, f"missing {', '.join(missing)} (make them with `icelab cluster certs`)")
    ca, cert, key = (str(p) for p in needed)
    return Security(require_encryption=True, tls_ca_file=ca, **{
        f"tls_{role}_cert": cert, f"tls_{role}_key": key})
