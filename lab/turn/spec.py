"""The relay spec: one validated description of a coturn relay in a lab topology.

Validated once at the edge (`parse_relays`), trusted inside. Every mistake becomes one
ConfigError naming the file, the key and what was wrong, before anything starts.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lab.configfile import from_validation, read_toml
from lab.errors import ConfigError
from lab.turn.options import check_option

Transport = Literal["udp", "tcp", "tls"]
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,14}$")


class RelaySpec(BaseModel):
    """One coturn relay, placed on a topology host.

    `address` is the host's lab address the relay listens and relays on; left empty, it is taken
    from the topology when the relay starts. `alt_address` (RFC 5780) must be a second address of
    the same host. Lifetimes are seconds. With `auth_secret` set the relay accepts TURN REST API
    ephemeral credentials (use-auth-secret) and no static users.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    host: str
    address: IPv4Address | None = None
    alt_address: IPv4Address | None = None
    # RFC 5780 (NAT behaviour discovery): on when the relay has a second address; with
    # rfc5780 = true and no alt_address, a topology host's second address is used.
    rfc5780: bool = True
    port: int = Field(3478, ge=1, le=65535)
    tls_port: int = Field(5349, ge=1, le=65535)
    listeners: tuple[Transport, ...] = ("udp", "tcp", "tls")
    min_port: int = Field(49152, ge=1024, le=65535)
    max_port: int = Field(65535, ge=1024, le=65535)
    realm: str = "icelab"
    users: dict[str, str] = Field(default_factory=lambda: {"icelab": "icelab"})
    auth_secret: str | None = None
    max_allocate_lifetime: int = Field(600, ge=1, le=86400)
    permission_lifetime: int | None = Field(None, ge=1, le=3600)
    channel_lifetime: int | None = Field(None, ge=1, le=3600)
    cert: Path | None = None
    key: Path | None = None
    # Lab addresses the relay may relay to; filled from the topology when left empty.
    peer_networks: tuple[IPv4Network, ...] = ()
    relay_threads: int = Field(1, ge=0, le=16)
    verbose: bool = False
    options: dict[str, str | int | bool] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name_is_short(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError("must be 1-15 characters: lowercase letter, then [a-z0-9-]")
        return name

    @field_validator("listeners")
    @classmethod
    def _listeners_unique(cls, listeners: tuple[str, ...]) -> tuple[str, ...]:
        if not listeners:
            raise ValueError("needs at least one of udp, tcp, tls")
        if len(set(listeners)) != len(listeners):
            raise ValueError("lists a transport twice")
        return listeners

    @field_validator("options")
    @classmethod
    def _options_known(cls, options: dict[str, Any]) -> dict[str, Any]:
        for name in options:
            problem = check_option(name)
            if problem:
                raise ValueError(problem)
        return options

    @field_validator("users")
    @classmethod
    def _users_well_formed(cls, users: dict[str, str]) -> dict[str, str]:
        for user, password in users.items():
            if not user or ":" in user or any(c.isspace() for c in user + password):
                raise ValueError(f"user '{user}': names and passwords need no ':' or spaces")
        return users

    @model_validator(mode="after")
    def _consistent(self) -> RelaySpec:
        if self.min_port > self.max_port:
            raise ValueError(f"min_port {self.min_port} is above max_port {self.max_port}")
        clash = _port_clash(self)
        if clash:
            raise ValueError(clash)
        if self.auth_secret is not None and not self.auth_secret:
            raise ValueError("auth_secret is empty")
        if self.auth_secret is None and not self.users:
            raise ValueError("needs static users or an auth_secret (TURN REST API)")
        if (self.cert is None) != (self.key is None):
            raise ValueError("give both cert and key, or neither (the lab then makes them)")
        for role, path in (("cert", self.cert), ("key", self.key)):
            if path is not None and not path.is_file():
                raise ValueError(f"{role} file {path} does not exist (missing certificate)")
        if self.alt_address is not None and self.alt_address == self.address:
            raise ValueError("alt_address must differ from address")
        if self.alt_address is not None and not self.rfc5780:
            raise ValueError("alt_address is set but rfc5780 = false")
        return self

    @property
    def alt_listening(self) -> bool:
        return self.alt_address is not None

    def listening_ports(self) -> dict[str, int]:
        """Every port the relay listens on, by role (alternate ports only with RFC 5780)."""
        ports: dict[str, int] = {}
        if {"udp", "tcp"} & set(self.listeners):
            ports["port"] = self.port
        if "tls" in self.listeners:
            ports["tls_port"] = self.tls_port
        if self.alt_listening:
            # coturn's CHANGE-REQUEST answers come from port+1 (and tls_port+1).
            for role, port in list(ports.items()):
                ports[f"{role}+1"] = port + 1
        return ports


def _port_clash(spec: RelaySpec) -> str | None:
    seen: dict[int, str] = {}
    for role, port in spec.listening_ports().items():
        if port in seen:
            return f"port clash: {role} and {seen[port]} are both {port}"
        if spec.min_port <= port <= spec.max_port:
            return (f"port clash: {role} {port} is inside the relay port range "
                    f"{spec.min_port}-{spec.max_port}")
        seen[port] = role
    return None


class RelaySet(BaseModel):
    """All relays of one topology; checks what only shows across relays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    relays: tuple[RelaySpec, ...] = ()

    @model_validator(mode="after")
    def _no_shared_names_or_ports(self) -> RelaySet:
        names: set[str] = set()
        used: dict[tuple[str, str, int], str] = {}
        for spec in self.relays:
            if spec.name in names:
                raise ValueError(f"two relays are named '{spec.name}'")
            names.add(spec.name)
            # coturn listens on every port on each of its addresses.
            addresses = [str(a) for a in (spec.address, spec.alt_address) if a is not None]
            for where in addresses or [f"host {spec.host}"]:
                for role, port in spec.listening_ports().items():
                    slot = (spec.host, where, port)
                    if slot in used:
                        raise ValueError(
                            f"port clash: relay '{spec.name}' {role} {port} on {where} "
                            f"is already used by relay '{used[slot]}'")
                    used[slot] = spec.name
        return self


def parse_relays(data: Any, file: str | Path | None = None, key: str = "relays") -> RelaySet:
    """Validate relay specs (a list of mappings) from a topology or relay file."""
    try:
        return RelaySet.model_validate({"relays": data})
    except ValidationError as error:
        strip = 1 if error.errors()[0]["loc"][:1] == ("relays",) else 0
        raise from_validation(error, file, key, strip=strip) from None


def parse_relay(data: Any, file: str | Path | None = None, key: str = "relay") -> RelaySpec:
    try:
        return RelaySpec.model_validate(data)
    except ValidationError as error:
        raise from_validation(error, file, key) from None




def load_relay_file(file: str | Path) -> RelaySet:
    """Relay specs from a TOML file with one [[relays]] table per relay."""
    path = Path(file)
    data = read_toml(path)
    unknown = set(data) - {"relays"}
    if unknown:
        raise ConfigError(path, sorted(unknown)[0], "unknown option (expected [[relays]] tables)")
    return parse_relays(data.get("relays", []), path)
