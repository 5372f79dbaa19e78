"""The agent's configuration lives in the neutral contract (lab.contract); kept importable here."""

from lab.contract import AgentConfig, Detection, IceServer, SignalingConfig

__all__ = ["AgentConfig", "Detection", "IceServer", "SignalingConfig"]
