"""The experiment file (experiments/*.toml): one pydantic schema, validated at the edge.

An experiment runs a call between two peers of a topology, breaks the network at a known
instant (the fault), and compares restart policies over a matrix of RTT and loss, with
repetitions. `load_experiment(path)` returns a validated `ExperimentSpec` or raises
ConfigError naming the file, the key and what was wrong.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Annotated, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lab.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- peers, media, ICE


# aiortc: lab.runtime.agent (lab.rtc's restartable aiortc); chromium, firefox: real browsers
# (lab.runtime.chromium, lab.runtime.firefox); the registry is lab.runtime.kinds
# "aiortc~chrome", "aiortc~firefox": aiortc as a calibrated stand-in (lab.rtc.profiles)
PeerKind = Literal["aiortc", "chromium", "firefox", "aiortc~chrome", "aiortc~firefox"]


class PeersSpec(_Strict):
    """Which topology hosts run the two peers, and which of them is polite."""

    offerer: str = Field(description="host that makes the first offer")
    answerer: str = Field(description="host that answers the first offer")
    polite: Literal["offerer", "answerer"] = "answerer"
    kind: PeerKind = Field("aiortc", description="peer implementation of both sides (unless set per side)")
    offerer_kind: PeerKind | None = Field(None, description="peer implementation of the offerer")
    answerer_kind: PeerKind | None = Field(None, description="peer implementation of the answerer")

    @model_validator(mode="after")
    def _distinct(self) -> PeersSpec:
        if self.offerer == self.answerer:
            raise ValueError("offerer and answerer must be different hosts")
        return self

    def kind_of(self, role: str) -> PeerKind:
        side: PeerKind | None = getattr(self, f"{role}_kind")
        return side or self.kind


class MediaSpec(_Strict):
    """Synthetic media fit for timing: an audio track whose RTP packets are the media units."""

    kind: Literal["audio"] = "audio"
    codec: Literal["PCMU", "opus"] = "PCMU"
    ptime_ms: Literal[20] = 20
    direction: Literal["both", "offerer-to-answerer", "answerer-to-offerer"] = "both"


class IceSpec(_Strict):
    """ICE settings of both peers: candidate types, relays, and failure detection."""

    transport: Literal["all", "relay"] = "all"
    turn: bool = Field(False, description="give the peers the topology's TURN relay(s)")
    consent_interval_s: float = Field(1.0, gt=0, le=30)
    disconnected_after_s: float = Field(2.0, gt=0, le=60)
    failed_after_s: float = Field(8.0, gt=0, le=120)

    @model_validator(mode="after")
    def _order(self) -> IceSpec:
        if self.failed_after_s <= self.disconnected_after_s:
            raise ValueError("failed_after_s must be greater than disconnected_after_s")
        return self


class SignalingSpec(_Strict):
    """`lab`: the WebSocket signaling server on a topology host (faults hit it);
    `control`: relayed by the orchestrator over the agents' control pipes (never impaired)."""

    path: Literal["lab", "control"] = "lab"
    host: str | None = Field(None, description="topology host of the signaling server (lab path)")
    server: Literal["in-orchestrator", "process"] = Field(
        "in-orchestrator", description="served by the orchestrator on a socket in the host's namespace, "
        "or by its own process on the host")
    port: int = Field(8443, ge=1, le=65535)


# ---------------------------------------------------------------- faults


class _FaultBase(_Strict):
    at_s: float = Field(5.0, ge=0, le=600, description="seconds after media flows both ways")


class HandoverFault(_FaultBase):
    """Wi-Fi -> LTE: break-before-make (overlap_s = 0) or make-before-break (both up for overlap_s)."""

    type: Literal["handover"]
    host: str
    from_iface: str = "wifi"
    to_iface: str = "lte"
    overlap_s: float = Field(0.0, ge=0, le=60)


class BindingExpiryFault(_FaultBase):
    """The NAT forgets its UDP bindings: all of them, or only those of one host."""

    type: Literal["binding_expiry"]
    router: str
    host: str | None = Field(None, description="only this host's mappings (default: all)")


class NatRebootFault(_FaultBase):
    """The NAT reboots: bindings flushed and a new public address."""

    type: Literal["nat_reboot"]
    router: str


class RelayKillFault(_FaultBase):
    """kill -9 of a TURN relay; restarted as a new process after restart_after_s (allocations lost)."""

    type: Literal["relay_kill"]
    relay: str
    restart_after_s: float | None = Field(None, ge=0, le=120)


