"""What travels with a trial task: the experiment as plain data (no pickled lab classes, so a
worker of another version fails on a clear check, not on unpickling), and what comes back."""

from __future__ import annotations

import hashlib
import json
from typing import Any, TypedDict

import lab
from lab.experiment.spec import ExperimentSpec
from lab.net.loader import validate
from lab.net.topology import Topology


class TrialTask(TypedDict):
    version: str
    spec: dict[str, Any]
    topology: dict[str, Any]
    topology_name: str
    spec_hash: str
    repetitions: int
    trial_id: str
    runtime: str


class TrialOutcome(TypedDict):
    row: dict[str, Any]
    files: dict[str, bytes]  # the trial folder, path relative to it -> content
    worker: str


class WorkerMismatch(Exception):
    """The worker cannot run this experiment as the client means it (version, spec hash)."""


def version() -> str:
    return lab.__version__


def experiment_hash(spec: ExperimentSpec) -> str:
    """The spec hash as shipped: what the experiment does, its topology included as data, so
    that client and worker compute it alike from what they each hold."""
    body: dict[str, Any] = spec.model_dump(mode="json", exclude={"source", "topology_path", "topology"})
    body["topology"] = spec.topology_data()
    # a number is a number: a TOML file's 0 and a validated model's 0.0 hash alike
    canonical = json.loads(json.dumps(body, default=str), parse_int=float)
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def pack(spec: ExperimentSpec, trial_id: str, repetitions: int, runtime: str) -> TrialTask:
    topology = spec.load_topology()
    return TrialTask(version=version(), spec=spec.model_dump(mode="json"), topology=spec.topology_data(),
                     topology_name=topology.name, spec_hash=experiment_hash(spec), repetitions=repetitions,
                     trial_id=trial_id, runtime=runtime)


def unpack(task: TrialTask) -> ExperimentSpec:
    """The experiment, rebuilt by this host's code; refused if it is not the client's."""
    if task["version"] != version():
        raise WorkerMismatch(f"this worker runs icelab {version()}, the client {task['version']}: "
                             "install the same icelab version on every host")
    spec = ExperimentSpec.model_validate(task["spec"])
    spec._topology = Topology.from_spec(validate(task["topology"], spec.source), task["topology_name"])
    mine = experiment_hash(spec)
    if mine != task["spec_hash"]:
        raise WorkerMismatch(f"spec hash {mine} on this worker, {task['spec_hash']} on the client: the "
                             "worker's icelab reads the experiment differently (update it to the client's code)")
    return spec
