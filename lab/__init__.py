"""icelab: measures how WebRTC calls recover through ICE restart.

The Python API (files load into the same objects):

    from lab import Experiment, Lab, Topology, run_experiment

    topo = Topology("home").add_wan("internet").add_router("nat_a").add_host("alice") ...
    with Lab(topo) as lab:                                   # network, relays, signaling, captures
        lab.peer("alice").ping(lab.peer("relay"))
    run = run_experiment(Experiment(name=..., topology=topo, peers=..., fault=..., policies=[...]))
    run.trials, run.events, run.path                         # DataFrames and the run folder

See examples/ for complete scripts. Names load lazily: `import lab` stays cheap (the agents and
the CLI import it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from lab.experiment.faults import Fault, FaultContext, FaultParams
    from lab.experiment.runner import Run, run_experiment
    from lab.experiment.spec import Experiment, load_experiment
    from lab.experiment.testbed import Lab, Peer
    from lab.net.topology import Topology, load_topology

__all__ = ["__version__", "Experiment", "Fault", "FaultContext", "FaultParams", "Lab", "Peer", "Run", "Topology", "load_experiment", "load_topology", "run_experiment"]

_WHERE = {
    "Experiment": "lab.experiment.spec",
    "load_experiment": "lab.experiment.spec",
    "Fault": "lab.experiment.faults",
    "FaultContext": "lab.experiment.faults",
    "FaultParams": "lab.experiment.faults",
    "Lab": "lab.experiment.testbed",
    "Peer": "lab.experiment.testbed",
    "Run": "lab.experiment.runner",
    "run_experiment": "lab.experiment.runner",
    "Topology": "lab.net.topology",
    "load_topology": "lab.net.topology",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)
