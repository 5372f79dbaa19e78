"""Control of one coturn relay running inside a lab network namespace.

    relay = Relay(spec, netns_name="icelab-...-relay", out_dir=run_dir)
    relay.start()          # returns once the relay answers a STUN Binding request
    relay.ice_server("tls")            # W3C RTCIceServer dict for a peer (trust lab_ca_file())
    relay.ice_server("udp", relay.credential("alice", ttl=60))  # REST API credential
    relay.kill()           # SIGKILL: allocations vanish, clients are not told
    relay.restart()        # a new process: old allocations are not brought back
    relay.blackhole()      # drop everything to/from the relay (until unblackhole())
    relay.close()          # idempotent: nothing left running or installed

The process lives in the relay host's namespace, so `icelab clean` finds and kills it even
after the orchestrator died.
"""

from __future__ import annotations

import errno
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from lab import naming
from lab.errors import ConfigError, LabError
from lab.server_process import RunningProcess, ServerProcess
from lab.turn import certs, netns, probe
from lab.turn.credentials import TurnCredential, ephemeral_credential, static_credential
from lab.turn.render import RelayFiles, render_config
from lab.turn.spec import RelaySpec, Transport

TURNSERVER = "turnserver"
PopenInHost = Callable[[list[str], dict], subprocess.Popen]  # type: ignore[type-arg]
# A blackhole installer from lab.net, if the relay is driven through a Network:
# called with on=True/False and udp_only.
Blackholer = Callable[[bool, bool], None]


class RelayError(LabError):
    """A relay did not start, or died; the message carries the tail of its log."""


def turn_state_dir() -> Path:
    return naming.state_dir() / "turn"


def lab_ca_file() -> Path:
    """The CA file peers trust for TURN over TLS (pass it as SSL_CERT_FILE to peer processes)."""
    return certs.ensure_ca(turn_state_dir())


