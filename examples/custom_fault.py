"""A fault of your own: one class holds its parameters and its behaviour; defining it registers
it, and an experiment names it by its type.

Here: a link that blackholes twice ("flaps"), with a pause between the two outages.

    sudo .venv/bin/python examples/custom_fault.py [RUN_FOLDER]
"""

from __future__ import annotations

import asyncio
import sys
from typing import Literal

from pydantic import Field

from lab import Experiment, Fault, FaultContext, FaultParams, run_experiment
from lab.experiment.faults import need_node


class LinkFlap(Fault):
    class Params(FaultParams):
        type: Literal["link_flap"]
        node: str
        iface: str
        outage_s: float = Field(1.0, gt=0, le=60)
        pause_s: float = Field(0.5, ge=0, le=60)

    spec: Params

    def check(self, ctx: FaultContext) -> None:  # before anything is created
        need_node(ctx, self.spec.node, "node", self.spec.iface)

    async def inject(self, ctx: FaultContext) -> None:
        s, impair = self.spec, ctx.net.impair
        # the `fault` event (the break, the instant recovery is timed from), stamped when the
        # kernel call that removes connectivity returns, with that call's duration
        await self._break(ctx, impair.blackhole, s.node, s.iface, duration=s.outage_s)
        await asyncio.sleep(s.outage_s + s.pause_s)
        await self._step(ctx, "fault_step", "second outage", impair.blackhole, s.node, s.iface,
                         duration=s.outage_s)
        await asyncio.sleep(s.outage_s)
        ctx.record("fault_end", step="link stable again")

    def lift(self, ctx: FaultContext) -> None:
        ctx.net.impair.unblackhole(self.spec.node, self.spec.iface)


def main(out: str | None = None) -> int:
    experiment = Experiment(
        name="example_flap",
        topology="topologies/two_peers.toml",
        peers={"offerer": "alice", "answerer": "bob"},
        ice={"consent_interval_s": 0.5, "disconnected_after_s": 1.0, "failed_after_s": 4.0},
        fault={"type": "link_flap", "node": "nat_a", "iface": "wan", "at_s": 1.5},
        policies=["on-disconnected"],
        timeouts={"connect_s": 40, "recover_s": 40, "observe_s": 1},
    )
    run = run_experiment(experiment, out)
    steps = run.events[run.events["kind"].isin(["fault", "fault_step", "fault_end"])]
    print(steps[["kind", "detail"]].to_string(index=False) if "detail" in steps else steps["kind"].tolist())
    print(run.trials[["trial_id", "status", "recovered"]].to_string(index=False))
    return 0 if run.trials["status"].eq("ok").all() else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else None))
