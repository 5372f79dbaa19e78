"""One trial, in sequence: set up (a Lab), start the peers, wait for media, break the network at
a known instant (the fault), observe the recovery, tear down, compute the metrics.

Each trial owns its topology (its own namespaces, named after the trial), so trials can run
in parallel. Whatever the trial started is torn down in `finally`, whatever happened.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.contract import (
    Command,
    ErrorEvent,
    Signal,
    SignalEvent,
    SignalingConfig,
    Start,
    parse_event,
)
from lab.errors import ConfigError, LabError
from lab.experiment.agents import ROLES, agent_config, receivers
from lab.experiment.browser_state import browser_state_of, warm_browsers
from lab.experiment.events import event_row, events_frame
from lab.experiment.faults import Fault, make_fault
from lab.experiment.metrics import trial_metrics
from lab.experiment.observe import Observer
from lab.experiment.pcap import merge_trial_captures
from lab.experiment.plan import TrialPlan
from lab.experiment.sfu import sfu_columns, sfu_leg, through_sfu
from lab.experiment.spec import ExperimentSpec
from lab.experiment.testbed import Lab
from lab.runtime.base import AgentProcess

log = logging.getLogger("lab.experiment.trial")

FLOWING_UNITS = 5
TEARDOWN_TIMEOUT_S = 30.0


class TrialFailure(Exception):
    """The trial could not be carried out as specified (reason goes to the results)."""


@dataclass
class TrialResult:
    row: dict[str, Any]
    events: list[dict[str, Any]]


@dataclass
class Trial:
    spec: ExperimentSpec
    plan: TrialPlan
    trial_dir: Path
    topology_name: str
    runtime: str = "netns"
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lab: Lab | None = None
        self.agents: dict[str, AgentProcess] = {}
        self.receivers = receivers(self.spec)  # the peers that receive media
        # lab.experiment.observe: when to stop watching
        self.observer = Observer(self.receivers, per_leg=through_sfu(self.spec, self.plan))
        self.t_fault = math.nan
        self.t_fault_done = math.nan
        self.agent_failure: str | None = None
        self.timings: dict[str, float] = {}
        self.fault: Fault | None = None
        # pyroute2 (lab.net) must not run in an event loop's thread, and its sockets stay with
        # the thread that made them: every lab.net / lab.turn call of a trial runs on this one.
        self._net_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"net-{self.topology_name}")

    @property
    def net(self) -> Any:
        return self.lab.net if self.lab is not None else None

    @property
    def sfu(self) -> Any:
        """The trial's Janus (lab.sfu), if the call goes through it."""
        return self.lab.sfu if self.lab is not None else None

    @property
    def relays(self) -> dict[str, Any]:
        return dict(self.lab.relays) if self.lab is not None else {}

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._net_thread, functools.partial(fn, *args, **kwargs))

    # ----- event log --------------------------------------------------------------------

    def record(self, kind: str, **fields: Any) -> None:
        self.events.append(event_row(self.plan.trial_id, "orchestrator",
                                     {"t": time.monotonic(), "kind": kind, **fields}))

    def _on_agent_event(self, role: str, record: dict[str, Any]) -> None:
        try:
            event = parse_event(record)
        except ValueError as error:
            log.warning("trial %s: %s agent: %s", self.plan.trial_id, role, error)
            return
        if isinstance(event, SignalEvent):
            other = "answerer" if role == "offerer" else "offerer"
            if other in self.agents:
                self.agents[other].send(Signal(msg=event.msg))
            return
        self.observer.on_event(role, str(record.get("kind")), record)
        if isinstance(event, ErrorEvent) and event.fatal:
            self.agent_failure = f"{role} agent: {event.message}"
        self.events.append(event_row(self.plan.trial_id, role, record))

    def broadcast(self, command: Command) -> None:
        for agent in self.agents.values():
            agent.send(command)

    def link_shaping(self, node: str, iface: str) -> dict[str, float]:
        return self.lab.link_shaping(node, iface) if self.lab is not None else {}

    def signaling_host(self) -> str:
        assert self.lab is not None
        return self.lab.signaling_host(self.spec.signaling.host, self.spec.source)

    # ----- the trial --------------------------------------------------------------------

    async def run(self) -> TrialResult:
        spec, plan = self.spec, self.plan
        status, reason = "ok", None
        fault = self.fault = make_fault(spec.fault)
        t_start = time.monotonic()
        self.record("trial_start", policy=plan.policy.name, rtt_ms=plan.rtt_ms, loss_pct=plan.loss_pct,
                    repetition=plan.repetition, seed=plan.seed, topology=self.topology_name)
        try:
            async with asyncio.timeout(spec.timeouts.trial_s):
                await self._scenario(fault)
        except TimeoutError:
            status, reason = "timeout", f"trial exceeded {spec.timeouts.trial_s:g} s"
        except TrialFailure as error:
            status, reason = "failed", str(error)
        except ConfigError:
            raise
        except (LabError, Exception) as error:  # recorded; the run goes on
            status, reason = "error", f"{type(error).__name__}: {error}"
            (self.trial_dir / "error.txt").write_text(traceback.format_exc())
        finally:
            self.record("trial_end")
            t_teardown = time.monotonic()
            await self._teardown_to_the_end(fault)
            self.timings["teardown_s"] = time.monotonic() - t_teardown
        return self._result(status, reason, t_start)

    async def _scenario(self, fault: Fault) -> None:
        spec, plan = self.spec, self.plan
        peers = [spec.peers.offerer, spec.peers.answerer]

        t0 = time.monotonic()
        self.lab = Lab(spec.load_topology(), name=self.topology_name, runtime=self.runtime,
                       out_dir=self.trial_dir, peers=peers, relays=False)
        # the runtime is prepared (docker: peer and relay hosts move into containers) with it
        await self.call(self.lab.up)
        # the network as it is before the call, set before any browser starts (browser_state)
        await fault.prepare(self)
        # Python processes (signaling server, agents) start first and import while shaping and
        # relays come up; the agents begin when told, once the signaling server is ready
        ice_servers = await self.call(self.lab.ice_servers, spec.ice.turn)
        janus = await self.call(self.lab.attach_sfu, spec.sfu, spec.source) if through_sfu(spec, plan) else None
        signaling = await self._start_signaling() if janus is None else SignalingConfig(path="control")
        for role in ROLES:
            leg = sfu_leg(spec, role, janus) if janus is not None else None
            config = agent_config(spec, plan, role, ice_servers, signaling, leg)
            self.agents[role] = await self.call(self.lab.start_agent, config,
                                                lambda record, role=role: self._on_agent_event(role, record))
        for agent in self.agents.values():
            await agent.attach()
        await self.call(self.lab.shape_path, peers, plan.rtt_ms, plan.loss_pct)
        await self.call(self.lab.start_relays)
        if janus is not None:  # after the relay: it is Janus's TURN server
            self.timings["sfu_start_s"] = await self.call(janus.start)
        fault.check(self)
        await warm_browsers(self)
        await self.call(self.lab.start_captures, spec.capture.hosts, spec.capture.filter, spec.source)
        self.record("topology_up")
        try:
            await self.call(self.lab.wait_signaling_ready)
        except LabError as error:
            raise TrialFailure(str(error)) from None
        self.timings["setup_s"] = time.monotonic() - t0

        t1 = time.monotonic()
        self.broadcast(Start())
        self.record("agents_started")
        await self._wait(lambda: self.observer.flowing(FLOWING_UNITS),
                         spec.timeouts.connect_s, "media did not flow both ways within "
                         f"{spec.timeouts.connect_s:g} s of the start")
        self.record("media_flowing")
        self.timings["connect_s"] = time.monotonic() - t1

        await self._sleep_watching(spec.fault.at_s)
        self.t_fault = time.monotonic()
        await fault.inject(self)
        self.t_fault_done = time.monotonic()  # its last step (make-before-break, transient faults)
        if not math.isnan(fault.t_break):
            self.t_fault = fault.t_break  # the break, as the `fault` event says
        await self._wait_recovered()

    async def _start_signaling(self) -> SignalingConfig:
        """The lab signaling server (in this process or its own, on the signaling host), or the
        control path (the orchestrator relays the messages)."""
        sig, lab = self.spec.signaling, self.lab
        assert lab is not None
        if sig.path == "control":
            return SignalingConfig(path="control")
        host = self.signaling_host()
        if sig.server == "process":
            url = await self.call(lab.start_signaling_process, host, sig.port)
        else:
            url = await lab.serve_signaling(await self.call(lab.signaling_socket, host, sig.port))
        return SignalingConfig(path="lab", url=url, room=self.plan.trial_id)

    # ----- waiting ----------------------------------------------------------------------

    def _check_agents(self) -> None:
        if self.agent_failure:
            raise TrialFailure(self.agent_failure)
        for role, agent in self.agents.items():
            code = agent.process.poll()
            if code is not None:
                raise TrialFailure(f"{role} agent exited with code {code} (see agent-{role}.log)")

    async def _wait(self, done: Any, timeout: float, reason: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            self._check_agents()
            if time.monotonic() > deadline:
                raise TrialFailure(reason)
            await asyncio.sleep(0.05)

    async def _sleep_watching(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._check_agents()
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    async def _wait_recovered(self) -> None:
        """Observe the whole window (lab.experiment.observe)."""
        t = self.spec.timeouts

        def fault_end() -> float:  # the fault's last step, recorded or returned
            steps = [e["t_monotonic"] for e in self.events if e["kind"] in ("fault_end", "fault_step")]
            return max([self.t_fault_done if math.isfinite(self.t_fault_done) else self.t_fault, *steps])

        await self.observer.watch(fault_end, t.recover_s, t.observe_s, t.settle_s, self._check_agents,
                                  t_fault=self.t_fault)
        self.record("observation_end", reason=self.observer.stopped_because)

    # ----- teardown and results ---------------------------------------------------------

    async def _teardown_to_the_end(self, fault: Fault) -> None:
        """The teardown, finished even if the trial is cancelled meanwhile (an interrupted run,
        lab.experiment.interrupt); the cancellation then goes on."""
        teardown = asyncio.ensure_future(self._teardown(fault))
        cancelled = False
        while not teardown.done():
            try:
                await asyncio.shield(teardown)
            except asyncio.CancelledError:
                cancelled = True
        teardown.result()
        if cancelled:
            raise asyncio.CancelledError

    async def _teardown(self, fault: Fault) -> None:
        stops = [agent.stop(timeout=1.5) for agent in self.agents.values()]
        for outcome in await asyncio.gather(*stops, return_exceptions=True):
            if isinstance(outcome, BaseException):
                log.warning("stopping an agent: %s", outcome)
        if self.lab is not None:
            await self.lab.stop_signaling_server()
        try:
            # bounded: if a lab.net call hung, the trial still ends (icelab clean removes the rest)
            await asyncio.wait_for(self.call(self._teardown_network, fault), TEARDOWN_TIMEOUT_S)
        except TimeoutError:
            log.error("trial %s: network teardown did not finish in %s s", self.plan.trial_id, TEARDOWN_TIMEOUT_S)
            (self.trial_dir / "error.txt").open("a").write(
                f"network teardown did not finish in {TEARDOWN_TIMEOUT_S} s; run `icelab clean`\n")
        finally:
            self._net_thread.shutdown(wait=False)

    def _teardown_network(self, fault: Fault) -> None:
        lab = self.lab
        if lab is None:
            return
        if self.net is not None:
            with contextlib.suppress(Exception):
                fault.lift(self)
        lab.close()

    def _result(self, status: str, reason: str | None, t_start: float) -> TrialResult:
        plan, spec = self.plan, self.spec
        frame = events_frame(self.events)
        metrics = trial_metrics(frame, spec.timeouts.recover_s, receivers=self.receivers)
        row: dict[str, Any] = {
            "trial_id": plan.trial_id, "index": plan.index, "experiment": spec.name,
            "fault": spec.fault.type, "policy": plan.policy.name, "trigger": plan.policy.trigger,
            "action": plan.policy.action, "side": plan.policy.side, "grace_s": plan.policy.grace_s,
            "rtt_ms": plan.rtt_ms, "loss_pct": plan.loss_pct, "repetition": plan.repetition,
            "seed": plan.seed, "runtime": self.runtime, "status": status,
            # "aiortc" or "chromium" when both sides are alike, else "<offerer>-<answerer>"
            "peer_kind": "-".join(dict.fromkeys(plan.kind_of(spec, r) for r in ("offerer", "answerer"))),
            "offerer_kind": plan.kind_of(spec, "offerer"), "answerer_kind": plan.kind_of(spec, "answerer"),
            "browser_state": browser_state_of(spec, plan),
        }
        row.update(metrics.row())
        row.update(sfu_columns(spec, plan, self.fault, self.events, self.timings))
        if status != "ok":
            row["recovered"] = False
            row["failure_reason"] = reason
        row["observed_until"] = self.observer.stopped_because
        row["capture"] = merge_trial_captures(self.trial_dir)
        row["setup_ms"] = self.timings.get("setup_s", math.nan) * 1000.0
        row["connect_ms"] = self.timings.get("connect_s", math.nan) * 1000.0
        row["teardown_ms"] = self.timings.get("teardown_s", math.nan) * 1000.0
        row["duration_s"] = time.monotonic() - t_start
        row["events"] = len(self.events)
        return TrialResult(row=row, events=self.events)
