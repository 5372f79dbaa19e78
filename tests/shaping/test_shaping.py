"""Link shaping measured with real packets between two lab namespaces.

Timing is checked loosely (the machine is shared and noisy): an added delay must be clearly
present, loss within a wide band. benchmarks/shaping_accuracy.py prints the precise figures.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from lab.net.shaping import (
    LinkShaping,
    apply_shaping,
    clear_shaping,
    current_shaping,
    delay_backend,
)
from lab.net.shaping.nsexec import run_in_netns
from lab.net.shaping.probe import ProbeResult, run_probe
from lab.net.shaping.queue_rules import queue_chain
from lab.net.shaping.testbed import LinkPair, shaper_pids


def probe(pair: LinkPair, **kwargs: float) -> ProbeResult:
    return run_probe(pair.a, pair.b, pair.b_addr, **kwargs)  # type: ignore[arg-type]


def test_backend_is_detected_and_cached() -> None:
    backend = delay_backend()
    assert backend in ("netem", "nfqueue")
    assert delay_backend() is backend


def test_delay_is_added_on_egress_only(link_pair: LinkPair) -> None:
    apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(delay_ms=40))
    result = probe(link_pair, count=30, interval_s=0.01)
    assert ProbeResult.median(result.forward_ms) > 20
    assert ProbeResult.median(result.back_ms) < 20
    assert current_shaping(link_pair.a, link_pair.a_if) == LinkShaping(delay_ms=40)


def test_both_directions_shaped_by_applying_at_each_end(link_pair: LinkPair) -> None:
    apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(delay_ms=25))
    apply_shaping(link_pair.b, link_pair.b_if, LinkShaping(delay_ms=25))
    result = probe(link_pair, count=30, interval_s=0.01)
    assert ProbeResult.median(result.rtt_ms) > 25
    assert ProbeResult.median(result.back_ms) > 12


def test_jitter_never_releases_a_packet_early(link_pair: LinkPair) -> None:
    apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(delay_ms=30, jitter_ms=10))
    result = probe(link_pair, count=100, interval_s=0.005)
    assert min(result.forward_ms) >= 30 - 10 - 0.5
    spread = max(result.forward_ms) - min(result.forward_ms)
    assert spread > 5  # uniform over 20 ms: 100 draws span far more than this


def test_runtime_change_applies_without_restart(link_pair: LinkPair) -> None:
    apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(delay_ms=10))
    before = shaper_pids()
    first = probe(link_pair, count=20)
    apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(delay_ms=80, loss_pct=1))
    second = probe(link_pair, count=20)
    assert ProbeResult.median(second.forward_ms) > ProbeResult.median(first.forward_ms) + 35
    if delay_backend() == "nfqueue":
        assert shaper_pids() == before  # the same process took the new parameters


def test_loss_is_roughly_applied(link_pair: LinkPair) -> None:
    apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(loss_pct=20))
    result = probe(link_pair, count=400, interval_s=0.002)
    assert 8 < result.forward_loss_pct < 35


def test_rate_limit_caps_throughput(link_pair: LinkPair) -> None:
    apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(rate_kbit=400))
    # offer about 2 Mbit/s for 1 s: 250 datagrams of 1000 bytes
    result = probe(link_pair, count=250, interval_s=0.004, size=1000)
    delivered_kbit = len(result.forward_ms) * 1000 * 8 / 1000 / 1.0
    assert delivered_kbit < 400 * 1.6  # the bucket and its queue let a little more through
    assert len(result.forward_ms) < 200


def test_clear_removes_everything(link_pair: LinkPair) -> None:
    apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(delay_ms=50, jitter_ms=5, loss_pct=5, rate_kbit=5000))
    clear_shaping(link_pair.a, link_pair.a_if)
    clear_shaping(link_pair.a, link_pair.a_if)  # idempotent
    result = probe(link_pair, count=30)
    assert ProbeResult.median(result.forward_ms) < 25
    assert len(result.forward_ms) == 30
    assert shaper_pids() == []
    assert current_shaping(link_pair.a, link_pair.a_if) is None
    tc = run_in_netns(link_pair.a, ["tc", "qdisc", "show", "dev", link_pair.a_if]).stdout
    assert "tbf" not in tc and "netem" not in tc
    if delay_backend() == "nfqueue":
        nft = run_in_netns(link_pair.a, ["nft", "list", "ruleset"]).stdout
        assert queue_chain(link_pair.a_if) not in nft
        assert "loss_" not in nft


def test_clear_of_an_unshaped_or_missing_namespace_is_a_no_op(link_pair: LinkPair) -> None:
    from lab.errors import LabError

    clear_shaping(link_pair.a, link_pair.a_if)
    clear_shaping(link_pair.a + "-gone", "nothing0")
    with pytest.raises(LabError, match="not a lab network namespace"):
        clear_shaping("host", "eth0")


def test_apply_to_a_missing_interface_is_a_clear_error(link_pair: LinkPair) -> None:
    from lab.errors import LabError

    with pytest.raises(LabError, match="nope0"):
        apply_shaping(link_pair.a, "nope0", LinkShaping(delay_ms=5))


@pytest.mark.skipif(delay_backend() != "nfqueue", reason="the userspace shaper runs only without netem")
class TestUserspaceShaper:
    def test_killed_shaper_is_replaced_on_next_apply(self, link_pair: LinkPair) -> None:
        apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(delay_ms=20))
        (pid,) = shaper_pids()
        os.kill(pid, signal.SIGKILL)
        while pid in shaper_pids():
            time.sleep(0.01)
        apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(delay_ms=20))
        result = probe(link_pair, count=20)
        assert len(result.forward_ms) == 20
        assert ProbeResult.median(result.forward_ms) > 10

    def test_shaper_exits_when_its_namespace_goes(self, link_pair: LinkPair) -> None:
        from pyroute2 import netns

        apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(delay_ms=20))
        assert len(shaper_pids()) == 1
        netns.remove(link_pair.a)  # without clear_shaping, as a crashed orchestrator would
        deadline = time.monotonic() + 10
        while shaper_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert shaper_pids() == []

    def test_process_is_recognisable_and_lives_in_the_lab_namespace(self, link_pair: LinkPair) -> None:
        apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(delay_ms=5))
        (pid,) = shaper_pids()
        with open(f"/proc/{pid}/comm") as comm:
            assert comm.read().strip() == "icelab-shaper"
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/run/netns/{link_pair.a}").st_ino


def test_bridge_port_is_shaped_like_a_routed_interface(bridged_pair: LinkPair) -> None:
    """A topology's segments are bridges; shaping one of their ports must work too."""
    assert bridged_pair.bridge is not None
    port = (bridged_pair.bridge, bridged_pair.b_port)  # egress towards b
    apply_shaping(*port, LinkShaping(delay_ms=40, loss_pct=20))
    result = probe(bridged_pair, count=300, interval_s=0.003)
    assert ProbeResult.median(result.forward_ms) > 20
    assert ProbeResult.median(result.back_ms) < 20
    assert 8 < result.forward_loss_pct < 35
    clear_shaping(*port)
    result = probe(bridged_pair, count=30)
    assert ProbeResult.median(result.forward_ms) < 20
    assert len(result.forward_ms) == 30


