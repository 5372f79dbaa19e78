"""The peer page, served by the agent itself to its own browser (Playwright routes, no server).

The origin is http://127.0.0.1 (a secure context, so getUserMedia works); every request to it
is answered from the package's page/ folder by the route handler, and any other request is
aborted: the page loads nothing from anywhere, and the browser's only traffic on the lab network
is its WebRTC and signaling traffic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

ORIGIN = "http://127.0.0.1:9"
PAGE_URL = f"{ORIGIN}/peer.html"
PAGE_DIR = Path(__file__).with_name("page")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


async def _serve(route: Any) -> None:
    url: str = route.request.url
    name = url.removeprefix(ORIGIN + "/").split("?", 1)[0]
    path = PAGE_DIR / name
    if url.startswith(ORIGIN + "/") and path.suffix in CONTENT_TYPES and path.is_file() and path.parent == PAGE_DIR:
        await route.fulfill(status=200, content_type=CONTENT_TYPES[path.suffix], body=path.read_text())
    else:
        await route.abort()


async def open_page(context: Any, on_events: Any) -> Any:
    """The context's page with the peer page loaded (window.icelab defined); the page's event
    batches go to on_events (window.icelabEmit)."""
    page = context.pages[0] if context.pages else await context.new_page()
    await page.expose_function("icelabEmit", on_events)
    await page.route(f"{ORIGIN}/**", _serve)
    await page.goto(PAGE_URL)
    await page.wait_for_function("() => typeof window.icelab === 'object'")
    return page
