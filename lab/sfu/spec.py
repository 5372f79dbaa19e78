"""The SFU spec: one validated description of a Janus instance on a lab topology host (the
experiment's [sfu] block).

Validated once at the edge, trusted inside: every mistake is one ConfigError naming the file,
the key (`sfu.<key>`) and what was wrong, before anything starts.
"""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from lab.configfile import from_validation
from lab.errors import ConfigError

SFU_ROLE = "sfu"
CallPath = Literal["sfu", "p2p"]
# The one publisher feed id the lab uses: the publisher joins with it, the subscriber asks for it.
PUBLISHER_FEED = 1


class SfuSpec(BaseModel):
    """One Janus (Debian's janus 1.1) on a topology host, VideoRoom plugin, WebSocket API.

    `host` defaults to the topology's host with role "sfu"; `address` to that host's primary lab
    address (the only address the API and ICE use). `turn` gives Janus the topology's relay as its
    TURN server (when the topology has one).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str | None = Field(None, description='topology host running Janus (default: the one with role "sfu")')
    address: IPv4Address | None = None
    plugin: Literal["videoroom"] = "videoroom"
    ws_port: int = Field(8188, ge=1, le=65535, description="Janus API over WebSocket (janus-protocol)")
    room: int = Field(1234, ge=1, le=2**31 - 1)
    rtp_min_port: int = Field(20000, ge=1024, le=65535)
    rtp_max_port: int = Field(20999, ge=1024, le=65535)
    session_timeout_s: int = Field(60, ge=5, le=3600, description="Janus drops a session silent this long")
    keepalive_s: float = Field(15.0, gt=0, le=600, description="clients' keepalive period")
    turn: bool = Field(True, description="Janus's TURN server is the topology's relay, when it has one")
    debug_level: int = Field(4, ge=0, le=7)
    paths: list[CallPath] = Field(
        default_factory=lambda: list[CallPath](["sfu"]), min_length=1,
        description='the call paths every cell runs: through Janus ("sfu"), and peer to peer ("p2p") '
                    "for comparison (the same fault, policies and matrix)")

    @model_validator(mode="after")
    def _consistent(self) -> SfuSpec:
        if len(set(self.paths)) != len(self.paths):
            raise ValueError("paths must be unique")
        if self.rtp_min_port > self.rtp_max_port:
            raise ValueError(f"rtp_min_port ({self.rtp_min_port}) is above rtp_max_port ({self.rtp_max_port})")
        if self.rtp_min_port <= self.ws_port <= self.rtp_max_port:
            raise ValueError(f"ws_port {self.ws_port} lies inside the RTP port range "
                             f"{self.rtp_min_port}-{self.rtp_max_port}")
        if self.keepalive_s >= self.session_timeout_s:
            raise ValueError(f"keepalive_s ({self.keepalive_s:g}) must be shorter than session_timeout_s "
                             f"({self.session_timeout_s}), or Janus drops the session")
        return self


def parse_sfu(data: Any, file: str | Path | None = None) -> SfuSpec:
    """The validated [sfu] block, or one ConfigError (file, sfu.<key>, reason)."""
    if isinstance(data, SfuSpec):
        return data
    try:
        return SfuSpec.model_validate(data)
    except ValidationError as error:
        raise from_validation(error, file, prefix="sfu") from None


def need_sfu_host(spec: SfuSpec, hosts: dict[str, str | None], file: str | Path | None = None) -> str:
    """The SFU's host among `hosts` (name -> role): the named one, or the one with role "sfu"."""
    if spec.host is not None:
        if spec.host not in hosts:
            raise ConfigError(file, "sfu.host", f"the topology has no host {spec.host!r}")
        return spec.host
    found = [name for name, role in hosts.items() if role == SFU_ROLE]
    if not found:
        raise ConfigError(file, "sfu.host", 'no SFU host: name one, or give a topology host role = "sfu"')
    return found[0]
