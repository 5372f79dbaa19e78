"""The one adapter for aiortc/aioice internals, and the import-time check that the pinned
versions still have every private part lab.rtc uses.

Code outside lab.rtc reaches aiortc's private parts only through the functions at the end of
this module (tap_rtp, selected_pair).

lab.rtc subclasses aiortc 1.16.0 and aioice 0.13.0 and touches their private (partly
name-mangled) attributes. Another version may rename any of them; then importing lab.rtc fails
here with a message naming the missing attribute, rather than misbehaving mid-call.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aioice import Candidate, stun
    from aioice.turn import TurnClientMixin, TurnTransport
    from aiortc import RTCDtlsTransport, RTCIceTransport

PINNED = {"aiortc": "1.16.0", "aioice": "0.13.0"}

# attributes looked up on the classes (methods, properties)
CLASS_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "aiortc.rtcpeerconnection.RTCPeerConnection": (
        "_RTCPeerConnection__createDtlsTransport",
        "_RTCPeerConnection__updateIceConnectionState",
        "_RTCPeerConnection__updateConnectionState",
        "_RTCPeerConnection__updateIceGatheringState",
        "_RTCPeerConnection__setSignalingState",
        "_RTCPeerConnection__getTransceiverByMid",
        "_RTCPeerConnection__getTransceiverByMLineIndex",
        "_RTCPeerConnection__createTransceiver",
        "_RTCPeerConnection__connect",
    ),
    "aiortc.rtcrtptransceiver.RTCRtpTransceiver": (
        "_set_mid",
        "_set_mline_index",
        "_get_mline_index",
    ),
    "aiortc.rtcrtpsender.RTCRtpSender": ("setTransport",),
    "aioice.turn.TurnClientMixin": ("_TurnClientMixin__add_authentication", "request"),
    "aiortc.rtcrtpreceiver.RTCRtpReceiver": ("setTransport",),
    "aiortc.rtcdtlstransport.RTCDtlsTransport": (
        "_set_role",
        "_recv_next",
        "_send_rtp",
        "_get_stats",
        "_handle_rtp_data",
    ),
    "aioice.ice.Connection": (
        "query_consent",
        "_check_list_maybe_complete",
        "data_received",
        "build_request",
        "get_component_candidates",
        "gather_candidates",
        "add_remote_candidate",
        "connect",
        "close",
        "check_start",
        "check_start_task",
        "check_incoming",
        "check_complete",
        "check_state",
        "switch_role",
        "sort_check_list",
        "_check_periodic",
        "_remote_candidates_expected",
        "_check_list_maybe_fail",
        "_pair_remote_candidate",
        "_unfreeze_initial",
        "_find_pair",
        "_add_remote_candidate",
    ),
    "aioice.ice.StunProtocol": ("datagram_received", "request", "send_data"),
}

# attributes set on instances in __init__
INSTANCE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "aiortc.rtcpeerconnection.RTCPeerConnection": (
        "_RTCPeerConnection__certificates",
        "_RTCPeerConnection__configuration",
        "_RTCPeerConnection__dtlsTransports",
        "_RTCPeerConnection__iceTransports",
        "_RTCPeerConnection__remoteDtls",
        "_RTCPeerConnection__remoteIce",
        "_RTCPeerConnection__seenMids",
        "_RTCPeerConnection__sctp",
        "_RTCPeerConnection__sctp_mline_index",
        "_RTCPeerConnection__sctpRemotePort",
        "_RTCPeerConnection__sctpRemoteCaps",
        "_RTCPeerConnection__transceivers",
        "_RTCPeerConnection__closeTask",
        "_RTCPeerConnection__isClosed",
        "_RTCPeerConnection__currentLocalDescription",
        "_RTCPeerConnection__currentRemoteDescription",
        "_RTCPeerConnection__pendingLocalDescription",
        "_RTCPeerConnection__pendingRemoteDescription",
        "_sctpLegacySdp",
    ),
    "aioice.ice.Connection": (
        "_local_candidates",
        "_local_candidates_start",
        "_local_candidates_end",
        "_components",
        "_transport_policy",
        "_protocols",
        "_nominated",
        "_check_list",
        "_remote_candidates_end",
        "_remote_candidates",
        "_check_list_done",
        "_check_list_state",
        "_early_checks",
        "_early_checks_done",
        "_nominating",
        "_closing",
        "_use_ipv4",
        "_use_ipv6",
        "_query_consent_task",
    ),
    "aioice.turn.TurnTransport": (
        "_TurnTransport__inner_protocol",
        "_TurnTransport__close_task",
    ),
}


# instance attributes of classes too awkward to build here: their __init__ must assign them
ASSIGNED_IN_INIT: dict[str, tuple[str, ...]] = {
    "aiortc.rtcrtptransceiver.RTCRtpTransceiver": (
        "_offerDirection",
        "_codecs",
        "_headerExtensions",
        "_bundled",
    ),
    "aiortc.rtcrtpreceiver.RTCRtpReceiver": ("_track",),
    "aiortc.rtcdtlstransport.RTCDtlsTransport": ("_role", "_stats_id"),
    "aioice.ice.CandidatePair": ("protocol", "remote_candidate", "nominated", "state"),
    "aioice.ice.StunProtocol": ("id", "receiver", "transactions"),
    "aioice.turn.TurnClientMixin": ("transactions", "integrity_key", "server"),
}

# module-level helpers imported from aiortc/aioice internals
MODULE_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "aiortc.rtcicetransport": (
        "ICE_TRANSPORT_POLICIES",
        "connection_kwargs",
        "candidate_from_aioice",
        "candidate_to_aioice",
    ),
    "aiortc.rtcpeerconnection": ("and_direction", "wrap_session_description"),
    "aiortc.sdp": ("DIRECTIONS",),
    "aiortc.stats": ("RTCTransportStats",),
    "aioice.ice": (
        "StunProtocol",
        "CandidatePair",
        "candidate_pair_priority",
        "get_host_addresses",
        "relayed_candidate",
    ),
    "aioice.candidate": ("candidate_foundation", "candidate_priority"),
    "aioice.turn": (
        "TurnTransport",
        "TurnClientUdpProtocol",
        "DEFAULT_ALLOCATION_LIFETIME",
        "DEFAULT_CHANNEL_REFRESH_TIME",
    ),
}


# lab.rtc replaces aiortc's ICE transport and gatherer with subclasses that do not run the base
# __init__, so every attribute aiortc's own code reads from them must be lab.rtc's own (an
# inherited aiortc method would read aiortc state that was never set up). Attribute -> where
# aiortc reads it; a name aiortc starts reading must be added here.
READ_BACK: dict[str, dict[str, str]] = {
    "lab.rtc.ice_transport.RestartableIceTransport": {
        "iceGatherer": "rtcpeerconnection add_transport_description, __connect",
        "state": "rtcpeerconnection __updateIceConnectionState / __updateConnectionState",
        "role": "rtcdtlstransport RTCDtlsTransport.start, _get_stats",
        "start": "rtcpeerconnection __connect",
        "stop": "rtcpeerconnection close, bundling",
        "addRemoteCandidate": "rtcpeerconnection addIceCandidate, add_remote_candidates",
        "_recv": "rtcdtlstransport _recv_next",
        "_send": "rtcdtlstransport _send_data / _send_rtp",
        "_role_set": "rtcpeerconnection setLocalDescription / setRemoteDescription",
        "_connection": "rtcpeerconnection setLocalDescription / setRemoteDescription (ice_controlling)",
    },
    "lab.rtc.ice_transport.RestartableIceGatherer": {
        "getLocalCandidates": "rtcpeerconnection add_transport_description, __connect",
        "getLocalParameters": "rtcpeerconnection add_transport_description, __createDtlsTransport",
        "gather": "rtcpeerconnection __gather",
        "state": "rtcpeerconnection add_transport_description, __updateIceGatheringState",
    },
}


class IncompatibleAiortc(ImportError):
    pass


def _resolve(dotted: str) -> type:
    module_name, _, class_name = dotted.rpartition(".")
    module = __import__(module_name, fromlist=[class_name])
    return getattr(module, class_name)


def _instance(cls: type) -> object:
    if cls.__name__ == "Connection":
        return cls(ice_controlling=True)
    if cls.__name__ == "TurnTransport":
        return cls(None)
    return cls()


def _assigned_in_init(cls: type, name: str) -> bool:
    try:
        source = inspect.getsource(vars(cls)["__init__"])
    except (KeyError, OSError, TypeError):
        return False
    return f"self.{name} =" in source or f"self.{name}:" in source


def check_read_back() -> None:
    """lab.rtc's replacement objects still define what aiortc reads from them, and aiortc's
    transceiver still has the settable `direction` that lab.rtc's LabTransceiver wraps."""
    for dotted, names in READ_BACK.items():
        cls = _resolve(dotted)
        for name, where in names.items():
            if name not in vars(cls) and not _assigned_in_init(cls, name):
                raise IncompatibleAiortc(
                    f"{dotted} lacks {name!r}, which aiortc reads ({where})"
                )
    direction = vars(_resolve("aiortc.rtcrtptransceiver.RTCRtpTransceiver")).get("direction")
    if not isinstance(direction, property) or direction.fset is None:
        raise IncompatibleAiortc(
            "lab.rtc relies on aiortc.rtcrtptransceiver.RTCRtpTransceiver.direction being a "
            "settable property"
        )


