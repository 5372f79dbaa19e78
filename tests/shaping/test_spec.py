"""LinkShaping validates its input at the edge."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lab.net.shaping import LinkShaping


def test_defaults_shape_nothing() -> None:
    assert LinkShaping().is_noop
    assert not LinkShaping(rate_kbit=1000).is_noop
    assert LinkShaping(delay_ms=10).delays


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"delay_ms": -1}, "delay_ms"),
        ({"loss_pct": 101}, "loss_pct"),
        ({"loss_pct": float("nan")}, "loss_pct"),
        ({"rate_kbit": 0}, "rate_kbit"),
        ({"delay_ms": 5, "jitter_ms": 10}, "jitter_ms"),
        ({"delay": 5}, "delay"),
    ],
)
def test_bad_values_are_refused_with_the_field_named(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        LinkShaping(**kwargs)
    assert field in str(caught.value)
