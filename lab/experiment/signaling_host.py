"""The trial's signaling server, served by the orchestrator on a socket inside the signaling
host's namespace.

The listening socket is made by a thread that joined the host's network namespace, so every
signaling packet crosses the lab network exactly as from a server process on that host (faults
hit it the same way); the server itself is lab.rtc.signaling's SignalingServer, run on the
trial's event loop. This spares each trial a Python process start-up (about 0.5 s idle, 2 s on
a loaded machine). The server closes with the trial; nothing is left behind in the namespace.
"""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path

from websockets.asyncio.server import serve

from lab.rtc.signaling.server import SignalingServer
from lab.turn.netns import call_in_netns


def listening_socket(netns: str, address: str, port: int) -> socket.socket:
    def make() -> socket.socket:
        # IPPROTO_TCP: asyncio then sets TCP_NODELAY on the accepted connections (it skips proto 0)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(64)
        sock.setblocking(False)
        return sock

    return call_in_netns(netns, make)


class NamespacedSignalingServer(SignalingServer):
    """SignalingServer on a socket made in another namespace (only start() differs)."""

    def __init__(self, sock: socket.socket) -> None:
        address, port = sock.getsockname()[:2]
        super().__init__(address, port)
        self._sock = sock

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            sock=self._sock,
            compression=None,
            ping_interval=self._ping[0],
            ping_timeout=self._ping[1],
            logger=logging.getLogger("lab.rtc.signaling.server.ws"),
        )


class _ThisThread(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread == self.thread


SERVER_LOGGER = "lab.rtc.signaling.server"


def log_to_file(path: Path) -> logging.Handler:
    """Send this thread's (this trial's) signaling-server log lines to `path`; detach when done."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    handler.addFilter(_ThisThread())
    logger = logging.getLogger(SERVER_LOGGER)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # nothing on the orchestrator's console
    return handler


def detach_log(handler: logging.Handler) -> None:
    logging.getLogger(SERVER_LOGGER).removeHandler(handler)
    handler.close()
