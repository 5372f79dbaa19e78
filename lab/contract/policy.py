"""Restart policies: when a peer restarts (trigger, grace), how (action), which peer(s) (side).

A policy is named; the named presets are a registry (`register_policy_preset`) and a policy in
an experiment file may start from one and override fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from lab.contract._model import Strict

Trigger = Literal["never", "failed", "disconnected", "network-change"]
Action = Literal["restart-ice", "ice-restart-offer", "full-reconnect", "continual-gathering"]
Side = Literal["offerer", "answerer", "both", "polite", "impolite"]

POLICY_PRESETS: dict[str, dict[str, object]] = {}


def register_policy_preset(name: str, **fields: object) -> None:
    """A named policy an experiment can ask for by name (`policies = ["name"]`)."""
    Policy.model_validate({"name": name, **fields})  # a preset must itself be a valid policy
    POLICY_PRESETS[name] = dict(fields)


class Policy(Strict):
    """When a peer restarts (trigger, grace), how (action) and which peer(s) do (side)."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
    trigger: Trigger = "failed"
    action: Action = "restart-ice"
    grace_s: float = Field(0.0, ge=0, le=60, description="wait after the trigger; cancelled if it clears")
    side: Side = "both"
    also_on_failed: bool = Field(True, description="a 'failed' state restarts too (backstop)")
    retry_s: float = Field(10.0, gt=0, le=120, description="restart again if not connected after this")
    network_settle_s: float = Field(0.05, ge=0, le=5, description="network-change: when an event "
                                    "finds the new default route not yet in place (its interface "
                                    "still coming up: a cold or gap handover), wait this long after "
                                    "the first event of the burst, then restart once (at once if a "
                                    "later event finds it in place); an event that leaves the route "
                                    "and its address in place (a standby handover) restarts at once")

    @model_validator(mode="before")
    @classmethod
    def _expand_preset(cls, data: object) -> object:
        if isinstance(data, str):
            data = {"name": data, "preset": data}
        if isinstance(data, dict) and "preset" in data:
            data = dict(data)
            preset = data.pop("preset")
            if preset not in POLICY_PRESETS:
                raise ValueError(f"unknown preset {preset!r}; known: {', '.join(POLICY_PRESETS)}")
            merged = dict(POLICY_PRESETS[preset])
            merged.update(data)
            merged.setdefault("name", preset)
            data = merged
        return data

    @property
    def ever_restarts(self) -> bool:
        return self.trigger != "never" or self.also_on_failed

    def restarts_side(self, role: str, polite_role: str) -> bool:
        """Whether the peer in `role` acts on this policy."""
        if self.side == "both":
            return True
        if self.side == "polite":
            return role == polite_role
        if self.side == "impolite":
            return role != polite_role
        return self.side == role


# The named policies of the lab.
register_policy_preset("none", trigger="never", also_on_failed=False)
register_policy_preset("on-failed", trigger="failed", action="restart-ice")
register_policy_preset("on-disconnected", trigger="disconnected", action="restart-ice")
register_policy_preset("on-network-change", trigger="network-change", action="restart-ice")
register_policy_preset("full-reconnect", trigger="failed", action="full-reconnect")
register_policy_preset("legacy-ice-restart", trigger="failed", action="ice-restart-offer")
# no restart on a network change: the new interface's candidates are gathered and trickled in the
# current ICE generation (libwebrtc's GATHER_CONTINUALLY); a restart only as the 'failed' backstop
# or when no new pair was selected within retry_s
register_policy_preset("continual-gathering", trigger="network-change", action="continual-gathering")
