"""A trial through the SFU (the experiment's [sfu] block, a plan's path "sfu"): Janus on the
topology's SFU host, the legs the agents are told, and what the result row says of the path.

The offerer publishes into Janus's VideoRoom, the answerer subscribes to its feed; media is timed
where it arrives, at the subscriber, so the gap is end to end through Janus. A fault that takes
Janus's sessions with it (kill -9) cannot be recovered by an ICE restart: the row says so, and why.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from lab.contract import SfuLeg
from lab.sfu import PUBLISHER_FEED

if TYPE_CHECKING:
    from lab.experiment.plan import TrialPlan
    from lab.experiment.spec import ExperimentSpec
    from lab.sfu import Janus


def through_sfu(spec: ExperimentSpec, plan: TrialPlan) -> bool:
    return spec.sfu is not None and plan.path == "sfu"


def sfu_leg(spec: ExperimentSpec, role: str, janus: Janus) -> SfuLeg:
    assert spec.sfu is not None
    return SfuLeg(url=janus.url, room=spec.sfu.room, feed=PUBLISHER_FEED,
                  leg="publish" if role == "offerer" else "subscribe", keepalive_s=spec.sfu.keepalive_s)


def sfu_columns(spec: ExperimentSpec, plan: TrialPlan, fault: Any, events: list[dict[str, Any]],
                timings: dict[str, float]) -> dict[str, Any]:
    """The row's path columns; for an SFU trial, whether an ICE restart could recover it and why."""
    row: dict[str, Any] = {"path": plan.path}
    if plan.path != "sfu":
        return row
    row["sfu_start_ms"] = timings.get("sfu_start_s", math.nan) * 1000.0
    lost = [e for e in events if e.get("kind") == "sfu_session" and e.get("state") == "gone"]
    refused = [e for e in events if e.get("kind") == "sfu_restart_refused"]
    reason = getattr(fault, "restart_cannot_recover", None)
    if reason or lost or refused:
        seen = (refused or lost)[0] if (refused or lost) else None
        said = f"; {seen['peer']}: {json.loads(seen['detail']).get('reason')}" if seen is not None else ""
        row["restart_can_recover"] = False
        row["unrecoverable_reason"] = (reason or "the SFU session is gone") + said
    else:
        row["restart_can_recover"] = True
        row["unrecoverable_reason"] = None
    return row
