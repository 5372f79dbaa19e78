"""Bad input is refused at the edge, through the CLI: one line naming the file and the key,
exit 2, and nothing created (no run folder, no namespace, no process)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lab import naming
from tests.experiment.short_blackhole import ROOT, short_blackhole

GOOD = short_blackhole("edge", seed=1)


def lab_namespaces() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip() and naming.is_lab_netns(line.split()[0])]


def run_cli(experiment: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lab", "run", str(experiment), "--out", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


CASES = {
    "unknown offerer": (GOOD.replace('offerer = "alice"', 'offerer = "carol"'), "peers.offerer", "no node 'carol'"),
    "answerer is a router": (GOOD.replace('answerer = "bob"', 'answerer = "nat_b"'), "peers.answerer",
                             "not a host"),
    "fault node missing": (GOOD.replace('node = "nat_a"', 'node = "nat_q"'), "fault.node", "nat_q"),
    "fault interface missing": (GOOD.replace('iface = "wan"', 'iface = "wlan9"'), "fault.node", "wlan9"),
    "relay missing": (GOOD.replace('type = "blackhole"\nnode = "nat_a"\niface = "wan"\nduration_s = 2',
                                   'type = "relay_kill"\nrelay = "alice"'), "fault.relay", "no relay on host"),
    "unknown policy": (GOOD.replace('policies = ["on-disconnected"]', 'policies = ["on-sunday"]'),
                       "policies[0]", "unknown preset"),
    "capture host missing": (GOOD + '\n[capture]\nhosts = ["dave"]\n', "capture.hosts[0]", "dave"),
    "relay-only without TURN": (GOOD.replace("[ice]\n", '[ice]\ntransport = "relay"\n'), "ice.transport",
                                "ice.turn"),
    "signaling host missing": (GOOD + '\n[signaling]\nhost = "sig9"\n', "signaling.host", "sig9"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_experiment_checked_against_its_topology(tmp_path: Path, case: str) -> None:
    text, key, words = CASES[case]
    experiment = tmp_path / "exp.toml"
    experiment.write_text(text)
    done = run_cli(experiment, tmp_path / "run")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"{experiment}: {key}: " in lines[0] and words in lines[0], lines[0]
    assert not (tmp_path / "run").exists()
    assert lab_namespaces() == []


def test_binary_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    experiment = tmp_path / "exp.toml"
    experiment.write_bytes(b"name = \"x\"\n\xff\xfe\x00binary")
    done = run_cli(experiment, tmp_path / "run")
    assert done.returncode == 2 and "not UTF-8" in done.stderr and str(experiment) in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1

    topology = tmp_path / "topo.toml"
    topology.write_bytes(bytes(range(256)))
    experiment.write_text(GOOD.replace(f'topology = "{ROOT}/topologies/two_peers.toml"', f'topology = "{topology}"'))
    done = run_cli(experiment, tmp_path / "run")
    assert done.returncode == 2 and f"{topology}: not UTF-8" in done.stderr, done.stderr

    topology.write_bytes(b"[wan.internet]\x00\n")
    done = run_cli(experiment, tmp_path / "run")
    assert done.returncode == 2 and "binary file" in done.stderr, done.stderr

    directory = tmp_path / "dir.toml"
    directory.mkdir()
    done = run_cli(directory, tmp_path / "run")
    assert done.returncode == 2 and "is a directory" in done.stderr, done.stderr
    assert not (tmp_path / "run").exists()
    assert lab_namespaces() == []
