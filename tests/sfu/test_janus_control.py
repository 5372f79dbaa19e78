"""Janus in the sfu host's namespace: hermetic config, start until the API answers, stop,
kill -9, restart, `icelab clean` after the orchestrator died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lab.net import Network
from lab.sfu.janus import Janus, janus_pids
from tests.sfu.conftest import REPO, TOPOLOGY, needs_janus

pytestmark = needs_janus


def test_config_is_hermetic(janus: Janus) -> None:
    core = janus.configs["janus.jcfg"]
    assert "stun_server" not in core and "nat_1_1_mapping" not in core
    assert 'ice_enforce_list = "eth0"' in core
    assert 'turn_server = "198.51.100.2"' in core  # the topology's relay, nothing public
    for module in ("libjanus_http.so", "libjanus_mqtt.so", "libjanus_rabbitmq.so", "libjanus_nanomsg.so",
                   "libjanus_pfunix.so", "libjanus_echotest.so", "libjanus_wsevh.so"):
        assert module in core
    assert "libjanus_websockets.so" not in core and "libjanus_videoroom.so" not in core
    ws = janus.configs["janus.transport.websockets.jcfg"]
    assert 'ws_ip = "198.51.100.5"' in ws and "admin_ws = false" in ws


def test_start_answers_then_kill_and_restart(janus: Janus, sfu_net: Network) -> None:
    janus.start()
    assert janus.version and janus.version.startswith("1.")
    pid = janus.pid
    assert pid in janus_pids([sfu_net.netns("sfu")])
    listening = sfu_net.run("sfu", ["ss", "-Htln"], capture_output=True, text=True).stdout
    ports = [line.split()[3] for line in listening.splitlines()]
    assert ports == ["198.51.100.5:8188"], ports  # the API on the lab address only, nothing else
    # reachable from a peer's namespace across the lab network
    assert sfu_net.run("peer", ["ping", "-c1", "-W2", "198.51.100.5"]).returncode == 0

    janus.kill()
    assert not janus.running and janus.info(timeout=0.5) is None
    assert not janus_pids([sfu_net.netns("sfu")])
    janus.restart()
    assert janus.running and janus.pid != pid and janus.info() is not None
    janus.stop()
    assert not janus.running


def test_clean_kills_janus_after_the_orchestrator_died(tmp_path: Path) -> None:
    """An orchestrator process starts Janus on a topology and is killed -9; `icelab clean` removes
    the namespaces and the Janus inside them. Both run in a scope of their own (never unscoped,
    whatever this test run's ICELAB_SCOPE is): the clean touches nothing else on the machine."""
    from lab import naming

    env = {**os.environ, "ICELAB_SCOPE": f"{naming.scope() or 't'}{os.getpid()}crash"}
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from lab.net import Network, load_topology
        from lab.sfu import SfuSpec
        from lab.sfu.topology import attach_janus
        net = Network.up(load_topology({str(TOPOLOGY)!r}), name="crash")
        janus = attach_janus(net, SfuSpec(), Path({str(tmp_path)!r}))
        janus.start()
        print(net.netns("sfu"), flush=True)
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        assert proc.stdout is not None
        namespace = proc.stdout.readline().strip()
        assert namespace, "the orchestrator did not start Janus"
        assert janus_pids([namespace])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert janus_pids([namespace]), "Janus should outlive its orchestrator until clean"
    assert env["ICELAB_SCOPE"]
    done = subprocess.run([str(REPO / ".venv" / "bin" / "icelab"), "clean"], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "killed 1 Janus processes" in done.stdout
    deadline = time.monotonic() + 10
    while janus_pids([namespace]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not janus_pids([namespace])
    assert not Path(f"/run/netns/{namespace}").exists()


def test_doctor_reports_janus_version() -> None:
    done = subprocess.run([str(REPO / ".venv" / "bin" / "icelab"), "doctor"], capture_output=True, text=True,
                          cwd=REPO, timeout=120)
    line = next(line for line in done.stdout.splitlines() if "tool janus" in line)
    assert line.startswith("ok") and "1.1" in line, line


@pytest.mark.parametrize("block,key", [
    ({"ws_port": 70000}, "sfu.ws_port"),
    ({"rtp_min_port": 30000, "rtp_max_port": 20000}, "sfu"),
    ({"keepalive_s": 90, "session_timeout_s": 60}, "sfu"),
    ({"stun_server": "stun.example.org"}, "sfu.stun_server"),
])
def test_bad_block_is_one_config_error(block: dict[str, object], key: str) -> None:
    from lab.errors import ConfigError
    from lab.sfu import parse_sfu

    with pytest.raises(ConfigError) as caught:
        parse_sfu(block, "x.toml")
    assert caught.value.key == key and caught.value.file == "x.toml"
