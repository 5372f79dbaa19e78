"""A tiny UDP tool run inside lab namespaces by the tests.

echo PORT                       reply to each datagram with the sender's "ip:port"
probe PORT ECHO_IP:PORT [--send IP:PORT] [--recv SECONDS] [--repeat N]
                                from local PORT ask the echo server for the mapped address
                                (prints "mapped ip:port"), then optionally send to a target and/or
                                wait for one datagram (prints "got ip:port" or "timeout")
"""

from __future__ import annotations

import socket
import sys
import time


def endpoint(text: str) -> tuple[str, int]:
    host, port = text.rsplit(":", 1)
    return host, int(port)


def echo(port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    print("ready", flush=True)
    while True:
        _, (ip, sport) = sock.recvfrom(2048)
        sock.sendto(f"{ip}:{sport}".encode(), (ip, sport))


def probe(port: int, server: str, args: list[str]) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    sock.settimeout(2)
    for _ in range(3):
        try:
            sock.sendto(b"probe", endpoint(server))
            data, _ = sock.recvfrom(2048)
            print("mapped", data.decode(), flush=True)
            break
        except TimeoutError:
            continue
        except OSError:  # dropped on the way out (EPERM) or unreachable
            time.sleep(0.5)
            continue
    else:
        print("mapped none", flush=True)
    options = dict(zip(args[::2], args[1::2], strict=False))
    if "--send" in options:
        for _ in range(int(options.get("--repeat", "1"))):
            try:
                sock.sendto(b"hello", endpoint(options["--send"]))
            except OSError:
                pass
    if "--recv" in options:
        sock.settimeout(float(options["--recv"]))
        try:
            _, (ip, sport) = sock.recvfrom(2048)
            print("got", f"{ip}:{sport}", flush=True)
        except TimeoutError:
            print("timeout", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        echo(int(sys.argv[2]))
    else:
        probe(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