def check() -> None:
    for package, pinned in PINNED.items():
        installed = version(package)
        if installed != pinned:
            raise IncompatibleAiortc(
                f"lab.rtc needs {package}=={pinned} (it relies on private attributes of that "
                f"version), but {package} {installed} is installed"
            )
    for module_name, names in MODULE_ATTRIBUTES.items():
        module = importlib.import_module(module_name)
        for name in names:
            if not hasattr(module, name):
                raise IncompatibleAiortc(
                    f"lab.rtc relies on {module_name}.{name}, which is missing"
                )
    for dotted, names in CLASS_ATTRIBUTES.items():
        cls = _resolve(dotted)
        for name in names:
            if not hasattr(cls, name):
                raise IncompatibleAiortc(f"lab.rtc relies on {dotted}.{name}, which is missing")
    for dotted, names in INSTANCE_ATTRIBUTES.items():
        instance = _instance(_resolve(dotted))
        for name in names:
            if not hasattr(instance, name):
                raise IncompatibleAiortc(
                    f"lab.rtc relies on the instance attribute {dotted}.{name}, which is missing"
                )
    for dotted, names in ASSIGNED_IN_INIT.items():
        cls = _resolve(dotted)
        for name in names:
            if not _assigned_in_init(cls, name):
                raise IncompatibleAiortc(
                    f"lab.rtc relies on the instance attribute {dotted}.{name}, which "
                    f"{cls.__name__}.__init__ no longer sets"
                )
    check_read_back()


