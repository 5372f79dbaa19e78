"""The peer agent: one process per peer host, run as `python -m lab.runtime.agent CONFIG_JSON`.

It holds the call (restartable peer connection, perfect negotiation, synthetic audio), applies
the restart policy, and reports events as JSON lines on stdout (see lab.experiment.events).
"""
