"""The client side of a cluster run: each pending trial becomes a Dask task needing one `icelab`
resource; as each finishes (as_completed) its files and row are written into the run folder, as
a local run writes them. Plugs into lab.experiment.runner as its executor."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

from distributed import Client, LocalCluster, as_completed, wait
from distributed.scheduler import KilledWorker

from lab.cluster import certs
from lab.cluster.address import check_address, local_workers
from lab.cluster.ship import TrialOutcome, WorkerMismatch, pack, version
from lab.cluster.task import leave_interrupts_to_the_client, run_trial_task, worker_mark
from lab.errors import ConfigError, LabError
from lab.experiment.interrupt import RunMark, stop_trials
from lab.experiment.plan import TrialPlan
from lab.experiment.runfolder import RunFolder
from lab.experiment.spec import ExperimentSpec

RESOURCE = "icelab"
CONNECT_TIMEOUT_S = 20
# an interrupted run waits this long for the abandoned trials to tear down on their workers
ABANDON_TIMEOUT_S = 60


@contextlib.contextmanager
def local_cluster(workers: int, slots: int = 1) -> Iterator[LocalCluster]:
    """N worker processes on this machine, loopback only, each advertising icelab=slots."""
    with LocalCluster(n_workers=workers, threads_per_worker=slots, processes=True, host="127.0.0.1",
                      protocol="tcp://", dashboard_address=None, resources={RESOURCE: slots},
                      silence_logs=logging.ERROR) as cluster:
        yield cluster


def worker_versions(client: Client) -> dict[str, str]:
    return client.run(version)  # type: ignore[no-any-return]


class ClusterExecutor:
    """Trials as Dask tasks on a cluster: an address (tls://, or tcp:// on loopback with
    insecure) or local:N (a loopback LocalCluster of N worker processes, started here)."""

    def __init__(self, address: str, *, certs_dir: Path | None = None, insecure: bool = False) -> None:
        self.local = local_workers(address)
        if self.local is None:
            check_address(address, insecure=insecure)
            if address.startswith("tls://") and certs_dir is None:
                raise ConfigError(None, "--certs", f"{address} is a TLS cluster: pass --certs DIR "
                                  "(ca.pem, client.pem, client-key.pem from `icelab cluster certs`)")
        self.address = address
        self.security = certs.security(certs_dir, "client") if certs_dir is not None else None
        self.engine = address
        self.slots = self.local or 1
        self._marks: list[RunMark] = []

    def marks(self) -> list[RunMark]:
        """A local cluster's workers' trial names (a remote cluster's hosts are not ours to clean)."""
        return list(self._marks)

    @contextlib.contextmanager
    def _client(self) -> Iterator[Client]:
        if self.local is not None:
            with local_cluster(self.local) as cluster, Client(cluster) as client:
                yield client
            return
        try:
            client = Client(self.address, security=self.security, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as error:
            raise LabError(f"cannot reach the scheduler at {self.address}: {error}") from None
        with client:
            yield client

    def _check_workers(self, client: Client) -> None:
        versions = worker_versions(client)
        if not versions:
            raise LabError(f"no worker has joined the cluster at {self.address} (start `icelab worker` on a lab host)")
        wrong = {addr: v for addr, v in versions.items() if v != version()}
        if wrong:
            raise LabError("refused: " + "; ".join(f"worker {a} runs icelab {v}" for a, v in wrong.items())
                           + f"; this client runs {version()}")
        info = client.scheduler_info()["workers"]
        self.slots = int(sum(w.get("resources", {}).get(RESOURCE, 0) for w in info.values())) or 1
        if not any(w.get("resources", {}).get(RESOURCE) for w in info.values()):
            raise LabError(f"no worker at {self.address} offers the '{RESOURCE}' resource (start it with `icelab worker`)")
        if self.local is not None:
            client.run(leave_interrupts_to_the_client)
            self._marks = list(client.run(worker_mark).values())

    def run(self, spec: ExperimentSpec, runtime: str, folder: RunFolder,
            plans: list[TrialPlan]) -> Generator[tuple[TrialPlan, dict[str, Any] | Exception], None, None]:
        if not plans:
            return
        # reps are the plan's outer loop: a trial's index and seed do not depend on how many follow
        repetitions = max(p.repetition for p in plans) + 1
        run_tag = uuid.uuid4().hex[:8]
        with self._client() as client:
            self._check_workers(client)
            futures = {}
            for plan in plans:
                future = client.submit(run_trial_task, pack(spec, plan.trial_id, repetitions, runtime),
                                       resources={RESOURCE: 1}, pure=False,
                                       key=f"icelab-trial-{plan.trial_id}-{run_tag}")
                futures[future] = plan
            try:
                for future in as_completed(futures):
                    plan = futures[future]
                    try:
                        outcome: TrialOutcome = future.result()
                    except WorkerMismatch as error:
                        raise LabError(f"refused by a worker: {error}") from None
                    except KilledWorker as error:
                        row = lost_row(spec, plan, runtime, f"the worker running it died ({error})")
                        folder.prepare_trial(plan.trial_id)
                        folder.save_trial_files(plan.trial_id, row, {})
                        yield plan, row
                        continue
                    except Exception as error:
                        yield plan, error
                        continue
                    if not outcome["row"]:  # abandoned (an interrupted run): left for --resume
                        continue
                    folder.prepare_trial(plan.trial_id)
                    folder.save_trial_files(plan.trial_id, outcome["row"], outcome["files"])
                    yield plan, outcome["row"]
            finally:
                running = [f for f in futures if not f.done()]
                if running:  # interrupted: the workers abandon our trials, which tear down there
                    with contextlib.suppress(Exception):
                        client.run(stop_trials, [str(f.key) for f in running])
                        wait(running, timeout=ABANDON_TIMEOUT_S)
                client.cancel(list(futures))


def lost_row(spec: ExperimentSpec, plan: TrialPlan, runtime: str, reason: str) -> dict[str, Any]:
    """The row of a trial no worker could finish (workers died under it): failed, with why."""
    return {"trial_id": plan.trial_id, "index": plan.index, "experiment": spec.name, "fault": spec.fault.type,
            "policy": plan.policy.name, "trigger": plan.policy.trigger, "action": plan.policy.action,
            "side": plan.policy.side, "grace_s": plan.policy.grace_s, "rtt_ms": plan.rtt_ms,
            "loss_pct": plan.loss_pct, "repetition": plan.repetition, "seed": plan.seed, "runtime": runtime,
            "status": "error", "recovered": False, "failure_reason": reason}
