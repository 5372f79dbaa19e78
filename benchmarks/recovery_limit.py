"""How close recovery comes to the physical limit of each shipped fault.

    ICELAB_SCOPE=w13 .venv/bin/python benchmarks/recovery_limit.py [--trials 5] [--jobs 1]
        [--kinds aiortc,chromium] [--faults handover,binding_expiry,relay_kill,blackhole]
        [--rtt 20,100] [--out runs/recovery_limit] [--recompute]

Runs the shipped experiments (experiments/handover.toml, binding_expiry.toml, relay_kill.toml,
and transient_blackhole.toml as "a blackhole") with the policies that restart soonest, for both
peers aiortc (lab.rtc) and both peers Chromium, and prints per fault, peers, policy and RTT:
the number of trials, the median recovery (fault -> media flowing both ways again, from the
trial metrics), the physical limit of that scenario for that policy ("limit") and for the network
alone ("net"; they differ for a policy that waits for a state, see "Silent breaks" below), the
ratios, and the phase whose median dominates (detection, decision, signaling, checks, first
media; "old path" when media came back before any restart's new pair carried it), with how far
the first 'disconnected' came from its deadline (read from the agents' ice_state events).

Physical limits, with r the RTT between the peers (the matrix shapes both peers' uplinks, r/4
per egress, so a peer's round trip to the relay or signaling server is r/2). "Path" is the
instant the new path is usable: the handover's `standby` variant (the shipped default) and
`overlap` have LTE up, addressed and routed before the break, so it is the break itself (0);
`cold` and `gap` bring LTE up at or after it, so it is the phone's first default-route event
after the fault. The handover limits count from there:
    handover, restarting policy   3.5 r      link event ~0; the signaling WebSocket re-opened over
                                             LTE (its TCP connection was bound to the Wi-Fi
                                             address, which is gone: TCP handshake r/2 + WebSocket
                                             upgrade r/2 = r; a real app pays this too, nothing
                                             moves a TCP connection to a new address); the
                                             restart offer to the remote through the server (r/2)
                                             and the answer back (r/2); one check (r: the phone
                                             can check only once it has the answer, and the
                                             remote's NAT lets the phone in because the remote has
                                             been checking the phone's new candidates since the
                                             offer); the first media packet across (r/2)
    handover, continual gathering  standby/overlap: r  LTE's candidates were gathered and paired
                                             when the call began; a stack that keeps its backup
                                             pairs warm (libwebrtc pings them) nominates the LTE
                                             pair at once: the nomination reaches the remote in
                                             r/2, whose media is back at the phone r/2 later.
                                             lab.rtc does so under continual gathering
                                             (IceOptions.backup_ping_interval, libwebrtc's 25 s):
                                             at the break the phone sends on the best valid backup
                                             at once and nominates it with one check (r); the
                                             remote, controlled, switches when that nomination
                                             and the phone's media reach it over the pair
                                   cold/gap: 3 r  the signaling re-opened (r), the new candidate
                                             trickled to the remote (r/2), one check (r), the
                                             first media across (r/2); no offer/answer
    blackhole of T s              T + r      nothing beats T; then one check
    binding_expiry (relayed)      E[first probe] + r + 3.5 r  (network)   E[D] + 3.5 r  (policy)
    relay_kill, back after K s    max(K, E[first probe] + r) + 3 r        max(E[D], K) + 3 r
                                  (K: the trial's fault_end, when the restarted relay answered)
    handover_overlap (opt-in)     0          make-before-break: LTE is up 2 s before Wi-Fi goes;
                                             read the units lost (0 at the limit)

Silent breaks (binding_expiry, relay_kill) have two limits, both printed:
  net     what the network allows: the break can be seen no sooner than the first consent probe
          sent after it goes unanswered (+ r), then the restart's own network cost.
  limit   what the policy allows. A policy that restarts on a state waits for it by definition,
          and its timer is the experiment's choice ([ice] consent_interval_s C,
          disconnected_after_s D, failed_after_s F), not aiortc's cost: comparing policies must
          measure the policy and the network. So the limit is the physical path to that state
          under the experiment's config, then the same restart cost. It is derived, not fitted:
          - lab.rtc's consent loop sleeps C x U(0.8, 1.2) after an answer, then checks; the
            answer is back r later, so answers arrive every T = r + C x U(0.8, 1.2). A fault at a
            random instant finds the last answer A old, A the backward recurrence time of that
            renewal process: density P(T > a) / E[T], mean E[T^2] / 2E[T] = (C + r)/2 + a jitter
            term (not C/2: the r of each round trip counts). The next probe is as far ahead.
          - A peer's last answer from before the break still arrives up to o after the fault,
            o = the break point to that peer, one way (`cut_peers`): binding expiry (fault at
            alice's NAT, on her uplink's inner end): 0 for alice, r/2 for bob; relay kill: r/4
            for each. So the peer goes 'disconnected' at o - A + D after the fault (lab.rtc
            changes state at that deadline exactly: lab/rtc/ice_transport.py).
          - Every peer whose consent the fault cuts races: the first state change is
            min_i(D + o_i - A_i), A_i independent. E[D] is its mean (numerically integrated,
            `expected_first_state_s`). With C 1 s, D 2 s and both peers cut it is about
            D - 2(C + r)/3 (1.31 s at r 20 ms), not D - C/2.
          - Which peers are cut is read from the trial's events (`cut_peers`): at binding expiry
            bob always is; alice only when her selected pair sent from her own relay candidate
            (from her host address to bob's relay, her checks leave from a new mapping, bob's
            relay passes them (permission per IP) and the answers come back on it). The printed
            limit is the median of the trials' limits.
          - on-failed: the same with F; a grace_s adds to the wait.
        The restart after the state (both binding expiry restart chains start at detection; the
        peer behind the NAT restarting is the shorter one):
          binding_expiry 3.5 r  the offer leaves at once (trickle) while alice's new allocation
                                is made (Allocate with its 401 challenge, 2 x r/2 = r; her old
                                one is bound to the forgotten mapping); its relay candidate
                                trickled to bob (r/2, CreatePermission for bob's address
                                alongside); bob's check reaches her through the relay (r/2);
                                her triggered check is answered (r); her first media reaches bob
                                (r/2); bob's media is back at her sooner
          relay_kill     3 r    from the relay's return K (a restart fired before it has
                                exchanged offer and answer already): Allocate r, the relay
                                candidates trickled r/2, each side's CreatePermission and check
                                sent back to back (the relay takes them in order) and answered
                                r, first media across r/2
        Policies that restart on no state (a network event) get the network limit.
        Read from the raw events: the agents' ice_state 'disconnected' names the consent answer
        its timer counted from (`last_heard_t`), so each trial shows how far the state came from
        its deadline (printed) and when it came due; for binding expiry that instant is the
        "path" column and "after" is the restart alone, against 3.5 r.
For handover and blackhole it also prints recovery counted from the instant the path is usable
(handover: 0 for standby/overlap, the LTE route event for cold/gap; blackhole: T). Prints figures
only; asserts nothing. Machines are shared: read the figures with the load.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lab.contract import Policy  # noqa: E402
from lab.experiment.faults.handover import Handover  # noqa: E402
from lab.experiment.metrics import metrics_table  # noqa: E402
from lab.experiment.runner import run_experiment  # noqa: E402
from lab.experiment.spec import parse_experiment  # noqa: E402
from lab.rtc import DetectionConfig  # noqa: E402

PHASES = ("detection_ms", "decision_ms", "signaling_ms", "checks_ms", "first_media_ms")


@dataclass(frozen=True)
class Limit:
    """Two limits of one trial: what the network allows (a stack noticing the break as soon as
    a probe goes unanswered) and what the policy allows (it waits for the state it restarts on,
    whose timer the experiment chose); equal where the policy waits for no state."""

    network_ms: float
    policy_ms: float
    formula: str


def consent_age_cdf(age: float, consent: float, rtt: float) -> float:
    """P(the last consent answer is at most `age` old at a random instant).

    lab.rtc's consent loop (lab/rtc/ice_connection.py, query_consent) sleeps C x U(0.8, 1.2)
    after an answer, then checks: the answer is back r later, so answers arrive every
    T = r + C x U(0.8, 1.2). A fault falls at a random phase of that renewal process: the age
    of the last answer is its backward recurrence time, density P(T > a) / E[T] (renewal
    theory; the same law gives the time to the next probe). Its mean is E[T^2] / (2 E[T]),
    (C + r) / 2 plus a jitter term, not C / 2."""
    lo, hi = rtt + 0.8 * consent, rtt + 1.2 * consent
    if age <= 0:
        return 0.0
    if age >= hi:
        return 1.0
    if age <= lo:
        covered = age
    else:  # P(T > a) falls linearly from 1 at lo to 0 at hi
        covered = lo + (age - lo) - (age - lo) ** 2 / (2 * (hi - lo))
    return covered / ((lo + hi) / 2)


def _integrate(f: Callable[[float], float], a: float, b: float, steps: int = 4000) -> float:
    if b <= a:
        return 0.0
    h = (b - a) / steps
    return h * (0.5 * f(a) + sum(f(a + i * h) for i in range(1, steps)) + 0.5 * f(b))


def expected_first_state_s(consent: float, after: float, rtt: float, offsets: Sequence[float],
                           not_before: float = 0.0) -> float:
    """E[max(first peer's state change after the fault, not_before)], seconds after the fault.

    Peer i's consent path crosses the fault; its last answer arrives at most offsets[i] after
    the fault (the answer was already past the break point), so it is
    L_i = offsets[i] - A_i with A_i the age law of `consent_age_cdf`, independent per peer.
    Its state ('disconnected' after `after` = disconnected_after s of silence, or 'failed')
    changes at L_i + after. The first of the peers: X = min_i (after + offsets[i] - A_i), and
    E[max(X, K)] = K + integral from K of P(X > t) dt, P(X > t) = prod_i P(A_i < after +
    offsets[i] - t)."""
    if not offsets:
        return math.nan

    def survives(t: float) -> float:
        return math.prod(consent_age_cdf(after + o - t, consent, rtt) for o in offsets)

    top = after + max(offsets)
    return not_before + _integrate(survives, max(not_before, 0.0), top)


def expected_first_probe_s(consent: float, rtt: float, peers: int) -> float:
    """E[the first consent probe any of `peers` peers sends after the fault], seconds: the
    time to the next probe has the age law of `consent_age_cdf` too."""
    if peers < 1:
        return math.nan
    hi = rtt + 1.2 * consent
    return _integrate(lambda t: (1 - consent_age_cdf(t, consent, rtt)) ** peers, 0.0, hi)


def waits_for(policy: str, ice: dict[str, object]) -> tuple[str, float] | None:
    """(state, seconds of silence until it) for a policy that restarts on a state; None if
    it restarts on something else (a network event) or never."""
    spec = Policy.model_validate(policy)
    detection = DetectionConfig(
        consent_interval=float(ice.get("consent_interval_s", 2.0)),  # type: ignore[arg-type]
        disconnected_after=float(ice.get("disconnected_after_s", 5.0)),  # type: ignore[arg-type]
        failed_after=float(ice.get("failed_after_s", 15.0)),  # type: ignore[arg-type]
    )
    if spec.trigger == "disconnected":
        return "disconnected", detection.disconnected_after + spec.grace_s
    if spec.trigger == "failed" or (spec.trigger != "never" and spec.also_on_failed):
        return "failed", detection.failed_after
    return None


@dataclass(frozen=True)
class Fault:
    name: str
    file: str
    policies: dict[str, list[object]]  # peer kind -> policies run
    # peer kind -> another experiment file (a browser phone's own experiment, e.g. Chromium's
    # handover with the policies a page offers)
    files: dict[str, str] = field(default_factory=dict)

    def file_for(self, kind: str) -> str:
        return self.files.get(kind, self.file)

    def limit(self, spec: dict[str, object], policy: str, rtt: float,
              cut: Sequence[float] = (0.25, 0.25), back_ms: float | None = None) -> Limit:
        """The trial's limits, ms. `cut`: for each peer whose consent path the fault cuts, how
        late (in r) its last answer from before the break can still arrive (`cut_peers`).
        `back_ms`: relay kill, when the relay was back in this trial (`path_back_ms`; default
        restart_after_s)."""
        fault = spec["fault"]
        assert isinstance(fault, dict)
        if self.name == "handover_overlap":
            return Limit(0.0, 0.0, "0")
        if self.name == "handover":
            if policy == "continual-gathering":
                if handover_variant(fault) in ("standby", "overlap"):
                    return Limit(rtt, rtt, "r")
                return Limit(3 * rtt, 3 * rtt, "3 r")
            return Limit(3.5 * rtt, 3.5 * rtt, "3.5 r")
        if self.name == "blackhole":
            t = float(fault.get("duration_s", 3)) * 1000
            return Limit(t + rtt, t + rtt, "T + r")
        if self.name in ("binding_expiry", "relay_kill"):
            ice = spec.get("ice", {})
            assert isinstance(ice, dict)
            c, r = float(ice.get("consent_interval_s", 2.0)), rtt / 1000
            if self.name == "binding_expiry":
                back, restart, name = 0.0, 3.5 * r, "3.5 r"
            else:
                back = float(fault.get("restart_after_s", 0) or 0) if back_ms is None else back_ms / 1000
                restart, name = 3 * r, "K + 3 r"
            network = max(back, expected_first_probe_s(c, r, len(cut)) + r) + restart
            state = waits_for(policy, ice)
            if state is None:
                return Limit(network * 1000, network * 1000, name)
            first = expected_first_state_s(c, state[1], r, [o * r for o in cut], not_before=back)
            label = {"disconnected": "E[D]", "failed": "E[F]"}[state[0]]
            formula = f"{label}+3.5 r" if self.name == "binding_expiry" else f"max({label},K)+3r"
            return Limit(network * 1000, (first + restart) * 1000, formula)
        raise ValueError(self.name)


FAULTS = {
    "handover": Fault("handover", "handover.toml", {
        "aiortc": ["on-network-change", "continual-gathering"],
        "chromium": ["on-network-change"],
    }, files={"chromium": "chromium_handover.toml"}),
    # make-before-break (not run by default): LTE up 2 s before Wi-Fi goes; the figure that
    # matters is the units lost (0 is the limit)
    "handover_overlap": Fault("handover_overlap", "handover_overlap.toml", {
        "aiortc": ["on-network-change", "continual-gathering"],
        "chromium": ["on-network-change"],
    }),
    "binding_expiry": Fault("binding_expiry", "binding_expiry.toml", {
        "aiortc": ["on-disconnected"], "chromium": ["on-disconnected"],
    }),
    "relay_kill": Fault("relay_kill", "relay_kill.toml", {
        "aiortc": ["on-disconnected"], "chromium": ["on-disconnected"],
    }),
    "blackhole": Fault("blackhole", "transient_blackhole.toml", {
        "aiortc": ["on-disconnected"], "chromium": ["on-disconnected"],
    }),
}


LIMIT_INCLUDES = {
    "handover": (
        "restart 3.5 r = signaling WebSocket re-opened over LTE (TCP r/2 + upgrade r/2) + offer r/2 "
        "+ answer r/2 + one check r + first media r/2",
        "continual-gathering, standby/overlap: r = nomination of the warm LTE pair r/2 + the "
        "remote's media back r/2; cold/gap: 3 r = re-open r + trickle r/2 + check r + media r/2",
    ),
    "handover_overlap": ("0 units lost (make-before-break)",),
    "binding_expiry": ("net: E[first probe after the fault] + its answer missing r + restart 3.5 r; limit "
                       "(a policy waiting for a state): E[D] = expected first 'disconnected' of the peers the "
                       "fault cuts, under the experiment's consent C and disconnected_after D, + 3.5 r = "
                       "Allocate r + relay candidate trickled r/2 + the remote's check r/2 + triggered check r "
                       "+ first media r/2",),
    "relay_kill": ("net: K + 3 r; limit: max(E[D], K) + 3 r; 3 r = Allocate r + trickle r/2 + "
                   "CreatePermission and check r + first media r/2 (K: the relay back)",),
    "blackhole": ("T + r = the outage + one check",),
}


def dominant(rows: pd.DataFrame) -> str:
    """The phase with the largest median, and where the media came back: on the old path, or
    on a new pair without a restart (continual gathering's fail-over: no restart phases)."""
    medians = {p: float(rows[p].dropna().median()) for p in PHASES if rows[p].notna().any()}
    old_path = bool((rows["resumed_on"] == "old-path").all())
    restarted = any(rows[p].notna().any() for p in ("signaling_ms", "checks_ms", "first_media_ms"))
    where = " (media back on the old path)" if old_path else "" if restarted else " (a new pair, no restart)"
    if not medians:
        return "no phases" + where
    name = max(medians, key=lambda k: medians[k])
    return f"{name.removesuffix('_ms')} {medians[name]:.0f} ms{where}"


def handover_variant(fault: dict[str, object]) -> str:
    """The variant a handover fault block runs (the fault's own defaults decide)."""
    return Handover.Params.model_validate(fault).variant


def path_back_ms(fault: Fault, spec: dict[str, object], events: pd.DataFrame, trial: str) -> float:
    """When the new (handover) or restored (blackhole) path became usable, ms after the fault.

    Handover: standby and overlap had LTE up, addressed and routed before the break: 0 (no
    route event need follow the break). cold and gap: the phone's first default-route event
    after the fault (its LTE route; nothing crosses LTE before it), NaN if none was seen.
    The variant is read from the trial's own `fault` event (what ran), else from the spec.
    Blackhole: its duration T. Relay kill: the relay's return, the trial's `fault_end` event
    (stamped when the restarted relay's start call returned, its readiness checked: it answers
    by then), else restart_after_s. Other faults: 0 (the limit formula covers them)."""
    if fault.name == "blackhole":
        f = spec["fault"]
        assert isinstance(f, dict)
        return float(f.get("duration_s", 3)) * 1000
    if fault.name == "relay_kill":
        f = spec["fault"]
        assert isinstance(f, dict)
        nominal = float(f.get("restart_after_s", 0) or 0) * 1000
        rows = events[events["trial_id"] == trial] if len(events) else events
        if not len(rows):
            return nominal
        t_fault = rows.loc[rows["kind"] == "fault", "t_monotonic"].min()
        ends = rows.loc[(rows["kind"] == "fault_end") & (rows["t_monotonic"] >= t_fault), "t_monotonic"]
        return float((ends.min() - t_fault) * 1000) if len(ends) else nominal
    if fault.name == "binding_expiry":
        return state_due_ms(events, trial, spec)
    if not fault.name.startswith("handover"):
        return 0.0
    f = spec["fault"]
    assert isinstance(f, dict)
    variant = handover_variant(f)
    rows = events[events["trial_id"] == trial] if len(events) else events
    faults = rows[rows["kind"] == "fault"] if len(rows) else rows
    if len(faults):
        variant = str(json.loads(faults["detail"].iloc[0]).get("variant") or variant)
    if variant in ("standby", "overlap"):
        return 0.0
    if not len(faults):
        return math.nan
    t_fault = faults["t_monotonic"].min()
    route = rows[(rows["kind"] == "network_change") & (rows["t_monotonic"] >= t_fault)
                 & rows["detail"].str.contains('"RTM_NEWROUTE"')]
    return float((route["t_monotonic"].min() - t_fault) * 1000) if len(route) else math.nan


def peer_behind(spec_file: Path, spec: dict[str, object], router: str) -> str | None:
    """The peer role ('offerer'/'answerer') whose host sits behind `router`, from the topology."""
    topology = tomllib.loads((spec_file.parent / str(spec["topology"])).read_text())
    hosts = {str(link.get("a")) for link in topology.get("links", []) if link.get("b") == router}
    hosts |= {str(link.get("b")) for link in topology.get("links", []) if link.get("a") == router}
    peers = spec.get("peers", {})
    assert isinstance(peers, dict)
    for role in ("offerer", "answerer"):
        if peers.get(role) in hosts:
            return role
    return None


def cut_peers(fault: Fault, events: pd.DataFrame, trial: str, behind: str | None) -> tuple[float, ...]:
    """For each peer whose consent path the fault cuts: how late, in r, the last answer it got
    from before the break can arrive (the break point to that peer, one way).

    relay_kill: the relay is on both peers' only path, r/4 from each: (1/4, 1/4).
    binding_expiry (symmetric NATs, a relayed call): the peer behind the NAT is cut when its
    selected pair sends from its own relay candidate (the allocation's 5-tuple is gone; its
    answers cross the NAT last, on arrival: 0); when it sends from its host address to the
    remote's relay, its checks leave from a new mapping, the remote's relay (permission per IP)
    passes them and the answers come back on that mapping: its consent survives. The remote
    always is cut (its checks go to the forgotten mapping); its answers left the NAT r/2 before
    arriving (1/2). Read from the trial's last selected pair before the fault."""
    if fault.name != "binding_expiry":
        return (0.25, 0.25)
    rows = events[events["trial_id"] == trial] if len(events) else events
    if not len(rows) or behind is None:
        return (0.0, 0.5)
    t_fault = rows.loc[rows["kind"] == "fault", "t_monotonic"].min()
    pairs = rows[(rows["kind"] == "selected_pair") & (rows["peer"] == behind) & (rows["t_monotonic"] < t_fault)]
    if not len(pairs):
        return (0.0, 0.5)
    local = json.loads(pairs.sort_values("t_monotonic")["detail"].iloc[-1]).get("local_type")
    return (0.0, 0.5) if local == "relay" else (0.5,)


def state_due_ms(events: pd.DataFrame, trial: str, spec: dict[str, object]) -> float:
    """When the trial's first 'disconnected' came due, ms after the fault: the last consent
    answer its ice_state event names + disconnected_after (the policy's own wait ends there;
    what follows is the restart). 0 when no event names it (older runs, other agents)."""
    late = detection_late_ms(events, trial, spec)
    if math.isnan(late):
        return 0.0
    rows = events[events["trial_id"] == trial]
    t_fault = rows.loc[rows["kind"] == "fault", "t_monotonic"].min()
    first = rows[(rows["kind"] == "ice_state") & (rows["state"] == "disconnected")
                 & (rows["t_monotonic"] >= t_fault)]["t_monotonic"].min()
    return float((first - t_fault) * 1000 - late)


def detection_late_ms(events: pd.DataFrame, trial: str, spec: dict[str, object]) -> float:
    """How long after its deadline the trial's first 'disconnected' came: the ice_state event's
    time - (the last consent answer it names, `last_heard_t`, + disconnected_after). NaN when
    no such event (none after the fault, or agents that do not report it)."""
    rows = events[(events["trial_id"] == trial)] if len(events) else events
    if not len(rows):
        return math.nan
    t_fault = rows.loc[rows["kind"] == "fault", "t_monotonic"].min()
    states = rows[(rows["kind"] == "ice_state") & (rows["state"] == "disconnected")
                  & (rows["t_monotonic"] >= t_fault)].sort_values("t_monotonic")
    ice = spec.get("ice", {})
    assert isinstance(ice, dict)
    after = float(ice.get("disconnected_after_s", 5.0))
    for _, row in states.iterrows():
        heard = json.loads(row["detail"]).get("last_heard_t")
        if heard is not None:
            return float((row["t_monotonic"] - heard - after) * 1000)
    return math.nan


def run_cell(fault: Fault, kind: str, rtts: list[float], trials: int, jobs: int, out: Path,
             recompute: bool = False) -> pd.DataFrame:
    path = ROOT / "experiments" / fault.file_for(kind)
    data = tomllib.loads(path.read_text())
    data["policies"] = fault.policies[kind]
    data["repetitions"] = trials
    data["matrix"] = {**data.get("matrix", {}), "rtt_ms": rtts}
    peers = {k: v for k, v in data.get("peers", {}).items() if k not in ("offerer_kind", "answerer_kind")}
    peers["kind"] = kind
    data["peers"] = peers
    data["name"] = f"limit-{fault.name}-{kind}"
    spec = parse_experiment(data, file=path)
    folder = out / f"{fault.name}-{kind}"
    run_experiment(spec, folder, jobs=jobs, resume=folder.exists())
    trials_file = folder / "trials.parquet"
    if not trials_file.exists():
        return pd.DataFrame()
    frame = pd.read_parquet(trials_file)
    events = pd.read_parquet(folder / "events.parquet") if (folder / "events.parquet").exists() else pd.DataFrame()
    if recompute and len(events):
        # the trials' metrics again from their raw events, with this checkout's definitions
        fresh = metrics_table(events, spec.timeouts.recover_s).set_index("trial_id")
        for column in fresh.columns.intersection(frame.columns):
            frame[column] = frame["trial_id"].map(fresh[column])
    frame["path_back_ms"] = [path_back_ms(fault, data, events, t) for t in frame["trial_id"]]
    router = data["fault"].get("router") if isinstance(data.get("fault"), dict) else None
    behind = peer_behind(path, data, str(router)) if router else None
    frame["cut"] = [cut_peers(fault, events, t, behind) for t in frame["trial_id"]]
    frame["late_ms"] = [detection_late_ms(events, t, data) for t in frame["trial_id"]]
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--kinds", default="aiortc,chromium")
    parser.add_argument("--faults", default="handover,binding_expiry,relay_kill,blackhole",
                        help=f"any of {', '.join(FAULTS)}")
    parser.add_argument("--rtt", default="20,100")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "recovery_limit")
    parser.add_argument("--recompute", action="store_true",
                        help="recompute the trials' metrics from their events (a finished --out run)")
    args = parser.parse_args()
    if not os.environ.get("ICELAB_SCOPE"):
        parser.error("export ICELAB_SCOPE first (the lab's resources are named and cleaned by it)")
    rtts = [float(x) for x in args.rtt.split(",")]
    lines = []
    for name in args.faults.split(","):
        fault = FAULTS[name]
        for kind in args.kinds.split(","):
            spec = tomllib.loads((ROOT / "experiments" / fault.file_for(kind)).read_text())
            frame = run_cell(fault, kind, rtts, args.trials, args.jobs, args.out, args.recompute)
            for (policy, rtt), rows in (frame.groupby(["policy", "rtt_ms"]) if len(frame) else []):
                ok = rows[rows["recovered"].astype(bool)]
                limits = [fault.limit(spec, str(policy), float(rtt), cut, back)
                          for cut, back in zip(ok["cut"], ok["path_back_ms"], strict=True)] or [
                    fault.limit(spec, str(policy), float(rtt))]
                limit = statistics.median(x.policy_ms for x in limits)
                network = statistics.median(x.network_ms for x in limits)
                formula = limits[0].formula
                median = statistics.median(ok["recovery_ms"]) if len(ok) else math.nan
                gap = statistics.median(ok["media_gap_ms"]) if len(ok) else math.nan
                path = statistics.median(ok["path_back_ms"]) if len(ok) else math.nan
                after = statistics.median(ok["recovery_ms"] - ok["path_back_ms"]) if len(ok) else math.nan
                limit_after = limit - (path if fault.name in ("blackhole", "relay_kill") else 0.0)
                if fault.name == "binding_expiry" and path > 0:
                    limit_after = 3.5 * float(rtt)  # from the state's deadline: the restart
                restarts = statistics.median(rows["restarts"]) if len(rows) else math.nan
                lates = ok["late_ms"].dropna() if "late_ms" in ok else pd.Series(dtype=float)
                late = f"; 'disconnected' {lates.median():+.0f} ms from its deadline" if len(lates) else ""
                lost = statistics.median(ok["units_lost"].dropna()) if ok["units_lost"].notna().any() else math.nan

                def ratio(value: float, bound: float) -> str:
                    return f"{value / bound:>6.2f}" if bound > 0 else f"{'-':>6}"

                lines.append(
                    f"{name:<15} {kind:<9} {str(policy):<20} {rtt:>5.0f} {len(ok):>2}/{len(rows):<2} "
                    f"{median:>8.0f} {gap:>8.0f} {limit:>7.0f} {formula:<14} {ratio(median, limit)} "
                    f"{network:>7.0f} {ratio(median, network)} "
                    f"{path:>6.0f} {after:>7.0f} {ratio(after, limit_after)} "
                    f"{restarts:>4.0f} {lost:>5.0f}  {dominant(ok) if len(ok) else '-'}{late}"
                )
                print(lines[-1], flush=True)
    print()
    print(f"{'fault':<15} {'peers':<9} {'policy':<20} {'rtt':>5} {'ok/n':<5} {'recov ms':>8} "
          f"{'gap ms':>8} {'limit':>7} {'':<14} {'ratio':>6} {'net':>7} {'ratio':>6} {'path':>6} "
          f"{'after':>7} {'ratio':>6} "
          f"{'rst':>4} {'lost':>5}  dominant phase (median)")
    print("limit: what this policy allows (a policy restarting on a state waits for it, under the "
          "experiment's own consent and disconnected_after/failed_after: E[D], E[F]; median of the "
          "trials' limits); net: what the network allows (no state timer: the first unanswered "
          "probe); both equal where the policy waits for no state")
    print("recov: fault -> media both ways (median of recovered trials); gap: largest media gap; "
          "path: the new/restored path usable (handover standby/overlap: 0, LTE was up before the "
          "break; cold/gap: the phone's LTE route event; blackhole: T; relay kill: the relay's "
          "fault_end; binding expiry: the first 'disconnected' due); after: recov - path, and its ratio to the limit's part after the path "
          "(handover: the whole limit; blackhole: r; relay kill: 3 r when the state came first; binding "
          "expiry: path is when the first 'disconnected' came due, after its ratio to 3.5 r); "
          "rst: median restarts per trial; lost: median units lost (both directions); 'disconnected' "
          "from its deadline: the first 'disconnected' after the fault - (the last consent answer its "
          "event names + disconnected_after), median")
    for line in lines:
        print(line)
    print("\nwhat each limit includes (r: RTT between the peers; the docstring gives the reasoning):")
    for name in args.faults.split(","):
        for line in LIMIT_INCLUDES.get(name, ()):
            print(f"  {name:<15} {line}")


if __name__ == "__main__":
    main()
