"""Random loss on one link for a while (on top of the trial's shaping)."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field

from lab.experiment.faults.base import Fault, FaultContext, FaultParams, need_node


class LossBurst(Fault):
    class Params(FaultParams):
        """Random loss of loss_pct on one link for duration_s."""

        type: Literal["loss_burst"]
        node: str
        iface: str
        loss_pct: float = Field(50.0, gt=0, le=100)
        duration_s: float = Field(3.0, gt=0, le=300)

    spec: Params

    def check(self, ctx: FaultContext) -> None:
        need_node(ctx, self.spec.node, "node", self.spec.iface)

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
