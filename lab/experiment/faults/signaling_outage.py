"""The signaling server unreachable for a while (the media path untouched)."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field

from lab.contract import SignalingOutage as SignalingOutageCommand
from lab.experiment.faults.base import Fault, FaultContext, FaultParams


class SignalingOutage(Fault):
    class Params(FaultParams):
        """The signaling server is unreachable for duration_s (the media path is untouched)."""

        type: Literal["signaling_outage"]
        duration_s: float = Field(5.0, gt=0, le=300)
        mode: Literal["network", "client"] = Field(
            "network", description="network: the signaling host's link is blackholed (TCP only dies); "
            "client: the peers' signaling clients drop their link (lab.rtc.signaling outage window)")

    spec: Params

    async def inject(self, ctx: FaultContext) -> None:
        s = self.spec
        if s.mode == "client":
            self._begin(ctx)
            ctx.broadcast(SignalingOutageCommand(duration_s=s.duration_s))
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
