"""coturn relays inside lab topologies: specs, config rendering, credentials, control."""

from lab.turn.credentials import TurnCredential, ephemeral_credential, static_credential
from lab.turn.relay import Relay, RelayError, lab_ca_file
from lab.turn.spec import RelaySet, RelaySpec, parse_relay, parse_relays

__all__ = [
    "Relay", "RelayError", "RelaySet", "RelaySpec", "TurnCredential", "ephemeral_credential",
    "lab_ca_file", "parse_relay", "parse_relays", "static_credential",
]
