"""The NAT reboots: bindings flushed and a new public address."""

from __future__ import annotations

from typing import Literal

from lab.experiment.faults.base import Fault, FaultContext, FaultParams, need_node


class NatReboot(Fault):
    class Params(FaultParams):
        """The NAT reboots: bindings flushed and a new public address."""

        type: Literal["nat_reboot"]
        router: str

    spec: Params

    def check(self, ctx: FaultContext) -> None:
        need_node(ctx, self.spec.router, "router")

    async def inject(self, ctx: FaultContext) -> None:
        new_address = await self._break(ctx, ctx.net.impair.nat_reboot, self.spec.router)
        ctx.record("fault_step", step="new public address", address=new_address)
