"""One trial: bring the topology up, start the peers, wait for media, break the network at a
known instant, watch the recovery, tear everything down, and compute the metrics.

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

from lab.errors import ConfigError, LabError
from lab.experiment.events import event_row, events_frame
from lab.experiment.faults import Fault, make_fault
from lab.experiment.metrics import trial_metrics
from lab.experiment.plan import TrialPlan
from lab.experiment.spec import ExperimentSpec
from lab.runtime.agent.config import AgentConfig, Detection, IceServer, SignalingConfig
from lab.runtime.base import AgentProcess

log = logging.getLogger("lab.experiment.trial")

SIGNAL_ROLE = "signal"
RELAY_ROLE = "relay"
FLOWING_UNITS = 5
STEADY_GAP_S = 0.2  # an inter-arrival longer than this restarts the "steady media" clock
TEARDOWN_TIMEOUT_S = 30.0


class TrialFailure(Exception):
    """The trial could not be carried out as specified (reason goes to the results)."""


@dataclass
class TrialResult:
    row: dict[str, Any]
    events: list[dict[str, Any]]


@dataclass
class _Flow:
    """Live view of the media arriving at one receiver (for deciding when to stop)."""

    count: int = 0
    last_rx: float = math.nan
    steady_since: float = math.nan

    def arrival(self, t: float) -> None:
        if self.count == 0 or t - self.last_rx > STEADY_GAP_S:
            self.steady_since = t
        self.count += 1
        self.last_rx = t


def side_restarts(side: str, role: str, polite_role: str) -> bool:
    if side == "both":
        return True
    if side == "polite":
        return role == polite_role
    if side == "impolite":
        return role != polite_role
    return side == role


@dataclass
class Trial:
    spec: ExperimentSpec
    plan: TrialPlan
    trial_dir: Path
    topology_name: str
    runtime: str = "netns"
    events: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.net: Any = None
        self.relays: dict[str, Any] = {}
        self.agents: dict[str, AgentProcess] = {}
        direction = self.spec.media.direction
        # the peers that receive media: their flows decide when the call is up and recovered
        self.receivers = tuple(r for r in ("offerer", "answerer")
                               if direction == "both" or not direction.startswith(r))
        self.flows = {role: _Flow() for role in self.receivers}
        self.t_fault = math.nan
        self.t_fault_done = math.nan
        self.last_restart = -math.inf
        self.last_pair = {"offerer": -math.inf, "answerer": -math.inf}
        self.connection_state = {"offerer": "new", "answerer": "new"}
        self.gave_up = False
        self.agent_failure: str | None = None
        self._signal_proc: Any = None
        self._docker: Any = None  # lab.runtime.docker.DockerRuntime on the docker runtime
        self._signal_server: Any = None
        self._signal_log: Any = None
        self._captures: list[Any] = []
        self._shaped: dict[tuple[str, str], dict[str, float]] = {}
        self.timings: dict[str, float] = {}
        # pyroute2 (lab.net) must not run in an event loop's thread, and its sockets stay with
        # the thread that made them: every lab.net / lab.turn call of a trial runs on this one.
        self._net_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"net-{self.topology_name}")

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._net_thread, functools.partial(fn, *args, **kwargs))

    # ----- event log --------------------------------------------------------------------

    def record(self, kind: str, **fields: Any) -> None:
        self.events.append(event_row(self.plan.trial_id, "orchestrator",
                                     {"t": time.monotonic(), "kind": kind, **fields}))

    def _on_agent_event(self, role: str, record: dict[str, Any]) -> None:
        kind = record.get("kind")
        if kind == "signal":
            other = "answerer" if role == "offerer" else "offerer"
            if other in self.agents:
                self.agents[other].send({"cmd": "signal", "msg": record.get("msg")})
            return
        if kind == "media_rx" and role in self.flows:
            self.flows[role].arrival(float(record["t"]))
        elif kind == "restart":
            self.last_restart = max(self.last_restart, float(record["t"]))
        elif kind == "connection_state":
            self.connection_state[role] = str(record.get("state"))
        elif kind == "selected_pair":
            self.last_pair[role] = max(self.last_pair[role], float(record["t"]))
        elif kind == "error" and record.get("fatal"):
            self.agent_failure = f"{role} agent: {record.get('message')}"
        self.events.append(event_row(self.plan.trial_id, role, record))

    def broadcast(self, command: dict[str, Any]) -> None:
        for agent in self.agents.values():
            agent.send(command)

    def link_shaping(self, node: str, iface: str) -> dict[str, float]:
        return dict(self._shaped.get((node, iface), {}))

    # ----- the trial --------------------------------------------------------------------

    async def run(self) -> TrialResult:
        spec, plan = self.spec, self.plan
        status, reason = "ok", None
        fault = make_fault(spec.fault)
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
            await self._teardown(fault)
            self.timings["teardown_s"] = time.monotonic() - t_teardown
        return self._result(status, reason, t_start)

    async def _scenario(self, fault: Fault) -> None:
        spec = self.spec
        from lab.net import Network, load_topology

        t0 = time.monotonic()
        topology = load_topology(spec.topology_path or spec.topology)
        self.net = await self.call(Network.up, topology, name=self.topology_name)
        self._check_hosts()
        if self.runtime == "docker":  # peer and relay hosts move into containers before anything runs there
            from lab.runtime.docker import DockerRuntime

            self._docker = await self.call(DockerRuntime.attach, self.net, self.trial_dir,
                                           [spec.peers.offerer, spec.peers.answerer])
        # Python processes (signaling server, agents) start first and import while shaping and
        # relays come up; the agents begin when told, once the signaling server is ready
        ice_servers = await self.call(self._ice_servers)
        signaling = await self.call(self._signaling_config)
        await self.call(self._start_signaling, signaling)
        await self._start_signaling_in_orchestrator(signaling)
        await self.call(self._start_agents, ice_servers, signaling)
        for agent in self.agents.values():
            await agent.attach()
        await self.call(self._apply_matrix)
        await self.call(self._start_relays)
        fault.check(self)
        await fault.prepare(self)
        await self.call(self._start_captures)
        self.record("topology_up")
        await self.call(self._wait_signaling_ready)
        self.timings["setup_s"] = time.monotonic() - t0

        t1 = time.monotonic()
        self.broadcast({"cmd": "start"})
        self.record("agents_started")
        await self._wait(lambda: all(f.count >= FLOWING_UNITS for f in self.flows.values()),
                         spec.timeouts.connect_s, "media did not flow both ways within "
                         f"{spec.timeouts.connect_s:g} s of the start")
        self.record("media_flowing")
        self.timings["connect_s"] = time.monotonic() - t1

        await self._sleep_watching(spec.fault.at_s)
        self.t_fault = time.monotonic()
        await fault.inject(self)
        self.t_fault_done = time.monotonic()  # its last step (make-before-break, transient faults)
        await self._wait_recovered()

    def _check_hosts(self) -> None:
        for key in ("offerer", "answerer"):
            host = getattr(self.spec.peers, key)
            try:
                node = self.net.node(host)
            except LabError as error:
                raise ConfigError(self.spec.source, f"peers.{key}", str(error)) from None
            if node.kind != "host":
                raise ConfigError(self.spec.source, f"peers.{key}", f"{host} is a {node.kind}, not a host")

    def _role_hosts(self, role: str) -> list[str]:
        return [n.name for n in self.net.plan.nodes.values() if n.kind == "host" and n.role == role]

    def _apply_matrix(self) -> None:
        """RTT and loss on the uplinks of the routers the peers sit behind (both directions).

        A packet between two peers crosses two shaped uplinks, each shaped at both ends, so the
        delay per shaped egress is rtt/4 and the loss per egress makes the path's total loss."""
        rtt, loss = self.plan.rtt_ms, self.plan.loss_pct
        if rtt <= 0 and loss <= 0:
            return
        per_egress_loss = (1 - (1 - loss / 100.0) ** 0.5) * 100.0 if loss > 0 else 0.0
        settings = {"delay_ms": rtt / 4.0, "loss_pct": per_egress_loss}
        for router in self._peer_routers():
            self.net.impair.shape(router, "wan", **settings)
            self._shaped[(router, "wan")] = settings

    def _peer_routers(self) -> list[str]:
        routers: list[str] = []
        for host in (self.spec.peers.offerer, self.spec.peers.answerer):
            for iface in self.net.node(host).ifaces.values():
                peer = iface.peer
                if peer and self.net.node(peer).kind == "router" and peer not in routers:
                    routers.append(peer)
        return routers

    def _ice_servers(self) -> list[IceServer]:
        """STUN on every relay host for every trial; TURN too when the spec asks for it."""
        from lab.turn.topology import default_specs, resolve_spec
        from lab.turn import RelaySpec

        servers: list[IceServer] = []
        for data in default_specs(self.net):
            relay_spec = resolve_spec(self.net, RelaySpec.model_validate(data))
            servers.append(IceServer(urls=[f"stun:{relay_spec.address}:{relay_spec.port}"]))
            if self.spec.ice.turn:
                user, password = next(iter(relay_spec.users.items()))  # the relay's static user
                servers.append(IceServer(urls=[f"turn:{relay_spec.address}:{relay_spec.port}?transport=udp"],
                                         username=user, credential=password))
        return servers

    def _start_relays(self) -> None:
        """One coturn per relay host (lab.turn), started before the agents begin."""
        from lab.turn.topology import start_relays

        relays = self._docker.start_relays(self.trial_dir) if self._docker else start_relays(self.net, self.trial_dir)
        for relay in relays:
            self.relays[relay.spec.host] = relay

    def _wait_signaling_ready(self, timeout: float = 15.0) -> None:
        """The server prints one ready line; waiting for it spares the clients their backoff."""
        if self._signal_proc is None:
            return
        log_path = self.trial_dir / "signaling.log"
        deadline = time.monotonic() + timeout
        while b"signaling-server-ready" not in log_path.read_bytes():
            if self._signal_proc.poll() is not None:
                raise TrialFailure(f"signaling server exited with code {self._signal_proc.returncode} "
                                   "(see signaling.log)")
            if time.monotonic() > deadline:
                raise TrialFailure(f"signaling server not ready within {timeout:g} s")
            time.sleep(0.01)

    def _start_captures(self) -> None:
        import subprocess

        for host in self.spec.capture.hosts:
            try:
                iface = self.net.iface(host).name
            except LabError as error:
                raise ConfigError(self.spec.source, "capture.hosts", str(error)) from None
            pcap = self.trial_dir / f"capture-{host}.pcap"
            log_file = (self.trial_dir / f"capture-{host}.log").open("ab")
            proc = self.net.popen(host, ["tcpdump", "-i", iface, "-n", "-U", "-Z", "root", "-w", str(pcap),
                                         self.spec.capture.filter],
                                  stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)
            log_file.close()
            self._captures.append(proc)
        deadline = time.monotonic() + 5.0
        for host in self.spec.capture.hosts:  # tcpdump says "listening on" once it captures
            log_path = self.trial_dir / f"capture-{host}.log"
            while b"listening on" not in log_path.read_bytes() and time.monotonic() < deadline:
                time.sleep(0.02)

    def signaling_host(self) -> str:
        return self._signaling_host()

    def _signaling_host(self) -> str:
        sig = self.spec.signaling
        hosts = [sig.host] if sig.host else self._role_hosts(SIGNAL_ROLE)
        if not hosts:
            raise ConfigError(self.spec.source, "signaling.host",
                              "no signaling host: name one, or give a topology host role = \"signal\"")
        return hosts[0]

    def _signaling_config(self) -> SignalingConfig:
        sig = self.spec.signaling
        if sig.path == "control":
            return SignalingConfig(path="control")
        address = self.net.address(self._signaling_host())
        return SignalingConfig(path="lab", url=f"ws://{address}:{sig.port}", room=self.plan.trial_id)

    async def _start_signaling_in_orchestrator(self, signaling: SignalingConfig) -> None:
        if signaling.path != "lab" or self.spec.signaling.server != "in-orchestrator":
            return
        from lab.experiment.signaling_host import NamespacedSignalingServer, listening_socket, log_to_file

        self._signal_log = log_to_file(self.trial_dir / "signaling.log")
        host = self._signaling_host()
        sock = await self.call(listening_socket, self.net.netns(host), self.net.address(host),
                               self.spec.signaling.port)
        self._signal_server = NamespacedSignalingServer(sock)
        await self._signal_server.start()

    def _start_signaling(self, signaling: SignalingConfig) -> None:
        if signaling.path != "lab" or self.spec.signaling.server != "process":
            return
        import subprocess
        import sys

        host = self._signaling_host()
        log_file = (self.trial_dir / "signaling.log").open("ab")
        self._signal_proc = self.net.popen(
            host, [sys.executable, "-m", "lab.rtc.signaling.server", "--host", self.net.address(host),
                   "--port", str(self.spec.signaling.port)],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)
        log_file.close()

    def _start_agents(self, ice_servers: list[IceServer], signaling: SignalingConfig) -> None:
        from lab.runtime import make_runtime

        runtime = self._docker or make_runtime(self.runtime, self.net)
        spec, policy = self.spec, self.plan.policy
        detection = Detection(consent_interval_s=spec.ice.consent_interval_s,
                              disconnected_after_s=spec.ice.disconnected_after_s,
                              failed_after_s=spec.ice.failed_after_s)
        direction = spec.media.direction
        for role in ("offerer", "answerer"):
            kind, _, rtc_profile = self.plan.kind_of(spec, role).partition("~")  # "aiortc~chrome": a stand-in
            config = AgentConfig(
                trial_id=self.plan.trial_id, role=role, host=getattr(spec.peers, role),
                kind=kind, rtc_profile=rtc_profile or None, polite=spec.peers.polite == role,
                restarts=side_restarts(policy.side, role, spec.peers.polite),
                policy=policy, signaling=signaling, ice_servers=ice_servers,
                ice_transport_policy=spec.ice.transport, detection=detection, codec=spec.media.codec,
                send_media=direction == "both" or direction.startswith(role),
                watch_network=policy.trigger == "network-change",
                wait_for_start=True,
            )
            self.agents[role] = runtime.start_agent(
                config, self.trial_dir / f"agent-{role}.log",
                lambda record, role=role: self._on_agent_event(role, record))

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
        """Until, observe_s after the fault's last step, media flows steadily at both receivers
        and any restart reached its new pair on both peers (or recover_s after the fault)."""
        t = self.spec.timeouts

        def recovered() -> bool:
            now = time.monotonic()
            if now - self.t_fault_done < t.observe_s:
                return False
            if any(p < self.last_restart for p in self.last_pair.values()):
                return False  # a restart is still under way: observe it to its new pair
            return all(
                f.last_rx > self.t_fault_done and now - f.last_rx < STEADY_GAP_S
                and now - f.steady_since >= t.settle_s
                for f in self.flows.values()
            )

        policy = self.plan.policy
        never_restarts = policy.trigger == "never" and not policy.also_on_failed

        def given_up() -> bool:
            # 'failed' is terminal until a restart, and this policy never restarts
            return never_restarts and all(state == "failed" for state in self.connection_state.values())

        deadline = self.t_fault + t.recover_s + t.settle_s
        while not recovered() and time.monotonic() < deadline:
            if given_up():
                self.gave_up = True
                return
            self._check_agents()
            await asyncio.sleep(0.05)

    # ----- teardown and results ---------------------------------------------------------

    async def _teardown(self, fault: Fault) -> None:
        stops = [agent.stop(timeout=1.5) for agent in self.agents.values()]
        for outcome in await asyncio.gather(*stops, return_exceptions=True):
            if isinstance(outcome, BaseException):
                log.warning("stopping an agent: %s", outcome)
        if self._signal_server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._signal_server.stop(), 2.0)
        if self._signal_log is not None:
            from lab.experiment.signaling_host import detach_log

            detach_log(self._signal_log)
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
        import signal as signals

        for proc in self._captures:
            proc.send_signal(signals.SIGINT)  # tcpdump writes out what it buffered
        for proc in self._captures:
            try:
                proc.wait(timeout=5)
            except Exception:
                proc.kill()
                proc.wait()
        if self._signal_proc is not None:
            self._signal_proc.kill()
            self._signal_proc.wait()
        for relay in self.relays.values():
            with contextlib.suppress(Exception):
                relay.close()
        if self._docker is not None:
            self._docker.close()
        if self.net is not None:
            with contextlib.suppress(Exception):
                fault.lift(self)
            self.net.down()

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
        }
        row.update(metrics.row())
        if status != "ok":
            row["recovered"] = False
            row["failure_reason"] = reason
        elif self.gave_up and not row["recovered"]:
            row["failure_reason"] = f"both peers 'failed' and the policy never restarts; {row['failure_reason']}"
        row["setup_ms"] = self.timings.get("setup_s", math.nan) * 1000.0
        row["connect_ms"] = self.timings.get("connect_s", math.nan) * 1000.0
        row["teardown_ms"] = self.timings.get("teardown_s", math.nan) * 1000.0
        row["duration_s"] = time.monotonic() - t_start
        row["events"] = len(self.events)
        return TrialResult(row=row, events=self.events)
