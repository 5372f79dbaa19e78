"""Faults as timed, first-class events: each maps one spec onto lab.net / lab.turn calls.

A fault may prepare the network before the agents start (a handover starts with the new
interface down), is injected at its instant (recorded as the `fault` event, stamped just before
the first impairment call), may have later steps (`fault_step`) and an end (`fault_end`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

from lab.contract import Command
from lab.contract import SignalingOutage as SignalingOutageCommand
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

    def broadcast(self, command: Command) -> None: ...

    def link_shaping(self, node: str, iface: str) -> dict[str, float]: ...

    def signaling_host(self) -> str: ...


class Fault:
    """Base: a fault with no preparation and a single instant."""

    spec: Any

    def __init__(self, spec: Any) -> None:
        self.spec = spec

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
        ctx.record("fault", type=self.spec.type, **self.params)


def _need_node(ctx: FaultContext, node: str, key: str, iface: str | None = None) -> None:
    try:
        ctx.net.node(node)
        if iface is not None:
            ctx.net.iface(node, iface)
    except Exception as error:
        raise ConfigError(None, f"fault.{key}", str(error)) from None


class Handover(Fault):
    spec: HandoverFault

    def check(self, ctx: FaultContext) -> None:
        _need_node(ctx, self.spec.host, "host", self.spec.from_iface)
        _need_node(ctx, self.spec.host, "to_iface", self.spec.to_iface)

    async def prepare(self, ctx: FaultContext) -> None:
        # the phone starts on Wi-Fi only: LTE is down, so ICE gathers no LTE candidate
        await ctx.call(ctx.net.impair.link_down, self.spec.host, self.spec.to_iface)
        await ctx.call(ctx.net.impair.set_default_route, self.spec.host, self.spec.from_iface)

    async def inject(self, ctx: FaultContext) -> None:
        s, impair = self.spec, ctx.net.impair
        self._begin(ctx)
        if s.overlap_s <= 0:
            await ctx.call(impair.link_down, s.host, s.from_iface)
            await ctx.call(impair.link_up, s.host, s.to_iface)
            await ctx.call(impair.set_default_route, s.host, s.to_iface)
            return
        await ctx.call(impair.link_up, s.host, s.to_iface)
        await ctx.call(impair.set_default_route, s.host, s.to_iface)
        await asyncio.sleep(s.overlap_s)
        ctx.record("fault_step", step="old interface down", iface=s.from_iface)
        await ctx.call(impair.link_down, s.host, s.from_iface)


class BindingExpiry(Fault):
    spec: BindingExpiryFault

    def check(self, ctx: FaultContext) -> None:
        _need_node(ctx, self.spec.router, "router")

    async def inject(self, ctx: FaultContext) -> None:
        self._begin(ctx)
        await ctx.call(ctx.net.impair.flush_bindings, self.spec.router, self.spec.host)


class NatReboot(Fault):
    spec: NatRebootFault

    def check(self, ctx: FaultContext) -> None:
        _need_node(ctx, self.spec.router, "router")

    async def inject(self, ctx: FaultContext) -> None:
        self._begin(ctx)
        new_address = await ctx.call(ctx.net.impair.nat_reboot, self.spec.router)
        ctx.record("fault_step", step="new public address", address=new_address)


class RelayKill(Fault):
    spec: RelayKillFault

    def check(self, ctx: FaultContext) -> None:
        if self.spec.relay not in ctx.relays:
            raise ConfigError(None, "fault.relay", f"no relay on host {self.spec.relay!r} "
                              f"(relays: {', '.join(ctx.relays) or 'none'})")

    async def inject(self, ctx: FaultContext) -> None:
        relay = ctx.relays[self.spec.relay]
        self._begin(ctx)
        await ctx.call(relay.kill)
        if self.spec.restart_after_s is not None:
            await asyncio.sleep(self.spec.restart_after_s)
            await ctx.call(relay.start)
            ctx.record("fault_end", step="relay restarted (allocations lost)")


class Blackhole(Fault):
    spec: BlackholeFault

    def check(self, ctx: FaultContext) -> None:
        _need_node(ctx, self.spec.node, "node", self.spec.iface)

    async def inject(self, ctx: FaultContext) -> None:
        s = self.spec
        self._begin(ctx)
        # the kernel lifts it (nft element timeout), on time even if the orchestrator stalls
        await ctx.call(ctx.net.impair.blackhole, s.node, s.iface, udp_only=s.udp_only, duration=s.duration_s)
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
        self._begin(ctx)
        await ctx.call(ctx.net.impair.shape, s.node, s.iface, delay_ms=base.get("delay_ms", 0.0),
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
            ctx.broadcast(SignalingOutageCommand(duration_s=s.duration_s))
        else:
            host = ctx.signaling_host()
            iface = ctx.net.iface(host).name
            self._begin(ctx)
            await ctx.call(ctx.net.impair.blackhole, host, iface, duration=s.duration_s)
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
        self._begin(ctx)
        # a new relay process: every allocation is gone, the relay answers again at once
        await ctx.call(relay.restart)
        ctx.record("fault_end", step="relay answering again, no allocation")


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
