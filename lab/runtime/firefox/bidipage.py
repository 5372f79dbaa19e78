"""The few calls BrowserPeer (lab.runtime.chromium.peer) makes on a Playwright page, over BiDi."""

from __future__ import annotations

from typing import Any

from lab.runtime.firefox.bidi import BidiSession


class BidiPage:
    def __init__(self, session: BidiSession) -> None:
        self.session = session

    async def evaluate(self, script: str, arg: Any = None) -> Any:
        """Playwright's page.evaluate: a function (called with arg) or an expression (its number)."""
        if "=>" in script or script.lstrip().startswith(("function", "async")):
            args = () if arg is None else (arg,)
            return await self.session.call_json(script, *args)
        return await self.session.evaluate_number(script)

    def is_closed(self) -> bool:
        return self.session.connection.closed.is_set()
