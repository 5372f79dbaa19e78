"""A lab: one topology up, with what runs on it besides the peers (relays, signaling, captures,
link shaping), and a handle per host (`Peer`).

    from lab import Lab, Topology
    with Lab("topologies/two_peers.toml") as lab:
        alice, bob = lab.peer("alice"), lab.peer("bob")
        assert alice.ping(lab.peer("relay"))

`with Lab(...)` brings the topology up, prepares the runtime (containers on `docker`), starts the
relays and, unless told otherwise, nothing else; `close()` (the end of the block) takes down
whatever was started, in reverse order, whatever happened. A trial (lab.experiment.trial) uses
the same steps one by one.

lab.net (pyroute2) must not run in an event loop's thread, and its sockets stay with the thread
that made them. From asyncio code, use `async with Lab(...) as lab:`, `await lab.call(fn, ...)`
for the lab's own methods and `await lab.agent(config, on_event)`: they run on the lab's one
thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import logging
import signal as signals
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from lab.contract import AgentConfig, IceServer
from lab.errors import ConfigError, LabError
from lab.experiment.check import RELAY_ROLE, SIGNAL_ROLE
from lab.sfu.spec import SFU_ROLE

if TYPE_CHECKING:
    from lab.experiment.signaling_host import NamespacedSignalingServer
    from lab.net import Network, Topology
    from lab.runtime.base import AgentProcess, EventCallback, Runtime
    from lab.sfu import Janus, SfuSpec
    from lab.turn.relay import Relay

log = logging.getLogger("lab.experiment.testbed")
T = TypeVar("T")

SIGNALING_READY_S = 15.0
CAPTURE_READY_S = 5.0


class Peer:
    """One host of a lab: its addresses, and programs run in its namespace (or container)."""

    def __init__(self, lab: Lab, host: str) -> None:
        self.lab = lab
        self.host = host

    def __repr__(self) -> str:
        return f"Peer({self.host!r})"

    @property
    def address(self) -> str:
        return self.lab.net.address(self.host)

    def addresses(self, iface: str | None = None) -> list[str]:
        return self.lab.net.addresses(self.host, iface)

    def run(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """Run a command in the host's namespace and wait for it (text output captured)."""
        kwargs.setdefault("capture_output", True)
        kwargs.setdefault("text", True)
        done: subprocess.CompletedProcess[str] = self.lab.net.run(self.host, argv, **kwargs)
        return done

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc: subprocess.Popen[bytes] = self.lab.net.popen(self.host, argv, **kwargs)
        return proc

    def ping(self, other: Peer | str, count: int = 1, timeout_s: float = 2.0) -> bool:
        """Whether `other` (a peer or an address) answers ICMP echo from this host."""
        address = other.address if isinstance(other, Peer) else other
        done = self.run(["ping", "-n", "-c", str(count), "-W", f"{timeout_s:g}", address])
        return done.returncode == 0

    def start_agent(self, config: AgentConfig, on_event: EventCallback) -> AgentProcess:
        """Start a peer agent (lab.contract's AgentConfig; its host must be this one)."""
        if config.host != self.host:
            raise LabError(f"an agent for {config.host} cannot start on {self.host}")
        return self.lab.start_agent(config, on_event)


