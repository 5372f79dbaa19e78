"""The Docker runtime: peer agents, coturn relays and Janus run in containers wired into the topology.

    runtime = DockerRuntime.prepare(net, trial_dir, peers=["alice", "bob"])  # after Network.up
    relays = runtime.start_relays(trial_dir)          # lab.turn relays, turnserver in containers
    janus = runtime.attach_sfu(sfu_spec, trial_dir)   # lab.sfu's Janus, in the SFU host's container
    agent = runtime.start_agent(config, log_path, on_event)
    runtime.close()                                   # before net.down()

Routers, the WAN and the signaling host stay namespaces. Every container has the lab label
(icelab clean removes it), no Docker network, and the run folder bind-mounted at the same path,
so agent and relay logs land in it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab.errors import LabError
from lab.contract import AgentConfig
from lab.runtime.base import AgentProcess, EventCallback
from lab.runtime.kinds import agent_argv, agent_process
from lab.runtime.docker import engine
from lab.runtime.docker.attach import attach_container
from lab.runtime.docker.containers import LabContainer, remove_containers, run_containers
from lab.runtime.docker.images import PEER_IMAGE, RELAY_IMAGE, REPO_ROOT, SFU_IMAGE, SOURCE_LABEL, source_hash
from lab.runtime.docker.process import ContainerProcess
from lab.turn.relay import Relay

if TYPE_CHECKING:
    from lab.sfu.janus import Janus
    from lab.sfu.spec import SfuSpec

CONTAINER_PYTHON = "/opt/icelab/bin/python"
BUILD_SCRIPT = REPO_ROOT / "scripts" / "docker-images.sh"
BUILD_TIMEOUT_S = 1800.0
log = logging.getLogger("lab.runtime.docker")
# Environment the agent takes from the orchestrator, as on the netns runtime.
FORWARDED_ENV_PREFIXES = ("ICELAB_",)
FORWARDED_ENV = ("SSL_CERT_FILE",)


_images_lock = threading.Lock()
_images_checked = False


def image_checks() -> list[Any]:
    """`icelab doctor` lines: each lab image exists, and the peer image runs these lab sources."""
    from lab.net.doctor import Check

    if not engine.available():
        return []
    checks = []
    current = source_hash()
    for image in (PEER_IMAGE, RELAY_IMAGE, SFU_IMAGE):
        built_from = engine.image_label(image, SOURCE_LABEL)
        if built_from is None:
            checks.append(Check(f"image {image}", False, "missing: `make images` builds it", required=False))
        elif image == PEER_IMAGE and built_from != current:
            checks.append(Check(f"image {image}", False, f"built from other lab sources ({built_from or 'unlabelled'}, "
                                f"these are {current}): `icelab run --runtime docker` rebuilds it", required=False))
        else:
            checks.append(Check(f"image {image}", True, "present", required=False))
    return checks


def check_images(rebuild: bool = True) -> None:
    """Make sure the images exist and the peer image runs this orchestrator's lab sources.

    An agent of other sources may not understand this orchestrator, so a missing or stale image
    is rebuilt (scripts/docker-images.sh, cached: seconds) or, without the script, refused.
    Checked once per process: the sources the orchestrator started with are the ones that count.
    """
    global _images_checked
    with _images_lock:
        if _images_checked:
            return
        missing = [image for image in (PEER_IMAGE, RELAY_IMAGE, SFU_IMAGE)
                   if engine.image_label(image, SOURCE_LABEL) is None]
        if missing or engine.image_label(PEER_IMAGE, SOURCE_LABEL) != source_hash():
            why = f"{', '.join(missing)} missing" if missing else f"{PEER_IMAGE} built from other lab sources"
            if not rebuild or not BUILD_SCRIPT.is_file():
                raise LabError(f"Docker images: {why}: build them with `make images`")
            log.warning("Docker images: %s: rebuilding (scripts/docker-images.sh)", why)
            done = subprocess.run(["bash", str(BUILD_SCRIPT)], cwd=REPO_ROOT, capture_output=True, text=True,
                                  timeout=BUILD_TIMEOUT_S)
            if done.returncode != 0:
                raise LabError(f"Docker images: {why}, and rebuilding failed:\n{(done.stdout + done.stderr).strip()}")
        _images_checked = True


def _forwarded_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items()
            if key.startswith(FORWARDED_ENV_PREFIXES) or key in FORWARDED_ENV}


class DockerRuntime:
    name = "docker"

    def __init__(self, net: Any, containers: dict[str, LabContainer] | None = None,
                 out_dir: Path | None = None) -> None:
        self.net = net
        self.containers = dict(containers or {})
        self.out_dir = Path(out_dir) if out_dir is not None else Path.cwd()
        self.timings: dict[str, float] = {}

    @staticmethod
    def preflight() -> None:
        """Before a run's first trial (`icelab run`): the engine answers, the images are current."""
        engine.require_engine()
        check_images()

    @staticmethod
    def peer_kind_missing(kind: str) -> str | None:
        """The peer image carries every kind's browser (its build runs each one: docker/peer/Dockerfile)."""
        return None

    @classmethod
    def prepare(cls, net: Any, out_dir: Path, peers: list[str]) -> DockerRuntime:
        """The Runtime step of a trial: containers for its peer and relay hosts."""
        return cls.attach(net, out_dir, peers)

    @classmethod
    def attach(cls, net: Any, out_dir: Path, peers: list[str], relays: list[str] | None = None) -> DockerRuntime:
        """Start a container for each peer and relay host and move the host into it.

        relays None: every host with role "relay". On the thread that owns `net`.
        """
        from lab.turn.relay import turn_state_dir
        from lab.turn.topology import relay_hosts, relays_state_dir

        engine.require_engine()
        check_images()
        relays = relay_hosts(net) if relays is None else relays
        out_dir = Path(out_dir).resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        turn_state = turn_state_dir().resolve()
        turn_state.mkdir(parents=True, exist_ok=True)
        relay_state = relays_state_dir(net).resolve()
        relay_state.mkdir(parents=True, exist_ok=True)
        wanted = {host: PEER_IMAGE for host in peers}
        wanted.update({host: RELAY_IMAGE for host in relays if host not in wanted})
        # Relays write their state (config, pid, userdb) under the topology's state folder, which
        # `topo down` and `clean` remove; peers read the lab CA from the TURN state folder. Both
        # write their logs to the run folder.
        mounts = {host: [(out_dir, True), (turn_state, False)] + ([(relay_state, True)] if host in relays else [])
                  for host in wanted}
        t0 = time.monotonic()
        containers = run_containers(net.name, wanted, mounts)
        t1 = time.monotonic()
        runtime = cls(net, containers, out_dir)
        try:
            for host, container in containers.items():
                attach_container(net, host, container)
        except BaseException:
            runtime.close()
            raise
        runtime.timings = {"containers_s": t1 - t0, "attach_s": time.monotonic() - t1}
        return runtime

    def container(self, host: str) -> LabContainer:
        try:
            return self.containers[host]
        except KeyError:
            raise LabError(f"{host} does not run in a container of this trial") from None

    # --- processes in containers -------------------------------------------------------------

    def popen(self, host: str, argv: list[str], **kwargs: Any) -> ContainerProcess:
        """Start `argv` in the host's container (subprocess.Popen keyword arguments apply)."""
        return ContainerProcess(self.container(host), argv, env=_forwarded_env(), **kwargs)

    def start_agent(self, config: AgentConfig, log_path: Path, on_event: EventCallback) -> AgentProcess:
        """The peer agent of config.kind (lab.runtime.kinds: the peer image has every kind) in its container.

        A browser's profile lives in the container's own file system (the lab state folder is
        not mounted there, only its TURN part), so removing the container removes it; the
        orchestrator's BrowserAgentProcess still kills a browser left after its agent, by pid.
        """
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = log_path.open("ab")
        process = self.popen(config.host, agent_argv(CONTAINER_PYTHON, config),
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file)
        return agent_process(config, process, on_event, log_file)

    def start_relays(self, out_dir: Path | None = None) -> list[Relay]:
        """lab.turn relays of the topology, each turnserver in its host's container."""
        from lab.runtime.docker.relays import start_relays

        return start_relays(self, Path(out_dir) if out_dir else self.out_dir)

    def attach_sfu(self, spec: SfuSpec, out_dir: Path, file: str | Path | None = None) -> Janus:
        """lab.sfu's Janus for the SFU host, run in that host's container (started now); not started."""
        from lab.runtime.docker.sfu import container_janus

        return container_janus(self, spec, out_dir, file)

    # --- tear-down ------------------------------------------------------------------------------

    def save_inspection(self) -> None:
        """What Docker says about each container, into the run folder (containers.json)."""
        info: dict[str, Any] = {host: {"name": c.name, "id": c.id, "image": c.image, "pid": c.pid}
                                for host, c in self.containers.items()}
        (self.out_dir / "containers.json").write_text(json.dumps(info, indent=1))

    def close(self) -> None:
        """Remove the containers (idempotent); the host namespaces stay until net.down()."""
        if self.containers:
            with contextlib.suppress(OSError):
                self.save_inspection()
        containers, self.containers = self.containers, {}
        remove_containers([c.id for c in containers.values()])
