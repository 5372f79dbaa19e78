"""The fault registry: one class per fault type holds both its parameters (`Params`, a pydantic
model with a `type` literal) and its behaviour (check, prepare, inject, lift).

Defining a subclass of `Fault` with a `Params` class registers it; the experiment schema
accepts every registered type under [fault]. Adding a fault is one module (see the others in
this package, or examples/custom_fault.py).

A fault may prepare the network before the agents start (a cold handover starts with the new
interface down), is injected at its instant, may have later steps (`fault_step`) and an end
(`fault_end`). The `fault` event (t_fault) is the break, the instant connectivity is removed: it
is stamped on the network thread right after the kernel call that removes it returns, and
carries that call's own duration (`call_ms`); steps are stamped the same way. For a
make-before-break handover the break is the old interface going down, after the overlap.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any, ClassVar, Literal, Protocol, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field

from lab.contract import Command
from lab.errors import ConfigError


class FaultParams(BaseModel):
    """The [fault] table of an experiment; each fault's Params adds its own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    at_s: float = Field(5.0, ge=0, le=600, description="seconds after media flows both ways")


class FaultContext(Protocol):
    @property
    def net(self) -> Any:
        """The running lab.net Network (at check time: the topology's plan)."""
        ...

    @property
    def relays(self) -> dict[str, Any]:
        """Relay host -> lab.turn Relay."""
        ...

    def record(self, kind: str, **fields: Any) -> None: ...

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking lab.net / lab.turn call on the trial's network thread."""
        ...

    def broadcast(self, command: Command) -> None: ...

    def link_shaping(self, node: str, iface: str) -> dict[str, float]: ...

    def signaling_host(self) -> str: ...


FAULTS: dict[str, type[Fault]] = {}


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """Run fn (on the network thread); its result and the monotonic instants around it."""
    t0 = time.monotonic()
    result = fn(*args, **kwargs)
    return result, t0, time.monotonic()


class Fault:
    """Base: a fault with no preparation and a single instant."""

    Params: ClassVar[type[FaultParams]]
    spec: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        params = cls.__dict__.get("Params")
        if params is None:
            return
        annotation = params.model_fields["type"].annotation
        if get_origin(annotation) is not Literal or len(get_args(annotation)) != 1:
            raise TypeError(f"{cls.__name__}.Params.type must be one Literal (the fault's name), "
                            "resolvable where Params is defined (import Literal at module level)")
        name = str(get_args(annotation)[0])
        if name in FAULTS and FAULTS[name] is not cls:
            raise TypeError(f"fault type {name!r} is already registered by {FAULTS[name].__name__}")
        FAULTS[name] = cls

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.t_break = math.nan  # the `fault` event's instant, once injected

    @property
    def params(self) -> dict[str, Any]:
        return self.spec.model_dump(mode="json", exclude={"type", "at_s"})

    def check(self, ctx: FaultContext) -> None:
        """Fail early (before anything is created) if the spec names what the topology lacks;
        ctx.net answers node() and iface(), ctx.relays holds the relay hosts."""

    async def prepare(self, ctx: FaultContext) -> None:
        """Called after the topology is up, before the agents start."""

    async def inject(self, ctx: FaultContext) -> None:
        raise NotImplementedError

    def lift(self, ctx: FaultContext) -> None:
        """Undo what is still in force (called on the network thread in finally)."""

    def _begin(self, ctx: FaultContext) -> None:
        """The break is not a kernel call (a command to the peers): stamped now."""
        self.t_break = time.monotonic()
        ctx.record("fault", t=self.t_break, call_ms=None, type=self.spec.type, **self.params)

    async def _break(self, ctx: FaultContext, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Make the call that removes connectivity; record `fault` at its start, with its duration."""
        result, t0, t1 = await ctx.call(timed, fn, *args, **kwargs)
        self._record_break(ctx, t0, t1)
        return result

    def _record_break(self, ctx: FaultContext, t0: float, t1: float, **extra: Any) -> None:
        # The kernel removes connectivity somewhere inside [t0, t1], and a peer may react (a
        # netlink event, a socket error) before the orchestrator's thread sees the call return:
        # the break is stamped at the call's start, the earliest instant it can have happened, so
        # no reaction precedes it; figures counted from it include at most `call_ms` of the call.
        self.t_break = t0
        ctx.record("fault", t=t0, call_ms=(t1 - t0) * 1000.0, type=self.spec.type, **self.params, **extra)

    @staticmethod
    async def _step(ctx: FaultContext, kind: str, step: str, fn: Callable[..., Any], *args: Any,
                    **kwargs: Any) -> Any:
        """A later step (fault_step / fault_end), stamped at the return of its call."""
        result, t0, t1 = await ctx.call(timed, fn, *args, **kwargs)
        ctx.record(kind, t=t1, call_ms=(t1 - t0) * 1000.0, step=step)
        return result


def need_node(ctx: FaultContext, node: str, key: str, iface: str | None = None) -> None:
    try:
        ctx.net.node(node)
        if iface is not None:
            ctx.net.iface(node, iface)
    except Exception as error:
        raise ConfigError(None, f"fault.{key}", str(error)) from None


def need_relay(ctx: FaultContext, relay: str) -> None:
    if relay not in ctx.relays:
        raise ConfigError(None, "fault.relay", f"no relay on host {relay!r} "
                          f"(relays: {', '.join(ctx.relays) or 'none'})")


def fault_types() -> tuple[str, ...]:
    return tuple(FAULTS)


def parse_fault(data: object) -> FaultParams:
    """The registered fault's Params for one [fault] table (pydantic errors carry its keys)."""
    if isinstance(data, FaultParams):
        return data
    if not isinstance(data, dict) or "type" not in data:
        raise ValueError(f"needs a 'type' (one of: {', '.join(FAULTS)})")
    cls = FAULTS.get(str(data["type"]))
    if cls is None:
        raise ValueError(f"unknown fault type {data['type']!r}; known: {', '.join(FAULTS)}")
    return cls.Params.model_validate(data)


def make_fault(spec: FaultParams) -> Fault:
    return FAULTS[spec.type](spec)
