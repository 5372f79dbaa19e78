"""The neutral contract between the orchestrator and every peer agent (aiortc, Chromium, ...).

What an agent is told when it starts (`AgentConfig`, with its `Policy` and `Detection`), the
commands it receives (`Command` classes, each with a `kind` literal) and the events it reports
(`Event` classes with a `kind` literal, or the `EventKind` names). Both sides import this
package; it imports nothing of the orchestrator (lab.experiment) nor of the runtimes.
"""

from lab.contract.commands import (
    Command,
    NetworkChange,
    Ping,
    Restart,
    Signal,
    SignalingOutage,
    Start,
    Stop,
    parse_command,
)
from lab.contract.config import (
    AgentConfig,
    AgentKind,
    IceServer,
    PeerKind,
    RtcProfile,
    SfuLeg,
    SignalingConfig,
)
from lab.contract.detection import Detection
from lab.contract.events import (
    EVENT_KINDS,
    AgentEvent,
    ConnectionStateEvent,
    Emit,
    ErrorEvent,
    EventKind,
    MediaRxEvent,
    OtherEvent,
    RestartEvent,
    SelectedPairEvent,
    SignalEvent,
    event_line,
    is_event_kind,
    parse_event,
)
from lab.contract.policy import (
    POLICY_PRESETS,
    Action,
    Policy,
    Side,
    Trigger,
    register_policy_preset,
)

__all__ = [
    "EVENT_KINDS", "POLICY_PRESETS", "Action", "AgentConfig", "AgentEvent", "AgentKind", "Command", "ConnectionStateEvent", "Detection", "Emit",
    "ErrorEvent", "EventKind", "IceServer", "MediaRxEvent", "NetworkChange", "OtherEvent", "PeerKind", "Ping",
    "Policy", "Restart", "RestartEvent", "RtcProfile", "SelectedPairEvent", "SfuLeg", "Side", "Signal", "SignalEvent", "SignalingConfig",
    "SignalingOutage", "Start", "Stop", "Trigger", "event_line", "is_event_kind", "parse_command", "parse_event", "register_policy_preset",
]
