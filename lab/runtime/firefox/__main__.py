"""Entry point of the Firefox peer agent (see lab.runtime.firefox)."""

from __future__ import annotations

import asyncio
import logging
import sys

from lab.contract import AgentConfig
from lab.runtime.agent.control import ControlChannel
from lab.runtime.chromium.__main__ import serve
from lab.runtime.firefox.peer import FirefoxPeer


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    control = ControlChannel()
    config = AgentConfig.model_validate_json(args[0])
    return asyncio.run(serve(config, control, FirefoxPeer))


if __name__ == "__main__":
    sys.exit(main())
