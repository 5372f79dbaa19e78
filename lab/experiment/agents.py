"""What each peer agent of a trial is told (lab.contract's AgentConfig), from the experiment and
the trial's plan."""

from __future__ import annotations

from lab.contract import AgentConfig, IceServer, SfuLeg, SignalingConfig
from lab.experiment.plan import TrialPlan
from lab.experiment.spec import ExperimentSpec

ROLES = ("offerer", "answerer")


def receivers(spec: ExperimentSpec) -> tuple[str, ...]:
    """The roles that receive media: their flows decide when the call is up and recovered."""
    direction = spec.media.direction
    return tuple(r for r in ROLES if direction == "both" or not direction.startswith(r))


def agent_config(spec: ExperimentSpec, plan: TrialPlan, role: str, ice_servers: list[IceServer],
                 signaling: SignalingConfig, sfu: SfuLeg | None = None) -> AgentConfig:
    policy, direction = plan.policy, spec.media.direction
    kind, _, rtc_profile = plan.kind_of(spec, role).partition("~")  # "aiortc~chrome": a stand-in
    return AgentConfig(
        trial_id=plan.trial_id, role=role, host=getattr(spec.peers, role),  # type: ignore[arg-type]
        kind=kind, rtc_profile=rtc_profile or None, polite=spec.peers.polite == role,  # type: ignore[arg-type]
        restarts=policy.restarts_side(role, spec.peers.polite),
        policy=policy, signaling=signaling, ice_servers=ice_servers,
        ice_transport_policy=spec.ice.transport, detection=spec.ice.detection(), codec=spec.media.codec,
        send_media=direction == "both" or direction.startswith(role),
        watch_network=policy.trigger == "network-change",
        wait_for_start=True, sfu=sfu,
    )