def test_only_lab_namespaces_are_touched() -> None:
    from lab.errors import LabError

    with pytest.raises(LabError, match="not a lab network namespace"):
        apply_shaping("host", "eth0", LinkShaping(delay_ms=5))


def test_a_forced_backend_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    from lab.errors import LabError
    from lab.net.shaping.backend import OVERRIDE_ENV, netem_available

    detect = delay_backend.__wrapped__  # type: ignore[attr-defined]
    monkeypatch.setenv(OVERRIDE_ENV, "nfqueue")
    assert detect() == "nfqueue"
    monkeypatch.setenv(OVERRIDE_ENV, "tc")
    with pytest.raises(LabError, match=OVERRIDE_ENV):
        detect()
    if not netem_available():
        monkeypatch.setenv(OVERRIDE_ENV, "netem")
        with pytest.raises(LabError, match="no netem"):
            detect()


def test_tbf_layout_of_the_netem_backend_changes_in_place(link_pair: LinkPair) -> None:
    """The rate-only tree of the netem backend needs no netem, so it is checked here too."""
    from pyroute2 import IPRoute

    from lab.net.shaping.qdiscs import Qdiscs

    with IPRoute(netns=link_pair.a) as ipr:
        qdiscs = Qdiscs(ipr, link_pair.a_if, link_pair.a)
        qdiscs.set_netem(LinkShaping(rate_kbit=300))
        qdiscs.set_netem(LinkShaping(rate_kbit=600))
        tc = run_in_netns(link_pair.a, ["tc", "qdisc", "show", "dev", link_pair.a_if]).stdout
        assert "tbf 1: root" in tc and "600Kbit" in tc
        qdiscs.set_netem(LinkShaping())
    tc = run_in_netns(link_pair.a, ["tc", "qdisc", "show", "dev", link_pair.a_if]).stdout
    assert "tbf" not in tc


