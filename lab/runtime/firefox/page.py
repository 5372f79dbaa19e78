"""The shared peer page (lab/runtime/chromium/page/) served to Firefox by the agent itself.

Playwright's routes do not exist here, so the agent listens on 127.0.0.1 (an ephemeral port,
inside the peer's own namespace or container: the loopback never reaches the lab network) and
answers GET for the page's files only; anything else gets 404. http://127.0.0.1 is a secure
context, so getUserMedia and RTCRtpScriptTransform work.
"""

from __future__ import annotations

import asyncio
import contextlib

from lab.runtime.chromium.page import CONTENT_TYPES, PAGE_DIR

MAX_REQUEST = 16384


class PageServer:
    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def page_url(self) -> str:
        return f"{self.origin}/peer.html"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            status, body, content_type = 404, b"not found", "text/plain"
            if len(request_line) >= 2 and request_line[0] == "GET":
                name = request_line[1].split("?", 1)[0].lstrip("/")
                path = PAGE_DIR / name
                if "/" not in name and path.suffix in CONTENT_TYPES and path.is_file():
                    status, body, content_type = 200, path.read_bytes(), CONTENT_TYPES[path.suffix]
            reason = "OK" if status == 200 else "Not Found"
            writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                         f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
                         .encode() + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
