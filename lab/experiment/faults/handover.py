"""A host moves from one uplink (Wi-Fi) to another (LTE): standby, cold, gap or overlap."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field, model_validator

from lab.experiment.faults.base import Fault, FaultContext, FaultParams, need_node, timed

HandoverVariant = Literal["standby", "cold", "gap", "overlap"]


class Handover(Fault):
    """Wi-Fi -> LTE in one of the variants of Handover.Params (what each models is said there)."""

    class Params(FaultParams):
        """A phone moves from one uplink (Wi-Fi) to another (LTE). The variant says how:

        standby (default): what phones do. LTE is up, with its address and a worse default route,
            before the call; at the fault Wi-Fi loses link and address and the default route moves
            to LTE (a phone walking out of Wi-Fi range with mobile data on).
        cold: LTE is down before the call and comes up at the fault, right after Wi-Fi goes down
            (a device whose second uplink is only brought up once the first is lost: a laptop
            tethering on demand; mobile data switched on after Wi-Fi died).
        gap: like cold, but nothing is up for gap_s between the break and LTE coming up (a lift or
            tunnel: out of Wi-Fi range before the cellular radio has attached).
        overlap: make-before-break. LTE comes up and takes the default route, Wi-Fi stays up for
            overlap_s, then loses link and address (Wi-Fi Assist / adaptive Wi-Fi switching to
            cellular while Wi-Fi fades).
        The fault instant (`fault` event, t_fault) is the break: the source interface going down.
        Setting gap_s or overlap_s alone selects that variant.
        """

        type: Literal["handover"]
        host: str
        from_iface: str = "wlan0"
        to_iface: str = "wwan0"
        variant: HandoverVariant = "standby"
        gap_s: float = Field(0.0, ge=0, le=60, description="gap: break, then the target comes up this much later")
        overlap_s: float = Field(0.0, ge=0, le=60, description="overlap: both uplinks up this long before the break")

        @model_validator(mode="before")
        @classmethod
        def _variant_from_durations(cls, data: object) -> object:
            if isinstance(data, dict) and "variant" not in data:
                if data.get("overlap_s"):
                    data = {**data, "variant": "overlap"}
                elif data.get("gap_s"):
                    data = {**data, "variant": "gap"}
            return data

        @model_validator(mode="after")
        def _durations_fit_the_variant(self) -> Handover.Params:
            if self.from_iface == self.to_iface:
                raise ValueError("from_iface and to_iface must be different interfaces")
            if self.variant == "gap" and self.gap_s <= 0:
                raise ValueError("variant 'gap' needs gap_s > 0")
            if self.variant == "overlap" and self.overlap_s <= 0:
                raise ValueError("variant 'overlap' needs overlap_s > 0")
            if self.gap_s > 0 and self.variant != "gap":
                raise ValueError(f"gap_s applies to variant 'gap' only, not {self.variant!r}")
            if self.overlap_s > 0 and self.variant != "overlap":
                raise ValueError(f"overlap_s applies to variant 'overlap' only, not {self.variant!r}")
            return self

    spec: Params

    def check(self, ctx: FaultContext) -> None:
        need_node(ctx, self.spec.host, "host", self.spec.from_iface)
        need_node(ctx, self.spec.host, "to_iface", self.spec.to_iface)

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
        # instant is the start of the netlink call that sets the link down (Fault._record_break);
        # the clean-up after it is timed apart (cleanup_ms).
        link, t0, t1 = await ctx.call(timed, impair.link_down, s.host, s.from_iface)
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
