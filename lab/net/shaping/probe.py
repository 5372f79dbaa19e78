"""UDP probe that measures what a shaped link does: one-way delay, round trip, loss.

All lab namespaces share the host's CLOCK_MONOTONIC, so a timestamp taken in one namespace and
read in another gives a true one-way delay. Run the echo side first, in the far namespace:

    python lab/net/shaping/probe.py echo --bind 10.0.0.2 --port 9000 --idle 3
    python lab/net/shaping/probe.py send --to 10.0.0.2 --port 9000 --count 2000 --interval 0.005

`send` prints one JSON object: {"sent", "size", "replies": [[seq, t_send, t_echo, t_back], ...]}.
`echo` answers every datagram with its own receive time added, and on exit (idle for --idle
seconds, or SIGTERM) prints {"received": [[seq, t_send, t_echo], ...]}.
"""

from __future__ import annotations

import argparse
import json
import select
import selectors
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
from dataclasses import dataclass

HEADER = struct.Struct("!Id")  # seq, t_send
ECHO = struct.Struct("!Idd")  # seq, t_send, t_echo


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def echo(bind: str, port: int, idle_s: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((bind, port))
    sock.settimeout(idle_s)
    received: list[tuple[int, float, float]] = []
    signal.signal(signal.SIGTERM, _interrupt)
    print("ready", file=sys.stderr, flush=True)
    try:
        while True:
            try:
                data, peer = sock.recvfrom(65536)
            except TimeoutError:
                break
            now = time.monotonic()
            if len(data) < HEADER.size:
                continue
            seq, t_send = HEADER.unpack_from(data)
            received.append((seq, t_send, now))
            sock.sendto(ECHO.pack(seq, t_send, now), peer)
    except KeyboardInterrupt:
        pass
    json.dump({"received": received}, sys.stdout)
    sys.stdout.flush()


def send(to: str, port: int, count: int, interval_s: float, size: int, wait_s: float) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((to, port))
    sock.setblocking(False)
    padding = b"\0" * max(0, size - HEADER.size)
    replies: list[tuple[int, float, float, float]] = []

    def drain() -> None:
        while True:
            try:
                data = sock.recv(65536)
            except (BlockingIOError, ConnectionRefusedError):
                return
            now = time.monotonic()
            seq, t_send, t_echo = ECHO.unpack_from(data)
            replies.append((seq, t_send, t_echo, now))

    def wait_until(deadline: float) -> None:
        # replies are read as soon as they arrive, so their timestamps are exact
        while (left := deadline - time.monotonic()) > 0:
            if select.select([sock], [], [], left)[0]:
                drain()

    start = time.monotonic()
    for seq in range(count):
        wait_until(start + seq * interval_s)
        try:
            sock.send(HEADER.pack(seq, time.monotonic()) + padding)
        except (ConnectionRefusedError, BlockingIOError):
            pass
    end = time.monotonic() + wait_s
    while time.monotonic() < end and len(replies) < count:
        wait_until(min(end, time.monotonic() + 0.05))
    json.dump({"sent": count, "size": max(size, HEADER.size), "replies": replies}, sys.stdout)
    sys.stdout.flush()


@dataclass(frozen=True)
class ProbeResult:
    sent: int
    forward_ms: list[float]  # one-way delay of each datagram that reached the echo side
    back_ms: list[float]  # one-way delay of each echo that came back
    rtt_ms: list[float]
    reordered: int  # datagrams that reached the echo side after a later-sent one

    @property
    def forward_loss_pct(self) -> float:
        return 100.0 * (self.sent - len(self.forward_ms)) / self.sent

    @staticmethod
    def median(values: list[float]) -> float:
        return statistics.median(values) if values else float("nan")


def run_probe(
    src_netns: str, dst_netns: str, dst_addr: str, *, port: int = 47_000, count: int = 100,
    interval_s: float = 0.01, size: int = 64, wait_s: float = 2.0,
) -> ProbeResult:
    """Sends `count` datagrams from src_netns to an echo in dst_netns and measures them."""
    from lab.net.shaping.nsexec import run_in_netns, spawn_in_netns

    base = [sys.executable, "-E", "-s", __file__]  # run as a file: no lab imports at start-up
    server = spawn_in_netns(
        dst_netns, [*base, "echo", "--bind", dst_addr, "--port", str(port), "--idle", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert server.stderr is not None
        with selectors.DefaultSelector() as sel:
            sel.register(server.stderr, selectors.EVENT_READ)
            if not sel.select(10) or server.stderr.readline() != b"ready\n":
                raise RuntimeError("probe echo did not start")
        client = run_in_netns(src_netns, [
            *base, "send", "--to", dst_addr, "--port", str(port), "--count", str(count),
            "--interval", str(interval_s), "--size", str(size), "--wait", str(wait_s),
        ])
        server.terminate()
        out, _ = server.communicate(timeout=10)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    replies = json.loads(client.stdout)["replies"]
    received = json.loads(out)["received"]
    forward = [(t_echo - t_send) * 1000 for _, t_send, t_echo in received]
    reordered, highest = 0, -1
    for seq, _, _ in received:
        if seq < highest:
            reordered += 1
        highest = max(highest, seq)
    return ProbeResult(
        sent=count,
        forward_ms=forward,
        back_ms=[(t_back - t_echo) * 1000 for _, _, t_echo, t_back in replies],
        rtt_ms=[(t_back - t_send) * 1000 for _, t_send, _, t_back in replies],
        reordered=reordered,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="icelab-probe")
    sub = parser.add_subparsers(dest="mode", required=True)
    e = sub.add_parser("echo")
    e.add_argument("--bind", required=True)
    e.add_argument("--port", type=int, required=True)
    e.add_argument("--idle", type=float, default=5.0)
    s = sub.add_parser("send")
    s.add_argument("--to", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--count", type=int, default=100)
    s.add_argument("--interval", type=float, default=0.01)
    s.add_argument("--size", type=int, default=64)
    s.add_argument("--wait", type=float, default=2.0)
    args = parser.parse_args(argv)
    if args.mode == "echo":
        echo(args.bind, args.port, args.idle)
    else:
        send(args.to, args.port, args.count, args.interval, args.size, args.wait)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
