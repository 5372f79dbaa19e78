"""Faults as timed, first-class events: each maps one spec onto lab.net / lab.turn calls.

A fault may prepare the network before the agents start (a cold handover starts with the new
interface down), is injected at its instant, may have later steps (`fault_step`) and an end
(`fault_end`). The `fault` event (t_fault) is the break, the instant connectivity is removed: it
is stamped on the network thread right after the kernel call that removes it returns, and
carries that call's own duration (`call_ms`); steps are stamped the same way. For a
make-before-break handover the break is the old interface going down, after the overlap.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

from lab.errors import ConfigError
from lab.experiment.spec import (
    BindingExpiryFault,
    BlackholeFault,
    HandoverFault,
    LossBurstFault,
    NatRebootFault,
    RelayKillFault,
    SignalingOutageFault,
    TurnAllocationExpiryFault,
)

Record = Callable[..., None]


class FaultContext(Protocol):
    net: Any
    relays: dict[str, Any]

    def record(self, kind: str, **fields: Any) -> None: ...

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a blocking lab.net / lab.turn call on the trial's network thread."""
        ...

    def broadcast(self, command: dict[str, Any]) -> None: ...

    def link_shaping(self, node: str, iface: str) -> dict[str, float]: ...

    def signaling_host(self) -> str: ...


def _timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float, float]:
    """Run fn (on the network thread); its result and the monotonic instants around it."""
    t0 = time.monotonic()
    result = fn(*args, **kwargs)
    return result, t0, time.monotonic()


class Fault:
    """Base: a fault with no preparation and a single instant."""

    spec: Any

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.t_break = math.nan  # the `fault` event's instant, once injected

    @property
    def params(self) -> dict[str, Any]:
        return self.spec.model_dump(mode="json", exclude={"type", "at_s"})

    def check(self, ctx: FaultContext) -> None:
        """Fail early (before the call starts) if the spec names what the topology lacks."""

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
        """Make the call that removes connectivity; record `fault` at its return, with its duration."""
        result, t0, t1 = await ctx.call(_timed, fn, *args, **kwargs)
        self._record_break(ctx, t0, t1)
        return result

    def _record_break(self, ctx: FaultContext, t0: float, t1: float, **extra: Any) -> None:
        self.t_break = t1
        ctx.record("fault", t=t1, call_ms=(t1 - t0) * 1000.0, type=self.spec.type, **self.params, **extra)

    @staticmethod
    async def _step(ctx: FaultContext, kind: str, step: str, fn: Callable[..., Any], *args: Any,
                    **kwargs: Any) -> Any:
        """A later step (fault_step / fault_end), stamped at the return of its call."""
        result, t0, t1 = await ctx.call(_timed, fn, *args, **kwargs)
        ctx.record(kind, t=t1, call_ms=(t1 - t0) * 1000.0, step=step)
        return result


def _need_node(ctx: FaultContext, node: str, key: str, iface: str | None = None) -> None:
    try:
        ctx.net.node(node)
        if iface is not None:
            ctx.net.iface(node, iface)
    except Exception as error:
        raise ConfigError(None, f"fault.{key}", str(error)) from None


class Handover(Fault):
    """Wi-Fi -> LTE in one of the variants of spec.HandoverFault (what each models is said there)."""

    spec: HandoverFault

    def check(self, ctx: FaultContext) -> None:
        _need_node(ctx, self.spec.host, "host", self.spec.from_iface)
        _need_node(ctx, self.spec.host, "to_iface", self.spec.to_iface)

    async def prepare(self, ctx: FaultContext) -> None:
        self.check(ctx)  # prepare runs first, right after the topology is up
        s, impair = self.spec, ctx.net.impair
        if s.variant == "standby":
            # LTE up with its address; the default route prefers Wi-Fi (LTE's is the worse one)
            await ctx.call(impair.link_up, s.host, s.to_iface)
        else:
            # LTE down and without an address: ICE gathers no LTE candidate before the fault
            await ctx.call(impair.link_down, s.host, s.to_iface)
        await ctx.call(impair.set_default_route, s.host, s.from_iface)

    async def inject(self, ctx: FaultContext) -> None:
        s, impair = self.spec, ctx.net.impair
        if s.variant == "overlap":
            await self._step(ctx, "fault_step", "target up, default route moved (make)", self._make, ctx)
            await asyncio.sleep(s.overlap_s)
        # the break: Wi-Fi loses link and address (its routes and source rules go with them). The
        # instant is the return of the netlink call that set the link down, not of the clean-up.
        link, t0, t1 = await ctx.call(_timed, impair.link_down, s.host, s.from_iface)
        if isinstance(link, tuple):
            self._record_break(ctx, *link, cleanup_ms=(t1 - link[1]) * 1000.0)
        else:
            self._record_break(ctx, t0, t1)
        if s.variant == "standby":
            await self._step(ctx, "fault_step", "default route moved", impair.set_default_route, s.host, s.to_iface)
        elif s.variant in ("cold", "gap"):
            if s.variant == "gap":
                await asyncio.sleep(s.gap_s)
            await self._step(ctx, "fault_step", "target up, default route moved", self._make, ctx)

    def _make(self, ctx: FaultContext) -> None:
        ctx.net.impair.link_up(self.spec.host, self.spec.to_iface)
        ctx.net.impair.set_default_route(self.spec.host, self.spec.to_iface)


