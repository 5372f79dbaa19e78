"""How fast a peer decides that its path died: one model for the experiment file, the agent's
configuration and the defaults of both (lab.rtc's `DetectionConfig` is made from it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, model_validator

from lab.contract._model import Strict

if TYPE_CHECKING:
    from lab.rtc import DetectionConfig


class Detection(Strict):
    consent_interval_s: float = Field(1.0, gt=0, le=30, description="consent freshness check interval")
    disconnected_after_s: float = Field(2.0, gt=0, le=60, description="no consent -> 'disconnected'")
    failed_after_s: float = Field(8.0, gt=0, le=120, description="no consent -> 'failed'")

    @model_validator(mode="after")
    def _order(self) -> Detection:
        if self.failed_after_s <= self.disconnected_after_s:
            raise ValueError("failed_after_s must be greater than disconnected_after_s")
        return self

    def detection(self) -> Detection:
        """Only the detection fields (of a model that extends this one)."""
        return Detection(consent_interval_s=self.consent_interval_s,
                         disconnected_after_s=self.disconnected_after_s, failed_after_s=self.failed_after_s)

    def to_rtc(self) -> DetectionConfig:
        from lab.rtc import DetectionConfig

        return DetectionConfig(consent_interval=self.consent_interval_s,
                               disconnected_after=self.disconnected_after_s, failed_after=self.failed_after_s)
