"""A call between two lab peer agents of any kind (aiortc, chromium) on a real lab topology,
driven step by step by a test: a lab.Lab (the real signaling server on the topology's signal
host, coturn for STUN), the agents started through its runtime exactly as a trial starts them.

Unlike a Trial (one fault, one policy), a test can send commands (restart on both sides at once
for glare), impair the network several times, and keep one browser for several steps.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab import Lab
from lab.contract import AgentConfig, Command, Detection, SignalingConfig, Start
from lab.contract import Policy as PolicySpec
from lab.runtime.base import AgentProcess

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("offerer", "answerer")
SIGNAL_PORT = 8443


class LabCall:
    def __init__(self, topology: str, name: str, hosts: dict[str, str], kinds: dict[str, str],
                 out_dir: Path, policy: PolicySpec | str = "none", restarts: dict[str, bool] | None = None,
                 detection: Detection | None = None, watch_network: bool = False) -> None:
        self.topology = ROOT / "topologies" / f"{topology}.toml"
        self.name = name
        self.hosts = hosts
        self.kinds = kinds
        self.out_dir = out_dir
        self.policy = policy if isinstance(policy, PolicySpec) else PolicySpec.model_validate(policy)
        self.restarts = restarts or {"offerer": True, "answerer": True}
        self.detection = detection or Detection(consent_interval_s=0.5, disconnected_after_s=1.0,
                                                failed_after_s=4.0)
        self.watch_network = watch_network
        self.lab: Lab | None = None
        self.agents: dict[str, AgentProcess] = {}
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.spawned_at: dict[str, float] = {}
        self.started_at = float("nan")
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"net-{name}")

    @property
    def net(self) -> Any:
        assert self.lab is not None
        return self.lab.net

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """lab.net / lab.turn work runs on one thread, never on the event loop's."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, functools.partial(fn, *args, **kwargs))

    # ----- set-up and tear-down ---------------------------------------------------------

    async def __aenter__(self) -> LabCall:
        try:
            await self.call(self._up)
            for agent in self.agents.values():
                await agent.attach()
            await self.wait(lambda: self.count("agent_loaded") == 2, 90, "agents loaded")
            self.started_at = time.monotonic()
            for agent in self.agents.values():
                agent.send(Start())
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _up(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.lab = Lab(self.topology, name=self.name, out_dir=self.out_dir, peers=list(self.hosts.values()))
        self.lab.up()
        self.lab.start_relays()
        servers = self.lab.ice_servers()
        url = self.lab.start_signaling_process(self.lab.signaling_host(), SIGNAL_PORT)
        self.lab.wait_signaling_ready(20)
        signaling = SignalingConfig(path="lab", url=url, room=self.name)
        for role in ROLES:
            config = AgentConfig(
                trial_id=self.name, role=role, host=self.hosts[role], kind=self.kinds[role],  # type: ignore[arg-type]
                polite=role == "answerer", restarts=self.restarts[role], policy=self.policy,
                signaling=signaling, ice_servers=servers, detection=self.detection,
                watch_network=self.watch_network, wait_for_start=True,
            )
            self.spawned_at[role] = time.monotonic()
            self.agents[role] = self.lab.start_agent(config, lambda record, role=role: self.events.append((role, record)))

    async def close(self) -> None:
        import json

        with contextlib.suppress(OSError), (self.out_dir / "events.jsonl").open("w") as out:
            for role, record in self.events:
                out.write(json.dumps({"peer": role, **record}, default=str) + "\n")
        await asyncio.gather(*(agent.stop(timeout=5.0) for agent in self.agents.values()),
                             return_exceptions=True)
        await self.call(self._down)
        self._thread.shutdown(wait=False)

    def _down(self) -> None:
        if self.lab is not None:
            self.lab.close()

    # ----- observing --------------------------------------------------------------------

    def of(self, role: str, kind: str, since: float = 0.0) -> list[dict[str, Any]]:
        return [r for who, r in self.events if who == role and r.get("kind") == kind and float(r["t"]) >= since]

    def count(self, kind: str) -> int:
        return sum(1 for _, r in self.events if r.get("kind") == kind)

    def last_rx(self, role: str) -> float:
        times = [float(r["t"]) for r in self.of(role, "media_rx")]
        return max(times) if times else float("-inf")

    def rx_since(self, role: str, since: float) -> int:
        return len(self.of(role, "media_rx", since))

    def media_flowing(self, since: float, units: int = 10) -> bool:
        return all(self.rx_since(role, since) >= units for role in ROLES)

    def state(self, role: str, kind: str = "connection_state") -> str | None:
        records = self.of(role, kind)
        return records[-1].get("state") if records else None

    async def wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            for role, agent in self.agents.items():
                if agent.process.poll() is not None:
                    raise AssertionError(f"{role} agent exited with {agent.process.returncode} while waiting "
                                         f"for {what} (see {self.out_dir}/agent-{role}.log)")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; {self.describe()}")
            await asyncio.sleep(0.05)

    def describe(self) -> str:
        now = time.monotonic()
        parts = []
        for role in ROLES:
            pairs = self.of(role, "selected_pair")
            parts.append(f"{role}: signaling={self.state(role, 'signaling_state')} "
                         f"connection={self.state(role)} ice={self.state(role, 'ice_state')} "
                         f"pair_generation={pairs[-1].get('generation') if pairs else None} "
                         f"rx_last_1s={self.rx_since(role, now - 1.0)}")
        return "; ".join(parts) + f" (events in {self.out_dir}/events.jsonl)"

    def send(self, role: str, command: Command) -> None:
        self.agents[role].send(command)
