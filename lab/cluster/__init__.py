"""Trials across machines on Dask distributed: the client side (an engine the runner drives),
the task a worker runs, the worker's start-up checks, and the cluster's TLS certificates.

    icelab cluster certs DIR                      a CA and scheduler/worker/client certificates
    icelab cluster scheduler --certs DIR          the scheduler (TLS, mutual certificates)
    icelab worker tls://HOST:8786 --certs DIR     a worker per lab host (doctor checks first)
    icelab run EXP --cluster tls://HOST:8786 --certs DIR   or  --cluster local:N

Only the experiment travels (spec and topology as data, the icelab version, the spec hash); a
worker runs a trial in its own ICELAB_SCOPE and sends back the trial folder's files, which the
client writes into the run folder as a local run does (lab.experiment.runner's executor seam).
"""