# ----- the adapter: every private aiortc/aioice name used outside lab.rtc's own classes -----

RtpHook = Callable[[bytes], None]


def tap_rtp(transport: RTCDtlsTransport, on_sent: RtpHook, on_received: RtpHook | None = None) -> None:
    """Call on_sent(packet) for every RTP/RTCP packet a DTLS transport has handed to ICE, and
    on_received(packet) for every one that came out of SRTP (before aiortc handles it)."""
    send_rtp: Callable[[bytes], Awaitable[None]] = transport._send_rtp
    handle_rtp: Callable[..., Awaitable[None]] = transport._handle_rtp_data

    async def tapped_send(data: bytes) -> None:
        await send_rtp(data)
        on_sent(data)

    async def tapped_handle(data: bytes, arrival_time_ms: int) -> None:
        if on_received is not None:
            on_received(data)
        await handle_rtp(data, arrival_time_ms=arrival_time_ms)

    transport._send_rtp = tapped_send  # type: ignore[method-assign]
    if on_received is not None:
        transport._handle_rtp_data = tapped_handle  # type: ignore[method-assign]


@dataclass(frozen=True)
class SelectedPair:
    local: Candidate
    remote: Candidate
    generation: int | None


def selected_pair(ice_transport: RTCIceTransport) -> SelectedPair | None:
    """The pair an ICE transport sends on: lab.rtc's (its generations) or plain aiortc's
    nominated one (aioice's private table; the plain-aiortc baseline has no event for it)."""
    getter = getattr(ice_transport, "selectedCandidatePair", None) or getattr(
        ice_transport, "getSelectedCandidatePair", None)
    pair = getter() if callable(getter) else getter
    generation = getattr(ice_transport, "generation", None)
    if pair is None:
        connection = getattr(ice_transport, "_connection", None)
        if connection is None:
            return None
        pick = getattr(connection, "lab_selected_pair", None)
        pair = pick() if callable(pick) else getattr(connection, "_nominated", {}).get(1)
        generation = getattr(connection, "lab_generation", generation)
    if pair is None:
        return None
    local = getattr(pair, "local_candidate", None) or getattr(pair, "local", None)
    remote = getattr(pair, "remote_candidate", None) or getattr(pair, "remote", None)
    if local is None or remote is None:
        return None
    return SelectedPair(local, remote, generation)


# ----- aioice's TURN client (lab.rtc.turn) -----

def turn_add_authentication(client: TurnClientMixin, request: stun.Message) -> None:
    """USERNAME, REALM, NONCE and MESSAGE-INTEGRITY, as aioice's own requests carry them."""
    client._TurnClientMixin__add_authentication(request)  # type: ignore[attr-defined]


def turn_inner_protocol(relay: TurnTransport) -> Any:
    """The TURN client protocol under a relay transport (its socket to the server)."""
    return relay._TurnTransport__inner_protocol  # type: ignore[attr-defined]


def turn_abandon(relay: TurnTransport) -> None:
    """Close a relay's client socket without deleting the allocation (nothing would answer)."""
    pending = relay._TurnTransport__close_task  # type: ignore[attr-defined]
    if pending is not None:
        pending.cancel()
    turn_inner_protocol(relay).transport.close()
