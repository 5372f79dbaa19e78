"""Commands the orchestrator sends a peer agent over its control pipe (one JSON line each).

On the wire a command is `{"cmd": <kind>, ...}`; in Python it is one of the classes below, told
apart by its `kind` literal. Every agent kind (aiortc, the browser page) understands them all.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class Start(_Command):
    """Begin the call (an agent started with wait_for_start waits for it)."""

    kind: Literal["start"] = Field("start", validation_alias="cmd", serialization_alias="cmd")


class Stop(_Command):
    """Close the call and exit."""

    kind: Literal["stop"] = Field("stop", validation_alias="cmd", serialization_alias="cmd")
    reason: str | None = None


class Signal(_Command):
    """A signaling message of the other peer (the 'control' signaling path)."""

    kind: Literal["signal"] = Field("signal", validation_alias="cmd", serialization_alias="cmd")
    msg: Any = None


class SignalingOutage(_Command):
    """The peer's signaling client drops its link for duration_s."""

    kind: Literal["signaling_outage"] = Field("signaling_outage", validation_alias="cmd", serialization_alias="cmd")
    duration_s: float


class Restart(_Command):
    """Perform the policy's restart action now."""

    kind: Literal["restart"] = Field("restart", validation_alias="cmd", serialization_alias="cmd")
    reason: str = "orchestrator"


class Ping(_Command):
    """Answered by a `pong` event (clock and liveness checks)."""

    kind: Literal["ping"] = Field("ping", validation_alias="cmd", serialization_alias="cmd")
    t: float | None = None


class NetworkChange(_Command):
    """The host's network changed (sent by a browser agent to its page, as an app's OS tells it):
    `policy` feeds the page's on-network-change policy; `signaling` re-opens its signaling
    socket now (the route to the server no longer leaves from the address it was opened from);
    `settled`: the event left the host's new default route and its address in place, so the
    policy restarts without its settle wait (lab.runtime.agent.netwatch, as the aiortc agent)."""

    kind: Literal["network_change"] = Field("network_change", validation_alias="cmd", serialization_alias="cmd")
    policy: bool = True
    signaling: bool = False
    settled: bool = False


Command = Annotated[Union[Start, Stop, Signal, SignalingOutage, Restart, Ping, NetworkChange],
                    Field(discriminator="kind")]
_COMMAND: TypeAdapter[Command] = TypeAdapter(Command)


def parse_command(wire: object) -> Command:
    """A command from its wire form; ValueError (pydantic's ValidationError) if it is none."""
    return _COMMAND.validate_python(wire)
