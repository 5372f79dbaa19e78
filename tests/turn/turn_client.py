"""A bare aioice TURN client for relay tests, run inside a lab namespace.

argv[1]: JSON {"server": [host, port], "username", "password", "transport", "tls"}.
Prints one JSON line per step: {"allocated": [host, port], "lifetime"} or {"error": line};
then on each stdin line "refresh" prints {"refresh": "ok"} or {"refresh": "<code> <reason>"},
and on "permit <ip>" (CreatePermission) {"permit": "ok"} or {"permit": "<code> <reason>"}.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

from aioice import stun

from lab.turn import diagnostics


def say(**fields: object) -> None:
    print(json.dumps(fields), flush=True)


class Sink(asyncio.DatagramProtocol):
    pass


class Report(logging.Handler):
    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key

    def emit(self, record: logging.LogRecord) -> None:  # noqa: D102
        say(**{self.key: record.getMessage()})


async def main() -> None:
    options = json.loads(sys.argv[1])
    logging.getLogger("lab.turn").addHandler(Report("error"))
    aioice_log = logging.getLogger("aioice.turn")
    aioice_log.setLevel(logging.INFO)
    aioice_log.addHandler(Report("info"))
    try:
        transport, _ = await diagnostics.create_turn_endpoint(
            Sink, tuple(options["server"]), options["username"], options["password"],
            ssl=options.get("tls", False), transport=options.get("transport", "udp"))
    except Exception:
        return  # the diagnostics line was printed
    inner = transport._TurnTransport__inner_protocol  # test-only look inside aioice
    say(allocated=list(transport.get_extra_info("sockname")))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while (line := (await reader.readline()).decode().strip()) and line != "quit":
        verb, *args = line.split()
        if verb == "permit":
            request = stun.Message(message_method=stun.Method.CREATE_PERMISSION,
                                   message_class=stun.Class.REQUEST)
            request.attributes["XOR-PEER-ADDRESS"] = (args[0], 9)
        else:
            request = stun.Message(message_method=stun.Method.REFRESH,
                                   message_class=stun.Class.REQUEST)
            request.attributes["LIFETIME"] = 600
        try:
            response, _ = await inner.request_with_retry(request)
            say(**{verb: "ok"})
        except stun.TransactionFailed as error:
            code, reason = error.response.attributes["ERROR-CODE"]
            say(**{verb: f"{code} {reason}"})
        except stun.TransactionTimeout:
            say(**{verb: "timeout"})
    transport.close()


if __name__ == "__main__":
    asyncio.run(main())