class Lab:
    """One topology up, and what runs on it besides the peer agents. See the module's docstring."""

    def __init__(self, topology: Topology | str | Path, *, name: str | None = None, runtime: str = "netns",
                 out_dir: Path | None = None, peers: list[str] | None = None, relays: bool = True) -> None:
        from lab.net import Topology, load_topology

        self.topology = topology if isinstance(topology, Topology) else load_topology(topology)
        self.name = name or self.topology.name
        self.runtime_name = runtime
        self._own_dir = out_dir is None
        self.out_dir = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix="icelab-lab-"))
        self._peer_hosts = peers
        self._with_relays = relays
        self._net: Network | None = None
        self.runtime: Runtime | None = None
        self.relays: dict[str, Relay] = {}
        self.sfu: Janus | None = None
        self.captures: list[subprocess.Popen[bytes]] = []
        self.shaped: dict[tuple[str, str], dict[str, float]] = {}
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._signal_proc: subprocess.Popen[bytes] | None = None
        self._signal_server: NamespacedSignalingServer | None = None
        self._signal_log: logging.Handler | None = None

    # ----- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> Lab:
        try:
            self.up()
            if self._with_relays:
                self.start_relays()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking lab call on the lab's own thread (never on the event loop's)."""
        if self._thread is None:
            self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"lab-{self.name}")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, functools.partial(fn, *args, **kwargs))

    async def __aenter__(self) -> Lab:
        await self.call(self.__enter__)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.stop_signaling_server()
            await self.call(self.close)
        finally:
            if self._thread is not None:
                self._thread.shutdown(wait=False)
                self._thread = None

    async def agent(self, config: AgentConfig, on_event: EventCallback) -> AgentProcess:
        """start_agent() on the lab's thread, its events then read on this event loop."""
        process = await self.call(self.start_agent, config, on_event)
        await process.attach()
        return process

    def up(self) -> Network:
        """The topology's namespaces, and the runtime prepared on them."""
        from lab.net import Network
        from lab.runtime import runtime_class

        self._net = Network.up(self.topology, name=self.name)
        peers = self._peer_hosts if self._peer_hosts is not None else self.net.hosts()
        peers = [h for h in peers if self.net.node(h).role not in (RELAY_ROLE, SIGNAL_ROLE, SFU_ROLE)]
        self.runtime = runtime_class(self.runtime_name).prepare(self.net, self.out_dir, peers)
        return self._net

    @property
    def net(self) -> Network:
        if self._net is None:
            raise LabError("the lab is not up (use `with Lab(...)` or call up())")
        return self._net

    def peer(self, host: str) -> Peer:
        node = self.net.node(host)
        if node.kind != "host":
            raise LabError(f"{host} is a {node.kind}, not a host")
        return Peer(self, host)

    def hosts(self, role: str | None = None) -> list[str]:
        return [n.name for n in self.net.plan.nodes.values() if n.kind == "host" and (role is None or n.role == role)]

    def close(self) -> None:
        """Stop captures, signaling, the SFU, relays, the runtime and the topology (idempotent)."""
        self.stop_captures()
        if self._signal_proc is not None:
            self._signal_proc.kill()
            self._signal_proc.wait()
            self._signal_proc = None
        if self.sfu is not None:
            with contextlib.suppress(Exception):
                self.sfu.close()
            self.sfu = None
        for relay in self.relays.values():
            with contextlib.suppress(Exception):
                relay.close()
        self.relays = {}
        if self.runtime is not None:
            runtime, self.runtime = self.runtime, None
            runtime.close()
        if self._net is not None:
            net, self._net = self._net, None
            net.down()
        if self._own_dir:
            import shutil

            shutil.rmtree(self.out_dir, ignore_errors=True)

    # ----- relays ------------------------------------------------------------------------

    def start_relays(self) -> dict[str, Relay]:
        """One coturn per relay host (lab.turn), where the runtime runs them."""
        assert self.runtime is not None, "up() first"
        for relay in self.runtime.start_relays(self.out_dir):
            self.relays[relay.spec.host] = relay
        return self.relays

    def attach_sfu(self, spec: SfuSpec, source: str | None = None) -> Janus:
        """Janus (lab.sfu) on the topology's SFU host, where the runtime runs it (docker: in the
        host's container), not started yet (`lab.sfu.start()`); its URL is known at once.
        close() kills it."""
        assert self.runtime is not None, "up() first"
        if self.sfu is None:
            self.sfu = self.runtime.attach_sfu(spec, self.out_dir, source)
        return self.sfu

    def ice_servers(self, turn: bool = False) -> list[IceServer]:
        """STUN on every relay host; TURN too (with the relay's static user) when asked."""
        from lab.turn import RelaySpec
        from lab.turn.topology import default_specs, resolve_spec

        servers: list[IceServer] = []
        for data in default_specs(self.net):
            relay_spec = resolve_spec(self.net, RelaySpec.model_validate(data))
            servers.append(IceServer(urls=[f"stun:{relay_spec.address}:{relay_spec.port}"]))
            if turn:
                user, password = next(iter(relay_spec.users.items()))
                servers.append(IceServer(urls=[f"turn:{relay_spec.address}:{relay_spec.port}?transport=udp"],
                                         username=user, credential=password))
        return servers

    # ----- signaling ---------------------------------------------------------------------

    def signaling_host(self, host: str | None = None, source: str | None = None) -> str:
        """`host`, or the topology's host with role "signal"."""
        hosts = [host] if host else self.hosts(SIGNAL_ROLE)
        if not hosts:
            raise ConfigError(source, "signaling.host",
                              "no signaling host: name one, or give a topology host role = \"signal\"")
        return hosts[0]

    def signaling_url(self, host: str, port: int) -> str:
        return f"ws://{self.net.address(host)}:{port}"

    def start_signaling_process(self, host: str, port: int) -> str:
        """lab.rtc's signaling server as its own process on `host`; its URL."""
        log_file = (self.out_dir / "signaling.log").open("ab")
        self._signal_proc = self.net.popen(
            host, [sys.executable, "-m", "lab.rtc.signaling.server", "--host", self.net.address(host),
                   "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)
        log_file.close()
        return self.signaling_url(host, port)

    def signaling_socket(self, host: str, port: int) -> socket.socket:
        """A listening socket in `host`'s namespace, for serve_signaling()."""
        from lab.experiment.signaling_host import listening_socket

        return listening_socket(self.net.netns(host), self.net.address(host), port)

    async def serve_signaling(self, sock: socket.socket) -> str:
        """lab.rtc's signaling server on this event loop, on a socket from signaling_socket()
        (so every signaling packet crosses the lab network, as from a process on the host)."""
        from lab.experiment.signaling_host import NamespacedSignalingServer, log_to_file

        self._signal_log = log_to_file(self.out_dir / "signaling.log")
        self._signal_server = NamespacedSignalingServer(sock)
        await self._signal_server.start()
        address, port = sock.getsockname()[:2]
        return f"ws://{address}:{port}"

    async def stop_signaling_server(self) -> None:
        if self._signal_server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._signal_server.stop(), 2.0)
            self._signal_server = None
        if self._signal_log is not None:
            from lab.experiment.signaling_host import detach_log

            detach_log(self._signal_log)
            self._signal_log = None

    def wait_signaling_ready(self, timeout: float = SIGNALING_READY_S) -> None:
        """A signaling process prints one ready line; waiting for it spares the clients their backoff."""
        proc = self._signal_proc
        if proc is None:
            return
        log_path = self.out_dir / "signaling.log"
        deadline = time.monotonic() + timeout
        while b"signaling-server-ready" not in log_path.read_bytes():
            if proc.poll() is not None:
                raise LabError(f"signaling server exited with code {proc.returncode} (see signaling.log)")
            if time.monotonic() > deadline:
                raise LabError(f"signaling server not ready within {timeout:g} s")
            time.sleep(0.01)

    # ----- agents ------------------------------------------------------------------------

    def start_agent(self, config: AgentConfig, on_event: EventCallback) -> AgentProcess:
        """A peer agent on config.host, where the runtime runs it; its log is agent-<role>.log."""
        assert self.runtime is not None, "up() first"
        return self.runtime.start_agent(config, self.out_dir / f"agent-{config.role}.log", on_event)

    # ----- link conditions ---------------------------------------------------------------

    def uplink_routers(self, hosts: list[str]) -> list[str]:
        """The routers the hosts sit behind (their first hop), each once."""
        routers: list[str] = []
        for host in hosts:
            for iface in self.net.node(host).ifaces.values():
                peer = iface.peer
                if peer and self.net.node(peer).kind == "router" and peer not in routers:
                    routers.append(peer)
        return routers

    def shape_path(self, hosts: list[str], rtt_ms: float, loss_pct: float) -> None:
        """RTT and loss between the hosts, on the WAN uplinks of the routers they sit behind.

        A packet between two such hosts crosses two shaped uplinks, each shaped at both ends, so
        the delay per shaped egress is rtt/4 and the loss per egress makes the path's total loss."""
        if rtt_ms <= 0 and loss_pct <= 0:
            return
        per_egress_loss = (1 - (1 - loss_pct / 100.0) ** 0.5) * 100.0 if loss_pct > 0 else 0.0
        delay_ms = rtt_ms / 4.0
        for router in self.uplink_routers(hosts):
            self.net.impair.shape(router, "wan", delay_ms=delay_ms, loss_pct=per_egress_loss)
            self.shaped[(router, "wan")] = {"delay_ms": delay_ms, "loss_pct": per_egress_loss}

    def link_shaping(self, node: str, iface: str) -> dict[str, float]:
        return dict(self.shaped.get((node, iface), {}))

    # ----- captures ----------------------------------------------------------------------

    def start_captures(self, hosts: list[str], bpf: str = "udp", source: str | None = None) -> list[Path]:
        """tcpdump on each host into capture-<host>.pcap, ``["*"]`` meaning every host of the
        topology (returns once each says it is listening, or after CAPTURE_READY_S). A host with
        several interfaces (a phone's Wi-Fi and LTE) is captured on all of them, as cooked frames;
        --immediate-mode so that each packet's stamp is its arrival, not its buffer's flush."""
        if hosts == ["*"]:
            hosts = [n.name for n in self.net.plan.nodes.values() if n.kind == "host"]
        paths: list[Path] = []
        for host in hosts:
            try:
                iface = self.net.iface(host).name
            except LabError as error:
                raise ConfigError(source, "capture.hosts", str(error)) from None
            pcap = self.out_dir / f"capture-{host}.pcap"
            log_file = (self.out_dir / f"capture-{host}.log").open("ab")
            interfaces = ["-i", iface] if len(self.net.node(host).ifaces) < 2 else ["-i", "any", "-y", "LINUX_SLL"]
            proc = self.net.popen(host, ["tcpdump", *interfaces, "-n", "-U", "--immediate-mode", "-Z", "root",
                                         "-w", str(pcap), bpf],
                                  stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file)
            log_file.close()
            self.captures.append(proc)
            paths.append(pcap)
        deadline = time.monotonic() + CAPTURE_READY_S
        for host in hosts:
            log_path = self.out_dir / f"capture-{host}.log"
            while b"listening on" not in log_path.read_bytes() and time.monotonic() < deadline:
                time.sleep(0.02)
        return paths

    def stop_captures(self) -> None:
        """tcpdump writes out what it buffered on SIGINT."""
        captures, self.captures = self.captures, []
        for proc in captures:
            proc.send_signal(signals.SIGINT)
        for proc in captures:
            try:
                proc.wait(timeout=5)
            except Exception:
                proc.kill()
                proc.wait()
