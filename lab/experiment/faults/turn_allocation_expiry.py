"""The relay drops every allocation (restarted at once as a new process)."""

from __future__ import annotations

from typing import Literal

from lab.experiment.faults.base import Fault, FaultContext, FaultParams, need_relay


class TurnAllocationExpiry(Fault):
    class Params(FaultParams):
        """The relay drops every allocation (a relay process restart: allocations are not refreshed)."""

        type: Literal["turn_allocation_expiry"]
        relay: str

    spec: Params

    def check(self, ctx: FaultContext) -> None:
        need_relay(ctx, self.spec.relay)

    async def inject(self, ctx: FaultContext) -> None:
        relay = ctx.relays[self.spec.relay]
        # a new relay process: every allocation is gone, the relay answers again at once. The
        # break is the old process's death, not the new one's readiness
        await self._break(ctx, relay.kill)
        await self._step(ctx, "fault_end", "relay answering again, no allocation", relay.start)
