"""What a shaped link does to the packets leaving one interface."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LinkShaping(BaseModel):
    """Egress impairment of one interface.

    delay_ms ± jitter_ms (uniform, clamped at 0; jitter reorders packets, as netem does),
    loss_pct (independent random loss, in percent) and rate_kbit (token bucket; None = unlimited).
    A link shaped "in both directions" is one LinkShaping applied at each of its two ends.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    delay_ms: float = Field(0, ge=0, le=60_000, allow_inf_nan=False)
    jitter_ms: float = Field(0, ge=0, le=60_000, allow_inf_nan=False)
    loss_pct: float = Field(0, ge=0, le=100, allow_inf_nan=False)
    rate_kbit: int | None = Field(None, ge=8, le=100_000_000)

    @model_validator(mode="after")
    def _jitter_needs_delay(self) -> LinkShaping:
        if self.jitter_ms > self.delay_ms:
            raise ValueError(
                f"jitter_ms ({self.jitter_ms:g}) must not exceed delay_ms ({self.delay_ms:g})"
            )
        return self

    @property
    def delays(self) -> bool:
        return self.delay_ms > 0 or self.jitter_ms > 0

    @property
    def is_noop(self) -> bool:
        return not self.delays and self.loss_pct == 0 and self.rate_kbit is None
