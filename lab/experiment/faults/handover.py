"""Wi-Fi -> LTE handover of a host: break-before-make, or make-before-break with an overlap."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field

from lab.experiment.faults.base import Fault, FaultContext, FaultParams, need_node


class Handover(Fault):
    class Params(FaultParams):
        """Wi-Fi -> LTE: break-before-make (overlap_s = 0) or make-before-break (both up for overlap_s)."""

        type: Literal["handover"]
        host: str
        from_iface: str = "wifi"
        to_iface: str = "lte"
        overlap_s: float = Field(0.0, ge=0, le=60)

    spec: Params

    def check(self, ctx: FaultContext) -> None:
        need_node(ctx, self.spec.host, "host", self.spec.from_iface)
        need_node(ctx, self.spec.host, "to_iface", self.spec.to_iface)

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
