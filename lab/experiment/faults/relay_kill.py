"""kill -9 of a TURN relay, optionally restarted as a new process (allocations lost)."""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field

from lab.experiment.faults.base import Fault, FaultContext, FaultParams, need_relay


class RelayKill(Fault):
    class Params(FaultParams):
        """kill -9 of a TURN relay; restarted as a new process after restart_after_s (allocations lost)."""

        type: Literal["relay_kill"]
        relay: str
        restart_after_s: float | None = Field(None, ge=0, le=120)

    spec: Params

    def check(self, ctx: FaultContext) -> None:
        need_relay(ctx, self.spec.relay)

    async def inject(self, ctx: FaultContext) -> None:
        relay = ctx.relays[self.spec.relay]
        await self._break(ctx, relay.kill)
        if self.spec.restart_after_s is not None:
            await asyncio.sleep(self.spec.restart_after_s)
            await self._step(ctx, "fault_end", "relay restarted (allocations lost)", relay.start)
