"""The experiment file (experiments/*.toml): one pydantic schema, validated at the edge.

An experiment runs a call between two peers of a topology, breaks the network at a known
instant (the fault), and compares restart policies over a matrix of RTT and loss, with
repetitions. `load_experiment(path)` returns a validated `ExperimentSpec` or raises
ConfigError naming the file, the key and what was wrong.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from lab.configfile import from_validation, read_toml
from lab.contract import POLICY_PRESETS, Detection, Policy
from lab.contract.config import PeerKind
from lab.errors import ConfigError
from lab.experiment.faults import (
    BindingExpiry,
    Blackhole,
    FaultParams,
    Handover,
    LossBurst,
    NatReboot,
    RelayKill,
    SignalingOutage,
    TurnAllocationExpiry,
    parse_fault,
)
from lab.net.topology import Topology, load_topology
from lab.sfu.spec import SfuSpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- peers, media, ICE


class PeersSpec(_Strict):
    """Which topology hosts run the two peers, and which of them is polite."""

    offerer: str = Field(description="host that makes the first offer")
    answerer: str = Field(description="host that answers the first offer")
    polite: Literal["offerer", "answerer"] = "answerer"
    kind: PeerKind = Field("aiortc", description="peer implementation of both sides (unless set per side)")
    offerer_kind: PeerKind | None = Field(None, description="peer implementation of the offerer")
    answerer_kind: PeerKind | None = Field(None, description="peer implementation of the answerer")
    browser_state: Literal["fresh", "warm"] = Field(
        "warm", description="browser peers: warm (default, like a user's browser that has been running) "
        "have seen a network change well before the fault; fresh have seen none since they started "
        "(lab.experiment.browser_state)")

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


class IceSpec(Detection):
    """ICE settings of both peers: candidate types, relays, and failure detection (the
    consent_interval_s, disconnected_after_s and failed_after_s of lab.contract's Detection)."""

    transport: Literal["all", "relay"] = "all"
    turn: bool = Field(False, description="give the peers the topology's TURN relay(s)")


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

# A fault's keys are its registered class's Params (lab.experiment.faults): the [fault] table
# accepts every registered type. The names below keep the built-in ones importable from here.
HandoverFault = Handover.Params
BindingExpiryFault = BindingExpiry.Params
NatRebootFault = NatReboot.Params
RelayKillFault = RelayKill.Params
BlackholeFault = Blackhole.Params
LossBurstFault = LossBurst.Params
SignalingOutageFault = SignalingOutage.Params
TurnAllocationExpiryFault = TurnAllocationExpiry.Params


# ---------------------------------------------------------------- policies

# A policy is part of the agent contract (lab.contract.policy); the experiment names them.
PolicySpec = Policy
PRESETS = POLICY_PRESETS


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


# what a leg through the SFU does when its policy fires: an ICE restart of that leg
SFU_ACTIONS = ("restart-ice", "ice-restart-offer")


class ExperimentSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str = ""
    topology: str = Field(description="topology file, relative to the experiment file or the repo "
                          "(in Python also a lab.net Topology object)")
    seed: int = 0
    repetitions: int = Field(1, ge=1, le=10000)
    peers: PeersSpec
    media: MediaSpec = MediaSpec()
    ice: IceSpec = IceSpec()
    signaling: SignalingSpec = SignalingSpec()
    fault: SerializeAsAny[FaultParams]
    policies: list[PolicySpec] = Field(min_length=1)
    matrix: MatrixSpec = MatrixSpec()
    timeouts: TimeoutsSpec = TimeoutsSpec()
    capture: CaptureSpec = CaptureSpec()
    sfu: SfuSpec | None = Field(None, description="the call goes through a Janus SFU (lab.sfu): the offerer "
                                "publishes, the answerer subscribes")
    # Filled in by load_experiment: where the file was, the resolved topology file.
    source: str | None = None
    topology_path: str | None = None
    _topology: Topology | None = PrivateAttr(None)  # a topology given as a Python object

    @model_validator(mode="wrap")
    @classmethod
    def _topology_object(cls, data: object, handler: ModelWrapValidatorHandler[ExperimentSpec]) -> ExperimentSpec:
        topology = data.get("topology") if isinstance(data, dict) else None
        if isinstance(topology, Topology):
            data = {**data, "topology": f"<python:{topology.name}>"}  # type: ignore[dict-item]
        elif isinstance(topology, Path):
            data = {**data, "topology": str(topology)}  # type: ignore[dict-item]
        spec = handler(data)
        if isinstance(topology, Topology):
            spec._topology = topology
        return spec

    def load_topology(self) -> Topology:
        """The experiment's topology: the Python object it was given, or its file, loaded."""
        if self._topology is not None:
            return self._topology
        return load_topology(self.topology_path or self.topology)

    def topology_data(self) -> dict[str, object]:
        """The topology as data (what a run folder keeps of a topology made in Python)."""
        return self.load_topology().to_dict()

    @field_validator("fault", mode="wrap")
    @classmethod
    def _registered_fault(cls, value: object, handler: ValidatorFunctionWrapHandler) -> FaultParams:
        fault = parse_fault(value)  # the registered type's Params (its errors carry their keys)
        return handler(fault)  # type: ignore[no-any-return]

    @field_validator("sfu")
    @classmethod
    def _sfu_call(cls, sfu: SfuSpec | None, info: ValidationInfo) -> SfuSpec | None:
        """Through the SFU the offerer publishes and the answerer subscribes."""
        media = info.data.get("media")
        if sfu is not None and media is not None and media.direction != "offerer-to-answerer":
            raise ValueError('through the SFU, media flows from the publisher (offerer) to the subscriber '
                             '(answerer): set media.direction = "offerer-to-answerer"')
        other = [p.name for p in info.data.get("policies") or [] if p.action not in SFU_ACTIONS]
        if sfu is not None and "sfu" in sfu.paths and other:
            raise ValueError(f"through the SFU a leg restarts by an ICE restart only (actions "
                             f"{', '.join(SFU_ACTIONS)}); not policies {', '.join(other)}")
        return sfu

    def paths(self) -> list[str]:
        """The call paths every cell runs: "p2p", or the [sfu] block's paths."""
        return list(self.sfu.paths) if self.sfu is not None else ["p2p"]

    @field_validator("policies")
    @classmethod
    def _unique_policies(cls, policies: list[PolicySpec]) -> list[PolicySpec]:
        names = [p.name for p in policies]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"policy names must be unique; repeated: {', '.join(dupes)}")
        return policies

    def spec_hash(self) -> str:
        """Stable hash of what the experiment does (not where its file lies)."""
        body: dict[str, object] = self.model_dump(mode="json", exclude={"source", "topology_path"})
        if self._topology is not None:
            body["topology"] = self.topology_data()
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- loading


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
        raise from_validation(error, file) from None
    path = Path(file) if file is not None else None
    if spec._topology is not None:
        return spec.model_copy(update={"source": str(path.resolve()) if path else None})
    topo = resolve_topology(spec.topology, path)
    if topo is None and check_topology:
        raise ConfigError(file, "topology", f"topology file {spec.topology!r} not found")
    return spec.model_copy(update={
        "source": str(path.resolve()) if path else None,
        "topology_path": str(topo) if topo else None,
    })


