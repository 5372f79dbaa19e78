"""The shipped experiment files say what they do: a duration in the description is the fault's."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

FILES = sorted((Path(__file__).parents[2] / "experiments").glob("*.toml")) + \
    [Path(__file__).parents[2] / "notebooks" / "sample_experiment.toml"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_a_duration_named_in_the_description_is_the_faults(path: Path) -> None:
    text = path.read_text()
    spec = tomllib.loads(text)
    duration = spec.get("fault", {}).get("duration_s")
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    for where in (spec.get("description", ""), header):
        for said in re.findall(r"(\d+(?:\.\d+)?) s blackhole", where):
            assert duration is not None and float(said) == float(duration), \
                f"{path.name}: says a {said} s blackhole, [fault] duration_s = {duration}"
