"""Expanding an experiment into its trials: [path x] [peer pair x] policy x RTT x loss x repetition, in a stable order."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

from lab.experiment.spec import ExperimentSpec, PeerKind, PolicySpec


@dataclass(frozen=True)
class TrialPlan:
    index: int
    trial_id: str
    policy: PolicySpec
    rtt_ms: float
    loss_pct: float
    repetition: int
    seed: int
    # the matrix's peer pair (matrix.peer_pairs), else None: the experiment's peers section decides
    pair: tuple[str, str] | None = None
    # "sfu": through the experiment's Janus (spec.sfu); "p2p": peer to peer
    path: str = "p2p"

    def kind_of(self, spec: ExperimentSpec, role: str) -> PeerKind:
        if self.pair is not None:
            return (self.pair[0] if role == "offerer" else self.pair[1])  # type: ignore[return-value]
        return spec.peers.kind_of(role)


def _fmt(value: float) -> str:
    return f"{value:g}".replace(".", "p")


def trial_seed(base_seed: int, trial_id: str) -> int:
    digest = hashlib.sha256(f"{base_seed}:{trial_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def plan_trials(spec: ExperimentSpec, repetitions: int | None = None) -> list[TrialPlan]:
    """Every trial of the run; repetitions are the outer loop so a cut-short run stays balanced."""
    reps = repetitions if repetitions is not None else spec.repetitions
    plans: list[TrialPlan] = []
    for rep in range(reps):
        cells = itertools.product(spec.paths(), spec.matrix.pairs(), spec.matrix.rtt_ms, spec.matrix.loss_pct,
                                  spec.policies)
        for path, pair, rtt, loss, policy in cells:
            trial_id = f"{policy.name}-rtt{_fmt(rtt)}-loss{_fmt(loss)}-r{rep}"
            if pair is not None:
                trial_id = f"{pair[0]}-{pair[1]}-{trial_id}"
            if spec.sfu is not None:
                trial_id = f"{path}-{trial_id}"
            plans.append(TrialPlan(
                index=len(plans), trial_id=trial_id, policy=policy, rtt_ms=rtt, loss_pct=loss,
                repetition=rep, seed=trial_seed(spec.seed, trial_id), pair=pair, path=path,
            ))
    return plans
