"""Janus SFU in the lab: config from the templates in sfu/, the process in the SFU host's
namespace (start, stop, kill -9, restart), and a small typed client of the Janus API
(lab.sfu.client, used by the peer agents)."""

from lab.sfu.janus import Janus, JanusError, janus_version
from lab.sfu.spec import PUBLISHER_FEED, SFU_ROLE, SfuSpec, parse_sfu

__all__ = ["PUBLISHER_FEED", "SFU_ROLE", "Janus", "JanusError", "SfuSpec", "janus_version", "parse_sfu"]
