"""kill -9 of the Janus SFU in the call's path, optionally restarted as a new process.

What it stands for: a media server crash (or an OOM kill) mid-call. Janus's sessions, handles
and PeerConnections die with the process; a restarted Janus knows none of them. An ICE restart
needs the leg's handle to carry its `configure`, so no restart policy can bring the call back:
the client would have to make a new session, attach and publish/subscribe again (a new call).
The trial's row says so (`restart_can_recover` false, `unrecoverable_reason`), with what the
agents saw, instead of a silent non-recovery.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field

from lab.errors import ConfigError
from lab.experiment.faults.base import Fault, FaultContext, FaultParams


class JanusKill(Fault):
    class Params(FaultParams):
        """kill -9 of the experiment's Janus SFU; restarted as a new process after restart_after_s
        (its sessions are not brought back)."""

        type: Literal["janus_kill"]
        restart_after_s: float | None = Field(None, ge=0, le=120)

    spec: Params
    restart_cannot_recover = ("Janus was killed (kill -9): its sessions and handles are gone with it, and an "
                              "ICE restart is a request on the leg's handle; recovery needs a new session "
                              "(attach, publish/subscribe: a new call)")

    def check(self, ctx: FaultContext) -> None:
        if getattr(ctx, "sfu", None) is None:
            raise ConfigError(None, "fault.type", "janus_kill needs the call to go through the SFU "
                              "(an [sfu] block whose paths are [\"sfu\"] only)")

    async def inject(self, ctx: FaultContext) -> None:
        janus = getattr(ctx, "sfu", None)
        assert janus is not None
        await self._break(ctx, janus.kill)
        if self.spec.restart_after_s is not None:
            await asyncio.sleep(self.spec.restart_after_s)
            await self._step(ctx, "fault_end", "Janus restarted (sessions lost)", janus.start)
