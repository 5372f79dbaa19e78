"""The agent's config carries only what the agent reads."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lab.experiment.spec import PolicySpec
from lab.runtime.agent.config import AgentConfig


def test_usable_interfaces_only_is_gone() -> None:
    """Every host gathers on its usable interfaces (lab.runtime.agent.interfaces); the flag
    that once chose that was informational only and is no longer accepted."""
    base = dict(trial_id="t", role="offerer", host="alice", polite=False, restarts=True,
                policy=PolicySpec(name="p"))
    AgentConfig(**base)
    with pytest.raises(ValidationError):
        AgentConfig(**base, usable_interfaces_only=True)
