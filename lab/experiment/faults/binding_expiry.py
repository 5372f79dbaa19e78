"""The NAT forgets its UDP bindings (all, or one host's)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lab.experiment.faults.base import Fault, FaultContext, FaultParams, need_node


class BindingExpiry(Fault):
    class Params(FaultParams):
        """The NAT forgets its UDP bindings: all of them, or only those of one host."""

        type: Literal["binding_expiry"]
        router: str
        host: str | None = Field(None, description="only this host's mappings (default: all)")

    spec: Params

    def check(self, ctx: FaultContext) -> None:
        need_node(ctx, self.spec.router, "router")
        if self.spec.host is not None:
            need_node(ctx, self.spec.host, "host")

    async def inject(self, ctx: FaultContext) -> None:
        await self._break(ctx, ctx.net.impair.flush_bindings, self.spec.router, self.spec.host)
