"""A browser peer's network history before the fault: `[peers] browser_state`, fresh or warm.

Chromium refreshes the network list WebRTC gathers on only after a debounce, and the debounce
depends on the browser's history: 1.5 s after a connection-type change while it has announced
no network change since it started, 0.5 s once it has (2 s after an address change). A user's
browser has been running and has seen networks come and go; a browser launched for the trial
has not, and pays the longer wait at the fault.

fresh: the browser sees no network change between its launch and the fault (the fault's
    preparation, e.g. a cold handover's LTE going down, is made before the browsers start).
warm (default): once the browsers have started, and before the call, each browser host's
    uplinks go down and come back up (addresses removed and restored), and the trial waits
    WARM_SETTLE_S for the browser to announce the change. The call then starts on the same
    network as a fresh one would, long before the fault.
aiortc peers have no such history: trials without a browser peer record browser_state "n/a".
"""

from __future__ import annotations

import asyncio
from typing import Any

from lab.experiment.plan import TrialPlan
from lab.experiment.spec import ExperimentSpec
from lab.net.worker import on_lab_thread
from lab.runtime.kinds import is_browser

# longest Chromium debounce (an address change, 2 s) + margin
WARM_SETTLE_S = 2.5


def browser_hosts(spec: ExperimentSpec, plan: TrialPlan | None = None) -> list[str]:
    """The hosts of the browser peers (lab.runtime.kinds) of the trial's peer pair (matrix.peer_pairs),
    or, without a plan, of the peers section."""
    kinds = {role: plan.kind_of(spec, role) if plan is not None else spec.peers.kind_of(role)
             for role in ("offerer", "answerer")}
    return [getattr(spec.peers, role) for role, kind in kinds.items() if is_browser(kind)]


def browser_state_of(spec: ExperimentSpec, plan: TrialPlan | None = None) -> str:
    return spec.peers.browser_state if browser_hosts(spec, plan) else "n/a"


@on_lab_thread
def toggle_uplinks(net: Any, host: str) -> list[str]:
    """Take the host's uplinks that are up down and back up; their names."""
    from lab.net import links

    node = net.node(host)
    ipr = net.sockets[node.netns]
    names = [iface.name for iface in node.ifaces.values() if iface.gateway and links.link_is_up(ipr, iface.name)]
    for name in names:
        net.impair.link_down(host, name)
    for name in names:
        net.impair.link_up(host, name)
    return names


async def warm_browsers(ctx: Any) -> None:
    """Give every browser peer a network change well before the call (browser_state = warm)."""
    spec: ExperimentSpec = ctx.spec
    hosts = browser_hosts(spec, getattr(ctx, "plan", None))
    if spec.peers.browser_state != "warm" or not hosts:
        return
    for host in hosts:
        ifaces = await ctx.call(toggle_uplinks, ctx.net, host)
        ctx.record("browser_warmup", host=host, ifaces=ifaces, settle_s=WARM_SETTLE_S)
    await asyncio.sleep(WARM_SETTLE_S)