def load_experiment(path: str | Path, check_topology: bool = True) -> ExperimentSpec:
    """The validated experiment of a file (lab.experiment.check checks it against its topology)."""
    path = Path(path)
    return parse_experiment(read_toml(path), path, check_topology=check_topology)


class Experiment(ExperimentSpec):
    """An experiment written in Python; `topology` may be a lab.net Topology or a file's path.

        Experiment(name="blackhole", topology=topo, peers={"offerer": "alice", "answerer": "bob"},
                   fault=Blackhole.Params(type="blackhole", node="nat_a", iface="wan"),
                   policies=["on-disconnected"])

    Bad input raises ConfigError naming the key, as in a file. A relative topology path is taken
    from the current directory, then from the repository.
    """

    def __init__(self, **data: Any) -> None:
        topology = data.get("topology")
        if isinstance(topology, (str, Path)) and data.get("topology_path") is None:
            found = resolve_topology(str(topology), None) or resolve_topology(str(topology), _repo_root() / "x")
            if found is None:
                raise ConfigError(None, "topology", f"topology file {str(topology)!r} not found")
            data["topology_path"] = str(found)
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise from_validation(error, None) from None

    @classmethod
    def load(cls, path: str | Path) -> ExperimentSpec:
        """An experiment file (the same as load_experiment)."""
        return load_experiment(path)
