"""The experiment schema: good files load, bad ones name the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.errors import ConfigError
from lab.experiment.check import check_experiment
from lab.experiment.plan import plan_trials
from lab.experiment.spec import load_experiment

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
name = "blackhole"
topology = "topo.toml"
seed = 7
repetitions = 2
policies = ["on-failed", { preset = "on-disconnected", name = "disc-500", grace_s = 0.5 }]

[peers]
offerer = "alice"
answerer = "bob"

[fault]
type = "blackhole"
node = "nat_a"
iface = "wan"
duration_s = 3
at_s = 2

[matrix]
rtt_ms = [20, 100]
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "topo.toml").write_text((ROOT / "topologies" / "two_peers.toml").read_text())
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


def test_good_file_loads_and_expands(tmp_path: Path) -> None:
    spec = load_experiment(write(tmp_path, GOOD))
    assert [p.name for p in spec.policies] == ["on-failed", "disc-500"]
    assert spec.policies[1].trigger == "disconnected" and spec.policies[1].grace_s == 0.5
    assert spec.fault.type == "blackhole" and spec.fault.duration_s == 3
    assert spec.topology_path == str((tmp_path / "topo.toml").resolve())
    trials = plan_trials(spec)
    assert len(trials) == 2 * 2 * 1 * 2
    assert trials[0].trial_id == "on-failed-rtt20-loss0-r0"
    assert len({t.trial_id for t in trials}) == len(trials)
    assert plan_trials(spec)[3].seed == trials[3].seed  # deterministic


def base(extra: str = "", fault: str = 'type = "blackhole"\nnode = "r"\niface = "wan"',
         policies: str = 'policies = ["none"]') -> str:
    return f"""name = "x"
topology = "topo.toml"
{policies}
{extra}
[peers]
offerer = "alice"
answerer = "bob"
[fault]
{fault}
"""


@pytest.mark.parametrize("text, key, reason", [
    (base(extra="colour = 3"), "colour", "unknown key"),
    (base(fault='type = "meteor"'), "fault", "unknown fault type"),
    (base(fault='node = "r"'), "fault", "needs a 'type'"),
    (base(fault='type = "blackhole"\nnode = "r"'), "fault.iface", "required key is missing"),
    (base(fault='type = "blackhole"\nnode = "r"\niface = "w"\nduration_s = -1'), "fault.duration_s", "greater than 0"),
    (base(policies='policies = ["sometimes"]'), "policies[0]", "unknown preset"),
    (base(policies='policies = []'), "policies", "at least 1"),
    (base(policies='policies = ["none", "none"]'), "policies", "unique"),
    (base(policies='policies = [{ name = "p", trigger = "rain" }]'), "policies[0].trigger", "'never'"),
    (base(extra='repetitions = 0'), "repetitions", "greater than or equal to 1"),
    (base(extra='[matrix]\nrtt_ms = [20, -5]'), "matrix.rtt_ms", "outside"),
    (base(extra='[ice]\ndisconnected_after_s = 5\nfailed_after_s = 2'), "ice", "greater than disconnected"),
])
def test_bad_input_names_file_key_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_experiment(path)
    error = caught.value
    assert error.exit_code == 2
    assert error.file == str(path)
    assert error.key == key, error.message
    assert reason in error.reason, error.message


def test_missing_topology_and_bad_toml(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text(base())
    with pytest.raises(ConfigError, match="topology file 'topo.toml' not found"):
        load_experiment(path)
    path.write_text("name = [")
    with pytest.raises(ConfigError, match="TOML syntax error"):
        load_experiment(path)
    with pytest.raises(ConfigError, match="file not found"):
        load_experiment(tmp_path / "nope.toml")


def test_shipped_experiments_validate() -> None:
    for path in sorted((ROOT / "experiments").glob("*.toml")):
        check_experiment(load_experiment(path))
