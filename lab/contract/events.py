"""Events a peer agent reports (one JSON line each on its stdout): `{"t": ..., "kind": ..., ...}`.

`t` is time.monotonic() of the agent's machine (browser agents convert their page's clock).
The events the orchestrator acts on have their own classes; every other kind is an
`OtherEvent` whose fields are kept as they came.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal, Protocol, TypeGuard, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

EventKind = Literal[
    "agent_loaded", "agent_ready", "agent_exit", "error", "signal",
    "media_tx", "media_rx", "media_stats",
    "restart", "pc_replaced", "negotiation", "offer_sent", "answer_sent", "offer_received", "answer_received",
    "candidate_sent", "signaling_state", "gathering_state", "ice_state", "connection_state", "selected_pair",
    "stats_pair", "pair_rx", "pair_tx", "dtls_state", "network_change", "browser_network", "signaling_channel", "signaling_outage",
    "signaling_reconnect", "clock_sync", "browser_ready", "pong",
    "sfu_session", "sfu_event", "sfu_restart_refused",
]
EVENT_KINDS: frozenset[str] = frozenset(get_args(EventKind))


def is_event_kind(kind: object) -> TypeGuard[EventKind]:
    """True for a kind of the contract (a page's event is checked by it before it is relayed)."""
    return isinstance(kind, str) and kind in EVENT_KINDS


def event_line(kind: EventKind, t: float, fields: Mapping[str, Any]) -> bytes:
    """The wire form of one event: `{"t":...,"kind":...,...}` and a newline, compact JSON.

    A kind the contract does not name is refused (ValueError), so a misspelt kind fails where it
    is written: mypy reads the `EventKind` literal, and this check holds for strings made at run time.
    """
    if not is_event_kind(kind):
        raise ValueError(f"{kind!r} is no event kind of lab.contract.events.EventKind")
    record = {"t": t, "kind": kind, **fields}
    return (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()


class Emit(Protocol):
    """How an agent reports an event: a contract kind, its time (now if None) and its fields."""

    def __call__(self, kind: EventKind, t: float | None = None, **fields: Any) -> None: ...


class AgentEvent(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    t: float
    kind: str

    def fields(self) -> dict[str, Any]:
        return self.model_dump()


class MediaRxEvent(AgentEvent):
    """One media unit (RTP packet) arrived at the receiver."""

    kind: Literal["media_rx"]


class RestartEvent(AgentEvent):
    """The peer began a restart (its policy fired, or a remote full reconnect)."""

    kind: Literal["restart"]


class ConnectionStateEvent(AgentEvent):
    kind: Literal["connection_state"]
    state: str


class SelectedPairEvent(AgentEvent):
    """A candidate pair was selected: the first one, or a restart's cut-over."""

    kind: Literal["selected_pair"]


class ErrorEvent(AgentEvent):
    kind: Literal["error"]
    message: str = ""
    fatal: bool = False


class SignalEvent(AgentEvent):
    """A signaling message for the other peer (the 'control' signaling path)."""

    kind: Literal["signal"]
    msg: Any = None


class OtherEvent(AgentEvent):
    """Any other kind: recorded, not acted on."""


_TYPED: dict[str, type[AgentEvent]] = {
    "media_rx": MediaRxEvent, "restart": RestartEvent, "connection_state": ConnectionStateEvent,
    "selected_pair": SelectedPairEvent, "error": ErrorEvent, "signal": SignalEvent,
}


def parse_event(record: dict[str, Any]) -> AgentEvent:
    """The typed event of one agent line; ValueError if it has no numeric t or no kind."""
    cls = _TYPED.get(str(record.get("kind")), OtherEvent)
    try:
        return cls.model_validate(record)
    except ValidationError as error:
        raise ValueError(f"not an agent event: {error.errors()[0]['msg']}") from None