def test_runtime_changes_mid_stream_lose_no_packet(link_pair: LinkPair) -> None:
    """Once a link is shaped, changes while traffic flows (starting and stopping the delay,
    adding a rate limit) drop nothing. (The first apply and the clear
    swap the root qdisc, which drops whatever is sent at that very instant, with netem too.)"""
    import threading

    apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(delay_ms=10))
    results: list[ProbeResult] = []
    sender = threading.Thread(target=lambda: results.append(probe(link_pair, count=400, interval_s=0.005)))
    sender.start()
    for shaping in (LinkShaping(delay_ms=30, jitter_ms=5), LinkShaping(), LinkShaping(delay_ms=20, rate_kbit=5000),
                    LinkShaping(delay_ms=5), LinkShaping(delay_ms=15)):
        time.sleep(0.2)
        apply_shaping(link_pair.a, link_pair.a_if, shaping)
    sender.join(timeout=60)
    clear_shaping(link_pair.a, link_pair.a_if)
    (result,) = results
    assert len(result.forward_ms) == result.sent


def test_two_shaped_ports_in_one_namespace(bridged_pair: LinkPair) -> None:
    assert bridged_pair.bridge is not None
    apply_shaping(bridged_pair.bridge, bridged_pair.b_port, LinkShaping(delay_ms=40))
    apply_shaping(bridged_pair.bridge, bridged_pair.a_port, LinkShaping(delay_ms=10))
    result = probe(bridged_pair, count=30)
    assert ProbeResult.median(result.forward_ms) > 20
    assert 5 < ProbeResult.median(result.back_ms) < ProbeResult.median(result.forward_ms)
    assert len(shaper_pids()) == 2


def test_changing_one_port_never_drops_what_another_port_holds(bridged_pair: LinkPair) -> None:
    """Held packets survive changes on a neighbouring interface (no netfilter hook churn)."""
    import threading

    assert bridged_pair.bridge is not None
    apply_shaping(bridged_pair.bridge, bridged_pair.b_port, LinkShaping(delay_ms=40))
    apply_shaping(bridged_pair.bridge, bridged_pair.a_port, LinkShaping())
    results: list[ProbeResult] = []
    sender = threading.Thread(
        target=lambda: results.append(probe(bridged_pair, count=300, interval_s=0.005, wait_s=3))
    )
    sender.start()
    for shaping in (LinkShaping(loss_pct=1), LinkShaping(delay_ms=5), LinkShaping(rate_kbit=4000), LinkShaping()):
        time.sleep(0.2)
        apply_shaping(bridged_pair.bridge, bridged_pair.a_port, shaping)
    sender.join(timeout=60)
    (result,) = results
    assert len(result.forward_ms) == result.sent