class BlackholeFault(_FaultBase):
    """All traffic (or only UDP) of one link is dropped for duration_s."""

    type: Literal["blackhole"]
    node: str
    iface: str
    duration_s: float = Field(3.0, gt=0, le=300)
    udp_only: bool = False


class LossBurstFault(_FaultBase):
    """Random loss of loss_pct on one link for duration_s."""

    type: Literal["loss_burst"]
    node: str
    iface: str
    loss_pct: float = Field(50.0, gt=0, le=100)
    duration_s: float = Field(3.0, gt=0, le=300)


class SignalingOutageFault(_FaultBase):
    """The signaling server is unreachable for duration_s (the media path is untouched)."""

    type: Literal["signaling_outage"]
    duration_s: float = Field(5.0, gt=0, le=300)
    mode: Literal["network", "client"] = Field(
        "network", description="network: the signaling host's link is blackholed (TCP only dies); "
        "client: the peers' signaling clients drop their link (lab.rtc.signaling outage window)")


class TurnAllocationExpiryFault(_FaultBase):
    """The relay drops every allocation (a relay process restart: allocations are not refreshed)."""

    type: Literal["turn_allocation_expiry"]
    relay: str


FaultSpec = Annotated[
    Union[
        HandoverFault,
        BindingExpiryFault,
        NatRebootFault,
        RelayKillFault,
        BlackholeFault,
        LossBurstFault,
        SignalingOutageFault,
        TurnAllocationExpiryFault,
    ],
    Field(discriminator="type"),
]

FAULT_TYPES = (
    "handover", "binding_expiry", "nat_reboot", "relay_kill", "blackhole",
    "loss_burst", "signaling_outage", "turn_allocation_expiry",
)


# ---------------------------------------------------------------- policies

Trigger = Literal["never", "failed", "disconnected", "network-change"]
Action = Literal["restart-ice", "ice-restart-offer", "full-reconnect"]
Side = Literal["offerer", "answerer", "both", "polite", "impolite"]

# The named policies of the issue; a [[policies]] table may start from one and override fields.
PRESETS: dict[str, dict[str, object]] = {
    "none": {"trigger": "never", "also_on_failed": False},
    "on-failed": {"trigger": "failed", "action": "restart-ice"},
    "on-disconnected": {"trigger": "disconnected", "action": "restart-ice"},
    "on-network-change": {"trigger": "network-change", "action": "restart-ice"},
    "full-reconnect": {"trigger": "failed", "action": "full-reconnect"},
    "legacy-ice-restart": {"trigger": "failed", "action": "ice-restart-offer"},
}