class BindingExpiry(Fault):
    spec: BindingExpiryFault

    def check(self, ctx: FaultContext) -> None:
        _need_node(ctx, self.spec.router, "router")

    async def inject(self, ctx: FaultContext) -> None:
        await self._break(ctx, ctx.net.impair.flush_bindings, self.spec.router, self.spec.host)


class NatReboot(Fault):
    spec: NatRebootFault

    def check(self, ctx: FaultContext) -> None:
        _need_node(ctx, self.spec.router, "router")

    async def inject(self, ctx: FaultContext) -> None:
        new_address = await self._break(ctx, ctx.net.impair.nat_reboot, self.spec.router)
        ctx.record("fault_step", step="new public address", address=new_address)


class RelayKill(Fault):
    spec: RelayKillFault

    def check(self, ctx: FaultContext) -> None:
        if self.spec.relay not in ctx.relays:
            raise ConfigError(None, "fault.relay", f"no relay on host {self.spec.relay!r} "
                              f"(relays: {', '.join(ctx.relays) or 'none'})")

    async def inject(self, ctx: FaultContext) -> None:
        relay = ctx.relays[self.spec.relay]
        await self._break(ctx, relay.kill)
        if self.spec.restart_after_s is not None:
            await asyncio.sleep(self.spec.restart_after_s)
            await self._step(ctx, "fault_end", "relay restarted (allocations lost)", relay.start)


class Blackhole(Fault):
    spec: BlackholeFault

    def check(self, ctx: FaultContext) -> None:
        _need_node(ctx, self.spec.node, "node", self.spec.iface)

    async def inject(self, ctx: FaultContext) -> None:
        s = self.spec
        # the kernel lifts it (nft element timeout), on time even if the orchestrator stalls
        await self._break(ctx, ctx.net.impair.blackhole, s.node, s.iface, udp_only=s.udp_only, duration=s.duration_s)
        await asyncio.sleep(s.duration_s)
        ctx.record("fault_end", step="blackhole lifted (element timeout)")

    def lift(self, ctx: FaultContext) -> None:
        ctx.net.impair.unblackhole(self.spec.node, self.spec.iface)


class LossBurst(Fault):
    spec: LossBurstFault

    def check(self, ctx: FaultContext) -> None:
        _need_node(ctx, self.spec.node, "node", self.spec.iface)

    async def inject(self, ctx: FaultContext) -> None:
        s = self.spec
        base = ctx.link_shaping(s.node, s.iface)
        await self._break(ctx, ctx.net.impair.shape, s.node, s.iface, delay_ms=base.get("delay_ms", 0.0),
                          loss_pct=max(s.loss_pct, base.get("loss_pct", 0.0)))
        await asyncio.sleep(s.duration_s)
        await ctx.call(self._restore, ctx, base)
        ctx.record("fault_end", step="loss burst over")

    def _restore(self, ctx: FaultContext, base: dict[str, float]) -> None:
        s = self.spec
        if base.get("delay_ms", 0.0) or base.get("loss_pct", 0.0):
            ctx.net.impair.shape(s.node, s.iface, **base)
        else:
            ctx.net.impair.clear_shaping(s.node, s.iface)


class SignalingOutage(Fault):
    spec: SignalingOutageFault

    async def inject(self, ctx: FaultContext) -> None:
        s = self.spec
        if s.mode == "client":
            self._begin(ctx)
            ctx.broadcast({"cmd": "signaling_outage", "duration_s": s.duration_s})
        else:
            host = ctx.signaling_host()
            iface = ctx.net.iface(host).name
            await self._break(ctx, ctx.net.impair.blackhole, host, iface, duration=s.duration_s)
        await asyncio.sleep(s.duration_s)
        ctx.record("fault_end", step="signaling back")

    def lift(self, ctx: FaultContext) -> None:
        if self.spec.mode == "network":
            host = ctx.signaling_host()
            ctx.net.impair.unblackhole(host, ctx.net.iface(host).name)


class TurnAllocationExpiry(Fault):
    spec: TurnAllocationExpiryFault

    check = RelayKill.check  # type: ignore[assignment]

    async def inject(self, ctx: FaultContext) -> None:
        relay = ctx.relays[self.spec.relay]
        # a new relay process: every allocation is gone, the relay answers again at once. The
        # break is the old process's death, not the new one's readiness
        await self._break(ctx, relay.kill)
        await self._step(ctx, "fault_end", "relay answering again, no allocation", relay.start)


FAULTS: dict[str, type[Fault]] = {
    "handover": Handover,
    "binding_expiry": BindingExpiry,
    "nat_reboot": NatReboot,
    "relay_kill": RelayKill,
    "blackhole": Blackhole,
    "loss_burst": LossBurst,
    "signaling_outage": SignalingOutage,
    "turn_allocation_expiry": TurnAllocationExpiry,
}


def make_fault(spec: Any) -> Fault:
    return FAULTS[spec.type](spec)
