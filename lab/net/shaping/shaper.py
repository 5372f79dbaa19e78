"""The userspace delay/jitter shaper: one process per shaped interface, inside its namespace.

Packets reach it through the xt NFQUEUE target on the interface's egress (see queue_rules); it holds each
packet for delay ± jitter (uniform) and then accepts it. Every packet gets its own release time,
so jitter reorders packets, as netem does.
Its control socket takes new parameters at runtime and answers once they apply (packets already
held keep their release time); SIGTERM releases everything held and exits.
It also exits when its namespace is no longer mounted, so it never outlives its lab.

    python lab/net/shaping/shaper.py icelab-shaper --netns N --ifname IF --queue Q --control SOCKET --delay-ms D --jitter-ms J
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import heapq
import json
import os
import random
import select
import signal
import socket
import sys
import time
from pathlib import Path

if __package__:
    from .nfqueue import NfQueue
else:  # run as a file: starts without importing lab.net and its dependencies
    from nfqueue import NfQueue  # type: ignore[no-redef]

PROCESS_NAME = "icelab-shaper"
HOUSEKEEPING_S = 1.0
# A packet due within this much is released now, sparing a wake-up for a few microseconds.
EARLY_S = 0.0001
CONTROL_TIMEOUT_S = 0.5


def _set_process_name() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(15, PROCESS_NAME.encode(), 0, 0, 0)  # PR_SET_NAME: `pgrep -x icelab-shaper`


def _netns_still_mounted(netns: str) -> bool:
    try:
        mounted = os.stat(f"/run/netns/{netns}")
    except FileNotFoundError:
        return False
    ours = os.stat("/proc/self/ns/net")
    return (mounted.st_dev, mounted.st_ino) == (ours.st_dev, ours.st_ino)


class Shaper:
    def __init__(self, queue: NfQueue, control: socket.socket, netns: str) -> None:
        self.queue = queue
        self.control = control
        self.netns = netns
        self.delay_s = 0.0
        self.jitter_s = 0.0
        self.held: list[tuple[float, int]] = []
        self.stop = False

    def set_params(self, delay_ms: float, jitter_ms: float) -> None:
        self.delay_s = delay_ms / 1000.0
        self.jitter_s = jitter_ms / 1000.0

    def serve_control(self) -> None:
        """One request per connection: a JSON line {"delay_ms": .., "jitter_ms": ..}; answers ok."""
        try:
            conn, _ = self.control.accept()
        except BlockingIOError:
            return
        with conn:
            conn.settimeout(CONTROL_TIMEOUT_S)
            try:
                request = json.loads(conn.makefile("rb").readline())
                self.set_params(float(request["delay_ms"]), float(request["jitter_ms"]))
                conn.sendall(b"ok\n")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                print(f"{PROCESS_NAME}: bad control request: {exc}", file=sys.stderr, flush=True)

    def hold(self, now: float, packet_id: int) -> None:
        delay = self.delay_s
        if self.jitter_s:
            delay = max(0.0, random.uniform(delay - self.jitter_s, delay + self.jitter_s))
        heapq.heappush(self.held, (now + delay, packet_id))

    def release_due(self, now: float) -> None:
        due: list[int] = []
        held = self.held
        while held and held[0][0] <= now + EARLY_S:
            due.append(heapq.heappop(held)[1])
        if due:
            self.queue.verdicts(due)

    def release_all(self) -> None:
        self.queue.verdicts(pid for _, pid in sorted(self.held))
        self.held.clear()

    def run(self, wakeup_fd: int) -> None:
        next_housekeeping = time.monotonic() + HOUSEKEEPING_S
        qfd = self.queue.fileno()
        cfd = self.control.fileno()
        while not self.stop:
            now = time.monotonic()
            deadline = next_housekeeping
            if self.held and self.held[0][0] < deadline:
                deadline = self.held[0][0]
            readable, _, _ = select.select([qfd, cfd, wakeup_fd], [], [], max(0.0, deadline - now))
            if qfd in readable:
                now = time.monotonic()
                for packet_id in self.queue.receive():
                    self.hold(now, packet_id)
            if wakeup_fd in readable:
                try:
                    os.read(wakeup_fd, 512)
                except BlockingIOError:
                    pass
            if cfd in readable:
                self.serve_control()
            now = time.monotonic()
            self.release_due(now)
            if now >= next_housekeeping:
                next_housekeeping = now + HOUSEKEEPING_S
                if not _netns_still_mounted(self.netns):
                    self.stop = True
        # packets queued but not read yet would be dropped with the socket: take them too
        now = time.monotonic()
        for packet_id in self.queue.receive():
            self.hold(now, packet_id)
        self.release_all()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROCESS_NAME)
    parser.add_argument("name", choices=[PROCESS_NAME])
    parser.add_argument("--netns", required=True)
    parser.add_argument("--ifname", required=True)
    parser.add_argument("--queue", type=int, required=True)
    parser.add_argument("--control", type=Path, required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    _set_process_name()

    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    args.control.unlink(missing_ok=True)
    control.bind(str(args.control))
    control.listen(8)
    control.setblocking(False)
    queue = NfQueue(args.queue)
    shaper = Shaper(queue, control, args.netns)
    shaper.set_params(args.delay_ms, args.jitter_ms)

    def on_term(signum: int, frame: object) -> None:
        shaper.stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    # Tell the starter the queue is bound; only then does it route packets here.
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdout.close()
    try:
        shaper.run(wake_r)
    finally:
        queue.close()
        control.close()
        args.control.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