def test_nat_mapping_is_chosen_before_the_delay() -> None:
    """Delay on a NAT router's WAN egress: a new flow's packets, sent faster than the delay,
    all leave with the same mapping (as with netem, where NAT happens before the qdisc)."""
    from pyroute2 import IPRoute

    from lab.net.shaping.testbed import link_pair

    with link_pair(f"shpnat{os.getpid() % 10000}") as wan:  # a = router, b = server
        lan = wan.a + "l"  # a host behind the router, in a lab namespace torn down below
        from pyroute2 import netns as pyroute_netns

        pyroute_netns.create(lan)
        try:
            with IPRoute(netns=wan.a) as ipr:
                ipr.link("add", ifname="rl", kind="veth", peer={"ifname": "hl", "net_ns_fd": lan})
                index = ipr.link_lookup(ifname="rl")[0]
                ipr.addr("add", index=index, address="10.88.0.1", prefixlen=24)
                ipr.link("set", index=index, state="up")
            with IPRoute(netns=lan) as ipr:
                index = ipr.link_lookup(ifname="hl")[0]
                ipr.addr("add", index=index, address="10.88.0.2", prefixlen=24)
                ipr.link("set", index=index, state="up")
                ipr.route("add", dst="10.77.0.0/24", gateway="10.88.0.1")
            run_in_netns(wan.a, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
            run_in_netns(wan.a, ["nft", "-f", "-"], stdin=(
                "table ip icelab_testnat {\n  chain post {\n    type nat hook postrouting priority 100;\n"
                f'    oifname "{wan.a_if}" masquerade\n  }}\n}}\n'
            ))
            apply_shaping(wan.a, wan.a_if, LinkShaping(delay_ms=100))
            receiver = (
                "import socket, json; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                f"s.bind(('{wan.b_addr}', 9000)); s.settimeout(2); ports = []\n"
                "try:\n    while len(ports) < 5: ports.append(s.recvfrom(100)[1][1])\n"
                "except TimeoutError: pass\nprint(json.dumps(ports))"
            )
            import subprocess
            import sys

            from lab.net.shaping.nsexec import spawn_in_netns

            server = spawn_in_netns(wan.b, [sys.executable, "-c", receiver], stdout=subprocess.PIPE)
            time.sleep(0.3)
            run_in_netns(lan, [sys.executable, "-c", (
                "import socket, time; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                f"for i in range(5): s.sendto(b'x', ('{wan.b_addr}', 9000)); time.sleep(0.01)"
            )])
            out, _ = server.communicate(timeout=10)
            ports = json.loads(out)
            assert len(ports) == 5
            assert len(set(ports)) == 1
        finally:
            clear_shaping(wan.a, wan.a_if)
            from lab.net.shaping.testbed import pids_in_netns

            for pid in pids_in_netns(lan):
                os.kill(pid, signal.SIGKILL)
            pyroute_netns.remove(lan)


def test_a_record_from_an_earlier_namespace_of_the_same_name_is_ignored(link_pair: LinkPair) -> None:
    """`topo down` then `up` again without clear_shaping: the new namespace gets its loss."""
    from lab.net.shaping.testbed import build, teardown

    apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(loss_pct=100))
    from pyroute2 import netns as pyroute_netns

    for name in (link_pair.a, link_pair.b):
        pyroute_netns.remove(name)  # no clear_shaping: its record stays behind
    build(link_pair)
    apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(loss_pct=100))
    result = probe(link_pair, count=20)
    assert result.forward_ms == []
    teardown(link_pair)
    build(link_pair)  # for the fixture's own teardown


def test_a_shaper_killed_behind_our_back_leaves_no_zombie(link_pair: LinkPair) -> None:
    """`icelab clean` kills shapers with SIGKILL while the process that started them lives on."""
    apply_shaping(link_pair.a, link_pair.a_if, LinkShaping(delay_ms=5))
    (pid,) = shaper_pids()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not os.path.exists(f"/proc/{pid}")  # reaped, not a zombie
