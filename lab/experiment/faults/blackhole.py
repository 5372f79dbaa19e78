"""All traffic (or only UDP) of one link dropped for a while."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field

from lab.experiment.faults.base import Fault, FaultContext, FaultParams, need_node


class Blackhole(Fault):
    class Params(FaultParams):
        """All traffic (or only UDP) of one link is dropped for duration_s."""

        type: Literal["blackhole"]
        node: str
        iface: str
        duration_s: float = Field(3.0, gt=0, le=300)
        udp_only: bool = False

    spec: Params

    def check(self, ctx: FaultContext) -> None:
        need_node(ctx, self.spec.node, "node", self.spec.iface)

    async def inject(self, ctx: FaultContext) -> None:
        s = self.spec
        # the kernel lifts it (nft element timeout), on time even if the orchestrator stalls
        await self._break(ctx, ctx.net.impair.blackhole, s.node, s.iface, udp_only=s.udp_only, duration=s.duration_s)
        await asyncio.sleep(s.duration_s)
        ctx.record("fault_end", step="blackhole lifted (element timeout)")

    def lift(self, ctx: FaultContext) -> None:
        ctx.net.impair.unblackhole(self.spec.node, self.spec.iface)