class PolicySpec(_Strict):
    """When a peer restarts (trigger, grace), how (action) and which peer(s) do (side)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
    trigger: Trigger = "failed"
    action: Action = "restart-ice"
    grace_s: float = Field(0.0, ge=0, le=60, description="wait after the trigger; cancelled if it clears")
    side: Side = "both"
    also_on_failed: bool = Field(True, description="a 'failed' state restarts too (backstop)")
    retry_s: float = Field(10.0, gt=0, le=120, description="restart again if not connected after this")
    network_settle_s: float = Field(0.05, ge=0, le=5, description="network-change: wait this long "
                                    "after the first event of a burst, then restart once")

    @model_validator(mode="before")
    @classmethod
    def _expand_preset(cls, data: object) -> object:
        if isinstance(data, str):
            data = {"name": data, "preset": data}
        if isinstance(data, dict) and "preset" in data:
            data = dict(data)
            preset = data.pop("preset")
            if preset not in PRESETS:
                raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
            merged = dict(PRESETS[preset])
            merged.update(data)
            merged.setdefault("name", preset)
            data = merged
        return data


# ---------------------------------------------------------------- matrix, timeouts, spec


class MatrixSpec(_Strict):
    """Network conditions every policy is run under (the WAN links of both peers' routers)."""

    rtt_ms: list[float] = Field(default_factory=lambda: [0.0], min_length=1)
    loss_pct: list[float] = Field(default_factory=lambda: [0.0], min_length=1)
    peer_pairs: list[str] | None = Field(None, min_length=1, description=(
        '"<offerer kind>-<answerer kind>" pairs, e.g. "chromium-firefox": every pair runs every '
        "policy (the pair replaces peers.kind / offerer_kind / answerer_kind)"))

    @field_validator("peer_pairs")
    @classmethod
    def _pairs(cls, values: list[str] | None) -> list[str] | None:
        kinds = get_args(PeerKind)
        for v in values or []:
            parts = v.split("-")
            if len(parts) != 2 or any(part not in kinds for part in parts):
                raise ValueError(f"{v!r} is not <offerer kind>-<answerer kind> with kinds {', '.join(kinds)}")
        if values is not None and len(set(values)) != len(values):
            raise ValueError("peer pairs must be unique")
        return values

    def pairs(self) -> list[tuple[str, str] | None]:
        """The matrix's peer pairs, or [None]: the peers section decides."""
        if self.peer_pairs is None:
            return [None]
        return [(v.split("-")[0], v.split("-")[1]) for v in self.peer_pairs]

    @field_validator("rtt_ms")
    @classmethod
    def _rtt_range(cls, values: list[float]) -> list[float]:
        for v in values:
            if not 0 <= v <= 2000:
                raise ValueError(f"{v} is outside 0..2000 ms")
        return values

    @field_validator("loss_pct")
    @classmethod
    def _loss_range(cls, values: list[float]) -> list[float]:
        for v in values:
            if not 0 <= v < 100:
                raise ValueError(f"{v} is outside 0..<100 %")
        return values


class CaptureSpec(_Strict):
    """Packet captures (tcpdump) on topology hosts, kept in the trial's folder."""

    hosts: list[str] = Field(default_factory=list)
    filter: str = "udp"


class TimeoutsSpec(_Strict):
    connect_s: float = Field(20.0, gt=0, le=300, description="start -> media flowing both ways")
    recover_s: float = Field(30.0, gt=0, le=600, description="fault -> media resumed both ways")
    trial_s: float = Field(120.0, gt=0, le=3600, description="hard limit of one trial")
    observe_s: float = Field(2.0, ge=0, le=60, description="minimum observation after the fault")
    settle_s: float = Field(1.0, ge=0, le=60, description="steady media needed to call it recovered")


class ExperimentSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    topology: str = Field(description="topology file, relative to the experiment file or the repo")
    seed: int = 0
    repetitions: int = Field(1, ge=1, le=10000)
    peers: PeersSpec
    media: MediaSpec = MediaSpec()
    ice: IceSpec = IceSpec()
    signaling: SignalingSpec = SignalingSpec()
    fault: FaultSpec
    policies: list[PolicySpec] = Field(min_length=1)
    matrix: MatrixSpec = MatrixSpec()
    timeouts: TimeoutsSpec = TimeoutsSpec()
    capture: CaptureSpec = CaptureSpec()
    # Filled in by load_experiment: where the file was, the resolved topology file.
    source: str | None = None
    topology_path: str | None = None

    @model_validator(mode="after")
    def _unique_policies(self) -> ExperimentSpec:
        names = [p.name for p in self.policies]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"policy names must be unique; repeated: {', '.join(dupes)}")
        return self

    def spec_hash(self) -> str:
        """Stable hash of what the experiment does (not where its file lies)."""
        body = self.model_dump(mode="json", exclude={"source", "topology_path"})
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- loading


def _key_of(loc: tuple[object, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in FAULT_TYPES or str(item).startswith(("function-", "tagged-union")):
            continue  # pydantic's union branch names are not keys of the file
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "<top level>"


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def resolve_topology(topology: str, experiment_file: Path | None) -> Path | None:
    candidates = [Path(topology)]
    if experiment_file is not None and not Path(topology).is_absolute():
        candidates.insert(0, experiment_file.parent / topology)
        candidates.append(_repo_root() / topology)
    for c in candidates:
        if c.is_file():
            return c.resolve()
    return None


def parse_experiment(data: dict[str, object], file: str | Path | None = None,
                     check_topology: bool = True) -> ExperimentSpec:
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        reason = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            reason = "unknown key"
        elif first["type"] == "missing":
            reason = "required key is missing"
        elif first["type"] == "union_tag_invalid":
            reason = f"unknown fault type; known: {', '.join(FAULT_TYPES)}"
        elif first["type"] == "union_tag_not_found":
            reason = f"needs a 'type' (one of: {', '.join(FAULT_TYPES)})"
        raise ConfigError(file, _key_of(tuple(first["loc"])), reason) from None
    path = Path(file) if file is not None else None
    topo = resolve_topology(spec.topology, path)
    if topo is None and check_topology:
        raise ConfigError(file, "topology", f"topology file {spec.topology!r} not found")
    return spec.model_copy(update={
        "source": str(path.resolve()) if path else None,
        "topology_path": str(topo) if topo else None,
    })


def load_experiment(path: str | Path, check_topology: bool = True) -> ExperimentSpec:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(path, None, "experiment file not found")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, None, f"not valid TOML: {error}") from None
    return parse_experiment(data, path, check_topology=check_topology)