class Relay(ServerProcess):
    def __init__(self, spec: RelaySpec, *, netns_name: str, out_dir: Path,
                 state_dir: Path | None = None, popen: PopenInHost | None = None,
                 blackholer: Blackholer | None = None) -> None:
        if spec.address is None:
            raise ConfigError(None, f"relays.{spec.name}.address",
                              "no address: give one or start the relay through a topology")
        self.spec = spec
        self.netns = netns_name
        self.out_dir = Path(out_dir)
        self.state_dir = state_dir or turn_state_dir() / f"{netns_name}-{spec.name}"
        self._popen = popen or (lambda argv, kw: netns.popen_in_netns(netns_name, argv, **kw))
        self._blackholer = blackholer
        self._running: RunningProcess | None = None
        self._blackholed = False
        self.files = self._prepare_files()
        self.config_text = render_config(spec, self.files)

    # --- set-up ---------------------------------------------------------------------------

    def _prepare_files(self) -> RelayFiles:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        cert = key = None
        if "tls" in self.spec.listeners:
            if self.spec.cert is not None and self.spec.key is not None:
                cert, key = self.spec.cert, self.spec.key
            else:
                addresses = [a for a in (self.spec.address, self.spec.alt_address) if a]
                issued = certs.issue_server_cert(turn_state_dir(), self.state_dir, self.spec.name,
                                                 addresses)
                cert, key = issued.cert, issued.key
        return RelayFiles(
            config=self.state_dir / "turnserver.conf",
            log=self.out_dir / f"relay-{self.spec.name}.log",
            pid=self.state_dir / "turnserver.pid",
            userdb=self.state_dir / "turndb.sqlite",
            cert=cert, key=key,
        )

    # --- process control ------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> float:
        """Start turnserver; return seconds until it answered a STUN Binding request."""
        if self.running:
            raise RelayError(f"relay {self.spec.name} is already running (pid {self.pid})")
        self._check_bindable()
        self.files.config.write_text(self.config_text)
        self.files.userdb.unlink(missing_ok=True)
        with open(self.files.log, "ab") as console:
            console.write(f"--- icelab: starting relay {self.spec.name} in {self.netns} ---\n".encode())
            console.flush()
            began = time.monotonic()
            try:
                process = self._popen([TURNSERVER, "-c", str(self.files.config)],
                                      {"stdin": subprocess.DEVNULL, "stdout": console,
                                       "stderr": subprocess.STDOUT, "start_new_session": True})
            except FileNotFoundError as error:
                raise RelayError(f"cannot start relay {self.spec.name}: {error} "
                                 "(install Debian's coturn: scripts/setup-debian.sh)") from None
        self._running = RunningProcess(process, began)
        try:
            self._wait_ready(began + timeout)
        except BaseException:
            self.kill()
            raise
        return time.monotonic() - began

    def _check_bindable(self) -> None:
        """Every address is the host's and every listening port free: else one ConfigError.

        coturn itself would retry a failed bind forever and never answer.
        """
        problem = netns.call_in_netns(self.netns, self._first_unbindable)
        if problem:
            raise ConfigError(None, f"relays.{self.spec.name}.{problem[0]}", problem[1])

    def _first_unbindable(self) -> tuple[str, str] | None:
        for field in ("address", "alt_address"):
            address = getattr(self.spec, field)
            if address is None:
                continue
            for role, port in self.spec.listening_ports().items():
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    with socket.socket(socket.AF_INET, kind) as sock:
                        if kind == socket.SOCK_STREAM:
                            # as coturn does: TIME_WAIT connections of a killed relay are no clash
                            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        try:
                            sock.bind((str(address), port))
                        except OSError as error:
                            if error.errno == errno.EADDRNOTAVAIL:
                                return field, f"{address} is not an address of host {self.spec.host}"
                            return (role.removesuffix("+1"),
                                    f"port clash: {address}:{port} is in use on host "
                                    f"{self.spec.host} ({error.strerror})")
        return None

    def _wait_ready(self, deadline: float) -> None:
        alive = lambda: self._running is not None and self._running.process.poll() is None  # noqa: E731
        address = str(self.spec.address)
        if "udp" in self.spec.listeners:
            with netns.socket_in_netns(self.netns, socket.SOCK_DGRAM) as sock:
                ready = probe.wait_until_answering(sock, (address, self.spec.port), deadline, alive)
        else:
            ready = self._wait_tcp(address, self.spec.port if "tcp" in self.spec.listeners
                                   else self.spec.tls_port, deadline, alive)
        if ready and "tls" in self.spec.listeners:
            ready = self._wait_tcp(address, self.spec.tls_port, deadline, alive)
        if not ready:
            state = "exited" if not alive() else "did not answer STUN in time"
            raise RelayError(f"relay {self.spec.name} {state}; log {self.files.log}:\n"
                             + self.log_tail())

    def _wait_tcp(self, address: str, port: int, deadline: float,
                  alive: Callable[[], bool]) -> bool:
        while time.monotonic() < deadline and alive():
            with netns.socket_in_netns(self.netns, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                if sock.connect_ex((address, port)) == 0:
                    return True
            time.sleep(0.02)
        return False

    # --- faults -----------------------------------------------------------------------------

    def blackhole(self, udp_only: bool = False) -> None:
        """Drop all traffic (or only UDP) to and from the relay host, until unblackhole()."""
        self.unblackhole()
        if self._blackholer is not None:
            self._blackholer(True, udp_only)
        else:
            match = "meta l4proto udp " if udp_only else ""
            rules = (f"table inet {self._nft_table} {{\n"
                     f"  chain input {{ type filter hook input priority -10; policy accept;\n"
                     f"    iifname != \"lo\" {match}drop\n  }}\n"
                     f"  chain output {{ type filter hook output priority -10; policy accept;\n"
                     f"    oifname != \"lo\" {match}drop\n  }}\n}}\n")
            self._nft(rules)
        self._blackholed = True

    def unblackhole(self) -> None:
        if not self._blackholed:
            return
        if self._blackholer is not None:
            self._blackholer(False, False)
        else:
            self._nft(f"delete table inet {self._nft_table}\n")
        self._blackholed = False

    @property
    def _nft_table(self) -> str:
        return f"{naming.NFT_TABLE_PREFIX}turn_{self.spec.name.replace('-', '_')}"

    def _nft(self, script: str) -> None:
        done = netns.run_in_netns(self.netns, ["nft", "-f", "-"], input=script.encode())
        if done.returncode != 0:
            raise RelayError(f"nft in {self.netns} failed: {done.stderr.decode().strip()}")

    # --- what peers need ----------------------------------------------------------------------

    def url(self, transport: Transport = "udp") -> str:
        if transport not in self.spec.listeners:
            raise ConfigError(None, f"relays.{self.spec.name}.listeners",
                              f"relay does not listen on {transport}")
        if transport == "tls":
            return f"turns:{self.spec.address}:{self.spec.tls_port}?transport=tcp"
        return f"turn:{self.spec.address}:{self.spec.port}?transport={transport}"

    def credential(self, user: str = "peer", ttl: float = 3600.0) -> TurnCredential:
        """An ephemeral credential when the relay uses an auth secret, else its first static user."""
        if self.spec.auth_secret is not None:
            return ephemeral_credential(self.spec.auth_secret, user, ttl)
        name, password = next(iter(self.spec.users.items()))
        return static_credential(name, password)

    def ice_server(self, transport: Transport = "udp",
                   credential: TurnCredential | None = None) -> dict[str, str]:
        """A W3C RTCIceServer dict; aiortc takes it as RTCIceServer(**dict).

        For "tls", the peer must trust `lab_ca_file()` (SSL_CERT_FILE in its environment).
        """
        cred = credential or self.credential()
        return {"urls": self.url(transport), "username": cred.username,
                "credential": cred.password}

    # --- inspection and clean-up --------------------------------------------------------------

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.files.log.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def close(self) -> None:
        try:
            self.unblackhole()
        finally:
            self.kill()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"Relay({self.spec.name}@{self.spec.address} in {self.netns}, {state})"


