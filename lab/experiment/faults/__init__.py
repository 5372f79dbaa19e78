"""Faults as timed, first-class events, one module per fault type (see base.py).

Importing this package registers the lab's faults; a new fault is one module with one `Fault`
subclass (its `Params` and its behaviour), imported before the experiment is parsed.
"""

from lab.experiment.faults.base import (
    FAULTS,
    Fault,
    FaultContext,
    FaultParams,
    fault_types,
    make_fault,
    need_node,
    need_relay,
    parse_fault,
    timed,
)
from lab.experiment.faults.binding_expiry import BindingExpiry
from lab.experiment.faults.blackhole import Blackhole
from lab.experiment.faults.handover import Handover
from lab.experiment.faults.janus_kill import JanusKill
from lab.experiment.faults.loss_burst import LossBurst
from lab.experiment.faults.nat_reboot import NatReboot
from lab.experiment.faults.relay_kill import RelayKill
from lab.experiment.faults.signaling_outage import SignalingOutage
from lab.experiment.faults.turn_allocation_expiry import TurnAllocationExpiry

__all__ = [
    "FAULTS", "BindingExpiry", "Blackhole", "Fault", "FaultContext", "FaultParams", "Handover", "JanusKill", "LossBurst",
    "NatReboot", "RelayKill", "SignalingOutage", "TurnAllocationExpiry", "fault_types", "make_fault",
    "need_node", "need_relay", "parse_fault", "timed",
]
