"""RTCPeerConnection with ICE restart, negotiationneeded, rollback and 'disconnected'.

A drop-in subclass of aiortc's RTCPeerConnection (pinned 1.16.0). What it adds and how it
hooks in is described in lab/rtc/__init__.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import string
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional, TypeVar, Union

import aiortc
from aiortc import sdp
from aiortc.exceptions import InvalidAccessError, InvalidStateError
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcconfiguration import RTCBundlePolicy, RTCConfiguration
from aiortc.rtcdatachannel import RTCDataChannel
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcicetransport import RTCIceCandidate, candidate_from_aioice, candidate_to_aioice
from aiortc.rtcpeerconnection import and_direction, wrap_session_description
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.rtcsessiondescription import RTCSessionDescription
from aiortc.stats import RTCStatsReport

from . import descriptions
from .generation import IceGeneration
from .ice_transport import (
    GenerationFactory,
    MediaReceived,
    RestartableIceGatherer,
    RestartableIceTransport,
)
from .options import DetectionConfig, IceOptions
from .stats import ice_stats
from .transceiver import LabTransceiver, adopt

logger = logging.getLogger(__name__)

T = TypeVar("T")
_W3C_ICE_STATE = {"completed": "connected"}
_REVERSED = {"sendonly": "recvonly", "recvonly": "sendonly"}
_ICE_CHARS = string.ascii_letters + string.digits


def _offers_trickle(description: sdp.SessionDescription) -> bool:
    return any(
        "trickle" in (media.ice_options or "").split() for media in description.media
    ) or "trickle" in (getattr(description, "ice_options", None) or "").split()


def new_ice_credentials() -> tuple[str, str]:
    """A fresh ufrag (4 chars, as aiortc makes them) and pwd (22 chars)."""
    ufrag = "".join(secrets.choice(_ICE_CHARS) for _ in range(4))
    pwd = "".join(secrets.choice(_ICE_CHARS) for _ in range(22))
    return ufrag, pwd


@dataclass
class _TransceiverState:
    transceiver: RTCRtpTransceiver
    mid: Optional[str]
    mline_index: Optional[int]
    offer_direction: Optional[str]
    codecs: list[Any]
    header_extensions: list[Any]
    receiver_track: Any


@dataclass
class _IceState:
    described: IceGeneration
    remote_target: IceGeneration
    role_set: bool
    controlling: bool


@dataclass
class _Snapshot:
    """What a description applied from 'stable' may change, to undo on rollback."""

    transceivers: list[RTCRtpTransceiver]
    transceiver_states: list[_TransceiverState]
    remote_ice: dict[Any, Any]
    remote_dtls: dict[Any, Any]
    seen_mids: set[str]
    sctp: Any
    sctp_mid: Optional[str]
    sctp_mline_index: Optional[int]
    sctp_remote_port: Optional[int]
    sctp_remote_caps: Any
    sctp_legacy: bool
    ice_transports: set[Any]
    dtls_transports: set[Any]
    ice: dict[RestartableIceTransport, _IceState] = field(default_factory=dict)
    dtls_roles: dict[RTCDtlsTransport, str] = field(default_factory=dict)


class RTCPeerConnection(aiortc.RTCPeerConnection):
    """aiortc's RTCPeerConnection plus restartIce(), negotiationneeded, rollback, 'disconnected'.

    :param configuration: an RTCConfiguration, as for aiortc.
    :param detection: when the ICE transport turns 'disconnected' / 'failed'.
    :param ice: host addresses and make-before-break timing of ICE generations.
    """

    def __init__(
        self,
        configuration: Optional[RTCConfiguration] = None,
        *,
        detection: Optional[DetectionConfig] = None,
        ice: Optional[IceOptions] = None,
    ) -> None:
        # W3C's default is no ICE servers; aiortc's would query a public STUN server, which a
        # lab peer must never do.
        super().__init__(configuration or RTCConfiguration(iceServers=[]))
        self._lab_detection = detection or DetectionConfig()
        self._lab_ice_options = ice or IceOptions()
        config = self._lab_configuration
        self._lab_factory = GenerationFactory(
            config.iceServers, config.iceTransportPolicy, self._lab_detection, self._lab_ice_options
        )
        self._lab_ice_state = "new"
        self._lab_connection_state = "new"
        self._lab_ops = 0
        self._lab_lock = asyncio.Lock()
        self._lab_negotiation_needed = False
        self._lab_update_on_empty_chain = False
        self._lab_refire = False
        self._lab_credentials_to_replace: set[tuple[str, str]] = set()
        self._lab_snapshot: Optional[_Snapshot] = None
        # W3C [[LastCreatedOffer]] / [[LastCreatedAnswer]], valid while _lab_epoch is unchanged
        self._lab_epoch = 0
        self._lab_last_offer: Optional[tuple[RTCSessionDescription, int]] = None
        self._lab_last_answer: Optional[tuple[RTCSessionDescription, int]] = None

    # private state of the base class

    def _lab_get(self, name: str) -> Any:
        return getattr(self, "_RTCPeerConnection__" + name)

    def _lab_set(self, name: str, value: Any) -> None:
        setattr(self, "_RTCPeerConnection__" + name, value)

    @property
    def _lab_configuration(self) -> RTCConfiguration:
        return self._lab_get("configuration")

    @property
    def _lab_closed(self) -> bool:
        return bool(self._lab_get("isClosed"))

    def _lab_transports(self) -> list[RestartableIceTransport]:
        return list(self._lab_get("iceTransports"))

    def _lab_transport_for_mid(self, mid: Optional[str]) -> Optional[RestartableIceTransport]:
        transceiver = self._lab_get("getTransceiverByMid")(mid)
        if transceiver is not None:
            transport = transceiver.receiver.transport.transport
        elif self.sctp is not None and self.sctp.mid == mid:
            transport = self.sctp.transport.transport
        else:
            return None
        assert isinstance(transport, RestartableIceTransport)
        return transport

    def _lab_transport_for_new_mline(
        self, index: int, kind: str
    ) -> Optional[RestartableIceTransport]:
        """The ICE transport of an m-line our offer adds (its mid is assigned only when the
        offer is applied; aiortc finds its transceiver by m-line index)."""
        if kind == "application":
            sctp = self.sctp
            if sctp is None or sctp.mid is not None:
                return None
            transport = sctp.transport.transport
        else:
            transceiver = self._lab_get("getTransceiverByMLineIndex")(index)
            if transceiver is None or transceiver.mid is not None:
                return None
            transport = transceiver.receiver.transport.transport
        return transport if isinstance(transport, RestartableIceTransport) else None

    # states

    @property
    def iceConnectionState(self) -> str:
        """new, checking, connected, disconnected, failed or closed (W3C names; 'completed' is
        never reported: see lab/rtc/README.md)."""
        return self._lab_ice_state

    @property
    def connectionState(self) -> str:
        """new, connecting, connected, disconnected, failed or closed."""
        return self._lab_connection_state

    # W3C description attributes (aiortc has only localDescription / remoteDescription)

    @property
    def currentLocalDescription(self) -> Optional[RTCSessionDescription]:
        return wrap_session_description(self._lab_get("currentLocalDescription"))

    @property
    def pendingLocalDescription(self) -> Optional[RTCSessionDescription]:
        return wrap_session_description(self._lab_get("pendingLocalDescription"))

    @property
    def currentRemoteDescription(self) -> Optional[RTCSessionDescription]:
        return wrap_session_description(self._lab_get("currentRemoteDescription"))

    @property
    def pendingRemoteDescription(self) -> Optional[RTCSessionDescription]:
        return wrap_session_description(self._lab_get("pendingRemoteDescription"))

    @property
    def detection(self) -> DetectionConfig:
        return self._lab_detection

    def _RTCPeerConnection__updateIceConnectionState(self) -> None:
        # aiortc's transport says 'completed' once it nominated a pair; lab.rtc keeps checking
        # (consent, new generations, trickled candidates): W3C calls that 'connected'. A
        # transport not started yet (made for an m-line that BUNDLE will fold) does not count.
        states = {_W3C_ICE_STATE.get(t.state, t.state) for t in self._lab_get("iceTransports")}
        live = states - {"new"}
        if self._lab_closed:
            state = "closed"
        elif "failed" in live:
            state = "failed"
        elif "disconnected" in live:
            state = "disconnected"
        elif "checking" in live:
            state = "checking"
        elif "connected" in live and live <= {"connected", "closed"}:
            state = "connected"
        else:
            state = "new"
        if state != self._lab_ice_state:
            logger.debug("iceConnectionState %s -> %s", self._lab_ice_state, state)
            self._lab_ice_state = state
            self.emit("iceconnectionstatechange")

    def _RTCPeerConnection__updateConnectionState(self) -> None:
        dtls_states = {t.state for t in self._lab_get("dtlsTransports")}
        ice_states = {t.state for t in self._lab_get("iceTransports")}
        if self._lab_closed:
            state = "closed"
        elif "failed" in ice_states or "failed" in dtls_states:
            state = "failed"
        elif "disconnected" in ice_states:
            state = "disconnected"
        elif not ice_states - {"new", "closed"} and not dtls_states - {"new", "closed"}:
            state = "new"
        elif "checking" in ice_states or "connecting" in dtls_states or "new" in dtls_states:
            state = "connecting"
        else:
            state = "connected"
        if state != self._lab_connection_state:
            logger.debug("connectionState %s -> %s", self._lab_connection_state, state)
            self._lab_connection_state = state
            self.emit("connectionstatechange")
        # the remote end closed every DTLS session (it hung up): close, as aiortc does
        if (
            not self._lab_closed
            and self._lab_get("closeTask") is None
            and dtls_states == {"closed"}
        ):
            self._lab_set("closeTask", asyncio.ensure_future(self.close()))

    # transports

    def _RTCPeerConnection__createDtlsTransport(self) -> RTCDtlsTransport:
        username = password = None
        existing = next(iter(self._lab_get("iceTransports")), None)
        if existing is not None:
            local = existing.iceGatherer.getLocalParameters()
            username, password = local.usernameFragment, local.password
        first = self._lab_factory.make(
            0, ice_controlling=False, username=username, password=password
        )
        gatherer = RestartableIceGatherer(self._lab_factory, first)
        gatherer.on("statechange", self._lab_get("updateIceGatheringState"))
        transport = RestartableIceTransport(gatherer, self._lab_factory, self._lab_on_media)
        transport.on("statechange", self._RTCPeerConnection__updateIceConnectionState)
        transport.on("statechange", self._RTCPeerConnection__updateConnectionState)
        transport.on(
            "selectedcandidatepairchange",
            lambda change: self.emit("selectedcandidatepairchange", change),
        )
        transport.on("generationfailed", lambda g: self.emit("generationfailed", g))
        transport.on(
            "icecandidate", lambda g, c, t=transport: self._lab_on_local_candidate(t, g, c)
        )
        self._lab_get("iceTransports").add(transport)

        dtls = RTCDtlsTransport(transport, self._lab_get("certificates"))
        dtls.on("statechange", self._RTCPeerConnection__updateConnectionState)
        self._lab_get("dtlsTransports").add(dtls)

        self._lab_get("updateIceGatheringState")()
        self._RTCPeerConnection__updateIceConnectionState()
        self._RTCPeerConnection__updateConnectionState()
        return dtls

    def _RTCPeerConnection__createTransceiver(
        self, direction: str, kind: str, sender_track: Optional[MediaStreamTrack] = None
    ) -> LabTransceiver:
        transceiver = aiortc.RTCPeerConnection._RTCPeerConnection__createTransceiver(  # type: ignore[attr-defined]
            self, direction=direction, kind=kind, sender_track=sender_track
        )
        return adopt(transceiver, self._lab_update_negotiation_needed)

    def _lab_on_media(self, event: MediaReceived) -> None:
        if self.listeners("mediareceived"):
            self.emit("mediareceived", event)

    # trickle ICE (RFC 8838)

    @property
    def canTrickleIceCandidates(self) -> Optional[bool]:
        """None before a remote description; then whether it says `a=ice-options:trickle`."""
        remote = self._lab_get("pendingRemoteDescription") or self._lab_get(
            "currentRemoteDescription"
        )
        if remote is None:
            return None
        return _offers_trickle(remote)

    def _lab_on_local_candidate(
        self, transport: RestartableIceTransport, generation: IceGeneration, candidate: Any
    ) -> None:
        """A trickled local candidate (None: end of candidates) -> 'icecandidate'."""
        if self._lab_closed:
            return
        ufrag = generation.local.usernameFragment
        self._lab_add_to_local_description(ufrag, candidate)
        if candidate is None:
            if generation is transport.iceGatherer.described:
                self.emit("icecandidate", None)
            return
        mid, index = self._lab_mid_of(transport)
        init = candidate_from_aioice(candidate)
        init.sdpMid = mid
        init.sdpMLineIndex = index
        # the generation it belongs to (W3C RTCIceCandidate.usernameFragment)
        init.usernameFragment = ufrag  # type: ignore[attr-defined]
        self.emit("icecandidate", init)

    def _lab_add_to_local_description(self, ufrag: str | None, candidate: Any) -> None:
        """W3C: localDescription names every candidate gathered so far (and end-of-candidates),
        so an application that does not trickle can send it once gathering completed."""
        for name in ("pendingLocalDescription", "currentLocalDescription"):
            description: Optional[sdp.SessionDescription] = self._lab_get(name)
            if description is None:
                continue
            for media in description.media:
                if media.ice is None or media.ice.usernameFragment != ufrag:
                    continue
                if candidate is None:
                    media.ice_candidates_complete = True
                else:
                    media.ice_candidates.append(candidate_from_aioice(candidate))

    def _lab_mid_of(self, transport: RestartableIceTransport) -> tuple[Optional[str], Optional[int]]:
        for transceiver in self.getTransceivers():
            if transceiver.receiver.transport.transport is transport and transceiver.mid is not None:
                return transceiver.mid, transceiver._get_mline_index()
        sctp = self.sctp
        if sctp is not None and sctp.transport.transport is transport:
            return sctp.mid, self._lab_get("sctp_mline_index")
        return None, None

    def _lab_trickle_description(self, description: RTCSessionDescription) -> RTCSessionDescription:
        if not self._lab_ice_options.trickle:
            return description
        parsed = sdp.SessionDescription.parse(description.sdp)
        for media in parsed.media:
            media.ice_options = "trickle"
        return RTCSessionDescription(sdp=str(parsed), type=description.type)

    def _lab_prepare_gathering(self, kind: str) -> None:
        """Trickle unless answering a peer that does not (its offer lacks ice-options)."""
        trickle = self._lab_ice_options.trickle and (
            kind == "offer" or bool(self.canTrickleIceCandidates)
        )
        for transport in self._lab_transports():
            transport.iceGatherer.trickle = trickle

    def _lab_announce_candidates(self) -> None:
        """Candidates the new local description missed are trickled, then every later one."""
        local: Optional[sdp.SessionDescription] = self._lab_get(
            "pendingLocalDescription"
        ) or self._lab_get("currentLocalDescription")
        if local is None:
            return
        for media in local.media:
            transport = self._lab_transport_for_mid(media.rtp.muxId)
            if transport is None or media.ice is None:
                continue
            generation = transport.generation_for_local_ufrag(media.ice.usernameFragment)
            if generation is None:
                continue
            generation.announce(
                [candidate_to_aioice(c) for c in media.ice_candidates],
                media.ice_candidates_complete,
            )

    # configuration

    def getConfiguration(self) -> RTCConfiguration:
        return self._lab_configuration

    def setConfiguration(self, configuration: RTCConfiguration) -> None:
        """Change ICE servers / transport policy; used from the next ICE generation on."""
        if configuration.bundlePolicy != self._lab_configuration.bundlePolicy:
            raise InvalidAccessError("bundlePolicy cannot change on an existing connection")
        self._lab_set("configuration", configuration)
        self._lab_factory.configure(
            configuration.iceServers, configuration.iceTransportPolicy, self._lab_ice_options
        )

    @property
    def iceOptions(self) -> IceOptions:
        return self._lab_ice_options

    def setIceOptions(self, options: IceOptions) -> None:
        """Change host addresses / generation timing; used from the next ICE generation on."""
        self._lab_ice_options = options
        config = self._lab_configuration
        self._lab_factory.configure(config.iceServers, config.iceTransportPolicy, options)

    # operations chain (W3C): one offer/answer operation at a time

    async def _lab_chain(self, operation: Callable[[], Awaitable[T]]) -> T:
        if self._lab_closed:
            raise InvalidStateError("RTCPeerConnection is closed")
        self._lab_ops += 1
        try:
            async with self._lab_lock:
                if self._lab_closed:
                    await self._lab_never_settle()
                result = await operation()
        except Exception:
            if self._lab_closed:
                await self._lab_never_settle()
            raise
        finally:
            self._lab_ops -= 1
            if self._lab_ops == 0 and self._lab_update_on_empty_chain:
                self._lab_update_on_empty_chain = False
                self._lab_update_negotiation_needed()
        if self._lab_closed:
            await self._lab_never_settle()
        return result

    async def _lab_never_settle(self) -> Any:
        """W3C: an operation pending when close() is called never resolves nor rejects. The
        awaiting task stays suspended until it is cancelled."""
        await asyncio.get_running_loop().create_future()

    # negotiation-needed (W3C "update the negotiation-needed flag")

    def _lab_update_negotiation_needed(self, refire: bool = False) -> None:
        self._lab_epoch += 1  # whatever changed may make [[LastCreatedOffer]] stale
        if self._lab_closed:
            return
        if refire:
            self._lab_refire = True
        if self._lab_ops > 0:
            self._lab_update_on_empty_chain = True
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the loop: evaluate after the next operation
            self._lab_update_on_empty_chain = True
            return
        loop.call_soon(self._lab_negotiation_needed_task)

    def _lab_negotiation_needed_task(self) -> None:
        if self._lab_closed:
            return
        if self._lab_ops > 0:
            self._lab_update_on_empty_chain = True
            return
        if self.signalingState != "stable":
            return
        if not self._lab_is_negotiation_needed():
            self._lab_negotiation_needed = False
            self._lab_refire = False
            return
        if self._lab_negotiation_needed and not self._lab_refire:
            return
        self._lab_refire = False
        self._lab_negotiation_needed = True
        self.emit("negotiationneeded")

    def _lab_is_negotiation_needed(self) -> bool:
        if self._lab_credentials_to_replace:
            return True
        local: Optional[sdp.SessionDescription] = self._lab_get("currentLocalDescription")
        sctp = self.sctp
        if sctp is not None and (
            local is None or not any(m.kind == "application" for m in local.media)
        ):
            return True
        for transceiver in self.getTransceivers():
            if transceiver.stopped:
                continue
            if transceiver.mid is None or local is None:
                return True
            media = next((m for m in local.media if m.rtp.muxId == transceiver.mid), None)
            if media is None:
                return True
            if local.type == "offer":
                # W3C: neither the offer nor the answer (reversed) has the direction
                remote: Optional[sdp.SessionDescription] = self._lab_get(
                    "currentRemoteDescription"
                )
                answered = next(
                    (m for m in (remote.media if remote else []) if m.rtp.muxId == transceiver.mid),
                    None,
                )
                reversed_answer = (
                    None if answered is None or answered.direction is None
                    else _REVERSED.get(answered.direction, answered.direction)
                )
                if media.direction != transceiver.direction and (
                    reversed_answer != transceiver.direction
                ):
                    return True
            else:
                expected = and_direction(
                    transceiver.direction, transceiver._offerDirection or transceiver.direction
                )
                if media.direction != expected:
                    return True
        return False

    # W3C API additions

    def restartIce(self) -> None:
        """Ask for an ICE restart: the next offer carries new ICE credentials (W3C)."""
        if self._lab_closed:
            return
        credentials: set[tuple[str, str]] = set()
        for name in ("currentLocalDescription", "pendingLocalDescription"):
            description = self._lab_get(name)
            if description is not None:
                for media in description.media:
                    credentials.add((media.ice.usernameFragment, media.ice.password))
        self._lab_credentials_to_replace = credentials
        self._lab_update_negotiation_needed()

    def addTrack(self, track: MediaStreamTrack) -> RTCRtpSender:
        sender = super().addTrack(track)
        for transceiver in self.getTransceivers():
            if transceiver.sender is sender and isinstance(transceiver, LabTransceiver):
                # JSEP §5.10: a remote offer's new m-line may claim it (made or reused by addTrack)
                transceiver.lab_by_add_track = True
        self._lab_update_negotiation_needed()
        return sender

    def addTransceiver(
        self, trackOrKind: Union[str, MediaStreamTrack], direction: str = "sendrecv"
    ) -> RTCRtpTransceiver:
        transceiver = super().addTransceiver(trackOrKind, direction)
        self._lab_update_negotiation_needed()
        return transceiver

    def createDataChannel(self, label: str, *args: Any, **kwargs: Any) -> RTCDataChannel:
        first = self.sctp is None
        channel = super().createDataChannel(label, *args, **kwargs)
        if first:
            self._lab_update_negotiation_needed()
        return channel

    # offer / answer

    async def createOffer(self, iceRestart: bool = False) -> RTCSessionDescription:
        """Create an offer; `iceRestart=True` (legacy option) forces new ICE credentials."""
        return await self._lab_chain(lambda: self._lab_create_offer(iceRestart))

    async def createAnswer(self) -> RTCSessionDescription:
        return await self._lab_chain(self._lab_create_answer)

    async def _lab_create_answer(self) -> RTCSessionDescription:
        answer = self._lab_trickle_description(await super().createAnswer())
        self._lab_last_answer = (answer, self._lab_epoch)
        return answer

    def _lab_last_created(
        self, last: Optional[tuple[RTCSessionDescription, int]]
    ) -> Optional[RTCSessionDescription]:
        """[[LastCreatedOffer]] / [[LastCreatedAnswer]] if it still describes this connection:
        nothing was applied, rolled back, added, redirected or restarted since it was made."""
        if last is None or last[1] != self._lab_epoch:
            return None
        return last[0]

    async def _lab_create_offer(self, ice_restart: bool) -> RTCSessionDescription:
        if self._lab_closed:
            raise InvalidStateError("RTCPeerConnection is closed")
        transports = self._lab_transports()
        described = {t: t.iceGatherer.described for t in transports}
        negotiated = self._lab_negotiated_rtp()
        negotiated_before = self._lab_get("currentLocalDescription") is not None
        if (ice_restart or self._lab_credentials_to_replace) and negotiated_before:
            self._lab_prepare_restart(transports)
        try:
            offer = await super().createOffer()
        finally:
            for transport, generation in described.items():
                transport.iceGatherer.described = generation
        offer = self._lab_trickle_description(offer)
        if negotiated:
            offer = self._lab_keep_negotiated_rtp(offer, negotiated)
        self._lab_last_offer = (offer, self._lab_epoch)
        return offer

    def _lab_negotiated_rtp(self) -> dict[RTCRtpTransceiver, tuple[list[Any], list[Any]]]:
        """Payload types and header extension ids the current descriptions agreed on."""
        remote = self._lab_get("currentRemoteDescription")
        if remote is None:
            return {}
        mids = {m.rtp.muxId for m in remote.media}
        return {
            t: (list(t._codecs), list(t._headerExtensions))
            for t in self.getTransceivers()
            if t.mid in mids and t._codecs and not t.stopped
        }

    def _lab_keep_negotiated_rtp(
        self,
        offer: RTCSessionDescription,
        negotiated: dict[RTCRtpTransceiver, tuple[list[Any], list[Any]]],
    ) -> RTCSessionDescription:
        """aiortc re-offers its default payload types and extension ids; once the remote side
        picked others (it made the first offer), a re-offer must keep them: browsers reject a
        reassigned extension id ("RTP extension ID reassignment not supported")."""
        description = sdp.SessionDescription.parse(offer.sdp)
        for transceiver, (codecs, extensions) in negotiated.items():
            transceiver._codecs = codecs
            transceiver._headerExtensions = extensions
            for media in description.media:
                if media.rtp.muxId == transceiver.mid:
                    media.rtp.codecs = codecs
                    media.rtp.headerExtensions = extensions
                    media.fmt = [codec.payloadType for codec in codecs]
        return RTCSessionDescription(sdp=str(description), type=offer.type)

    def _lab_prepare_restart(self, transports: list[RestartableIceTransport]) -> None:
        fresh: Optional[tuple[str, str]] = None
        for transport in transports:
            pending = transport.pendingGeneration
            if (
                pending is not None
                and not pending.started
                and (pending.local.usernameFragment, pending.local.password)
                not in self._lab_credentials_to_replace
            ):
                generation = pending
            else:
                if fresh is None:
                    fresh = new_ice_credentials()
                generation = transport.new_generation(*fresh)
            transport.iceGatherer.described = generation

    async def setLocalDescription(
        self, sessionDescription: Optional[RTCSessionDescription] = None
    ) -> None:
        await self._lab_chain(lambda: self._lab_set_local(sessionDescription))

    async def _lab_set_local(self, description: Optional[RTCSessionDescription]) -> None:
        if description is None:
            if self.signalingState in ("have-remote-offer", "have-local-pranswer"):
                description = self._lab_last_created(self._lab_last_answer)
                description = description or await self._lab_create_answer()
            else:
                description = self._lab_last_created(self._lab_last_offer)
                description = description or await self._lab_create_offer(False)
        descriptions.check_state(description, self.signalingState, remote=False)
        if description.type == "rollback":
            await self._lab_rollback()
            return
        parsed = descriptions.parse(description)
        descriptions.check_content(parsed)
        took_snapshot = description.type == "offer" and self.signalingState == "stable"
        if took_snapshot:
            self._lab_snapshot = self._lab_take_snapshot()
        described = {t: t.iceGatherer.described for t in self._lab_transports()}
        for index, media in enumerate(parsed.media):
            transport = self._lab_transport_for_mid(media.rtp.muxId)
            if transport is None:
                transport = self._lab_transport_for_new_mline(index, media.kind)
            if transport is not None and media.ice is not None:
                generation = transport.generation_for_local_ufrag(media.ice.usernameFragment)
                if generation is not None:
                    transport.iceGatherer.described = generation
        hidden = self._lab_unoffered() if description.type == "answer" else []
        self._lab_prepare_gathering(description.type)
        try:
            with self._lab_hiding(hidden):
                await super().setLocalDescription(description)
        except Exception as exc:
            for transport, generation in described.items():
                transport.iceGatherer.described = generation
            if took_snapshot:
                self._lab_snapshot = None
            error = descriptions.as_w3c_error(exc)
            if error is exc:
                raise
            raise error from exc
        self._lab_epoch += 1
        self._lab_announce_candidates()
        if description.type == "answer":
            pending_remote = self._lab_get("pendingRemoteDescription")
            if pending_remote is not None:
                self._lab_set("currentRemoteDescription", pending_remote)
                self._lab_set("pendingRemoteDescription", None)
            self._lab_on_stable()

    async def setRemoteDescription(self, sessionDescription: RTCSessionDescription) -> None:
        await self._lab_chain(lambda: self._lab_set_remote(sessionDescription))

    async def _lab_set_remote(self, description: RTCSessionDescription) -> None:
        descriptions.check_state(description, self.signalingState, remote=True)
        if description.type == "rollback":
            await self._lab_rollback()
            return
        parsed = descriptions.parse(description)
        descriptions.check_content(parsed)
        if description.type == "offer":
            if self.signalingState == "have-local-offer":
                await self._lab_rollback()  # implicit rollback (W3C, perfect negotiation)
            if self.signalingState == "stable":
                self._lab_snapshot = self._lab_take_snapshot()
        before = set(self.getTransceivers())
        try:
            hidden = self._lab_claim_for_remote(parsed) if description.type == "offer" else []
            self._lab_route_remote(parsed, description.type)
            with self._lab_hiding(hidden):
                await super().setRemoteDescription(description)
        except Exception as exc:
            self._lab_mark_remote_made(before)
            snapshot = self._lab_snapshot
            if description.type == "offer" and snapshot is not None:
                if self.signalingState == "stable":  # this offer was the first: undo it whole
                    await self._lab_restore(snapshot)
                    self._lab_snapshot = None
            error = descriptions.as_w3c_error(exc)
            if error is exc:
                raise
            raise error from exc
        self._lab_mark_remote_made(before)
        self._lab_epoch += 1
        if description.type == "answer":
            pending_local = self._lab_get("pendingLocalDescription")
            if pending_local is not None:
                self._lab_set("currentLocalDescription", pending_local)
                self._lab_set("pendingLocalDescription", None)
            self._lab_on_stable()

    def _lab_mark_remote_made(self, before: set[RTCRtpTransceiver]) -> None:
        for transceiver in self.getTransceivers():
            if transceiver not in before and isinstance(transceiver, LabTransceiver):
                transceiver.lab_by_remote = True

    def _lab_claim_for_remote(self, parsed: sdp.SessionDescription) -> list[RTCRtpTransceiver]:
        """JSEP §5.10: a remote offer's m-line without a transceiver of its mid claims only a
        transceiver addTrack() made (or reused), of its kind, not yet associated; otherwise a new
        one is made. aiortc would take any unassociated one of the kind, so an addTransceiver()
        the app is about to offer itself would be merged into the remote's m-line. Claims are
        made here; returns the unassociated transceivers aiortc must not see meanwhile."""
        transceivers = list(self._lab_get("transceivers"))
        free = [t for t in transceivers if t.mid is None and not t.stopped]
        for index, media in enumerate(parsed.media):
            if media.kind not in ("audio", "video"):
                continue
            mid = media.rtp.muxId
            owner = next((t for t in transceivers if t.mid == mid), None)
            if owner is not None:
                if owner.kind != media.kind:
                    raise InvalidAccessError(
                        f"m-section {index} (mid {mid}) is {media.kind}; that mid is {owner.kind}"
                    )
                continue
            claim = next(
                (
                    t
                    for t in free
                    if t.kind == media.kind and getattr(t, "lab_by_add_track", False)
                ),
                None,
            )
            if claim is not None:
                free.remove(claim)
                claim._set_mid(mid)
                claim._set_mline_index(index)
        return [t for t in transceivers if t.mid is None]

    def _lab_unoffered(self) -> list[RTCRtpTransceiver]:
        """Transceivers the remote offer has no m-line for. aiortc's setLocalDescription(answer)
        computes a current direction for every transceiver from its offered direction and fails
        with "ValueError: None is not in list" on these, which have none."""
        remote = self._lab_get("pendingRemoteDescription") or self._lab_get(
            "currentRemoteDescription"
        )
        mids = {m.rtp.muxId for m in remote.media} if remote is not None else set()
        return [
            t
            for t in self._lab_get("transceivers")
            if t.mid is None or t.mid not in mids or t._offerDirection is None
        ]

    @contextlib.contextmanager
    def _lab_hiding(self, hidden: list[RTCRtpTransceiver]) -> Iterator[None]:
        """Keep `hidden` out of aiortc's transceiver list for a while, then back in its place."""
        if not hidden:
            yield
            return
        original = list(self._lab_get("transceivers"))
        self._lab_set("transceivers", [t for t in original if t not in hidden])
        try:
            yield
        finally:
            current = self._lab_get("transceivers")
            merged = [t for t in original if t in hidden or t in current]
            merged += [t for t in current if t not in original]
            self._lab_set("transceivers", merged)

    def _lab_route_remote(self, parsed: sdp.SessionDescription, kind: str) -> None:
        """Pick, per ICE transport, the generation the remote description's ICE belongs to."""
        fresh: Optional[tuple[str, str]] = None
        seen: set[RestartableIceTransport] = set()
        for media in parsed.media:
            transport = self._lab_transport_for_mid(media.rtp.muxId)
            remote = media.ice
            if transport is None or transport in seen or remote is None:
                continue
            seen.add(transport)
            active = transport.activeGeneration
            pending = transport.pendingGeneration
            if kind in ("answer", "pranswer"):
                generation = transport.iceGatherer.described
                if generation is not active and not generation.started:
                    generation.remote = remote
                transport.remote_target = generation
            elif active.remote is None or active.matches_remote(remote):
                transport.remote_target = active
            elif pending is not None and pending.matches_remote(remote):
                transport.remote_target = pending
            else:
                # the remote side restarted ICE: answer from a new generation of our own
                if pending is None or pending.started:
                    if fresh is None:
                        fresh = new_ice_credentials()
                    pending = transport.new_generation(*fresh)
                pending.remote = remote
                transport.iceGatherer.described = pending
                transport.remote_target = pending

    def _lab_on_stable(self) -> None:
        """An answer was applied: start new generations both sides now describe."""
        for transport in self._lab_transports():
            generation = transport.iceGatherer.described
            if generation is not transport.activeGeneration and generation.remote is not None:
                transport.begin_generation(generation, generation.remote)
        if self._lab_credentials_to_replace:
            local = self._lab_get("currentLocalDescription")
            now = {(m.ice.usernameFragment, m.ice.password) for m in local.media}
            if not now & self._lab_credentials_to_replace:
                self._lab_credentials_to_replace = set()
        self._lab_snapshot = None
        self._lab_update_negotiation_needed(refire=True)

    async def addIceCandidate(self, candidate: Optional[RTCIceCandidate]) -> None:
        """Add a remote candidate. One carrying a `usernameFragment` attribute that the
        remote description does not use (an old generation) is ignored quietly."""
        await self._lab_chain(lambda: self._lab_add_candidate(candidate))

    async def _lab_add_candidate(self, candidate: Optional[RTCIceCandidate]) -> None:
        ufrag = getattr(candidate, "usernameFragment", None)
        remote = self._lab_get("pendingRemoteDescription") or self._lab_get(
            "currentRemoteDescription"
        )
        if candidate is not None and ufrag is not None and remote is not None:
            if ufrag not in {m.ice.usernameFragment for m in remote.media}:
                logger.debug("ignoring a candidate of an old ICE generation (ufrag %s)", ufrag)
                return
        await super().addIceCandidate(candidate)

    # rollback

    def _lab_take_snapshot(self) -> _Snapshot:
        sctp = self.sctp
        snapshot = _Snapshot(
            transceivers=list(self._lab_get("transceivers")),
            transceiver_states=[
                _TransceiverState(
                    transceiver=t,
                    mid=t.mid,
                    mline_index=t._get_mline_index(),
                    offer_direction=t._offerDirection,
                    codecs=list(t._codecs),
                    header_extensions=list(t._headerExtensions),
                    receiver_track=t.receiver._track,
                )
                for t in self._lab_get("transceivers")
            ],
            remote_ice=dict(self._lab_get("remoteIce")),
            remote_dtls=dict(self._lab_get("remoteDtls")),
            seen_mids=set(self._lab_get("seenMids")),
            sctp=sctp,
            sctp_mid=None if sctp is None else sctp.mid,
            sctp_mline_index=self._lab_get("sctp_mline_index"),
            sctp_remote_port=self._lab_get("sctpRemotePort"),
            sctp_remote_caps=self._lab_get("sctpRemoteCaps"),
            sctp_legacy=self._sctpLegacySdp,
            ice_transports=set(self._lab_get("iceTransports")),
            dtls_transports=set(self._lab_get("dtlsTransports")),
        )
        for transport in self._lab_transports():
            snapshot.ice[transport] = _IceState(
                described=transport.iceGatherer.described,
                remote_target=transport.remote_target,
                role_set=transport._role_set,
                controlling=transport._connection.ice_controlling,
            )
        for dtls in self._lab_get("dtlsTransports"):
            snapshot.dtls_roles[dtls] = dtls._role
        return snapshot

    async def _lab_rollback(self) -> None:
        state = self.signalingState
        if state not in ("have-local-offer", "have-remote-offer"):
            raise InvalidStateError(f'Cannot rollback in signaling state "{state}"')
        snapshot = self._lab_snapshot
        if snapshot is not None:
            await self._lab_restore(snapshot)
        self._lab_snapshot = None
        self._lab_set("pendingLocalDescription", None)
        self._lab_set("pendingRemoteDescription", None)
        self._lab_get("setSignalingState")("stable")
        self._lab_get("updateIceGatheringState")()
        self._RTCPeerConnection__updateIceConnectionState()
        self._RTCPeerConnection__updateConnectionState()
        self._lab_update_negotiation_needed(refire=True)

    async def _lab_restore(self, snapshot: _Snapshot) -> None:
        # W3C rollback removes only the transceivers the rolled-back remote offer made, and
        # keeps those the app has attached a track to (addTrack) since; transceivers the app
        # added itself meanwhile stay, unassociated.
        kept = [
            t
            for t in self._lab_get("transceivers")
            if t not in snapshot.transceivers
            and not (getattr(t, "lab_by_remote", False) and t.sender.track is None)
        ]
        self._lab_set("transceivers", list(snapshot.transceivers) + kept)
        for transceiver in kept:
            transceiver._set_mid(None)  # type: ignore[arg-type]
            transceiver._set_mline_index(None)  # type: ignore[arg-type]
            transceiver._offerDirection = None
            if isinstance(transceiver, LabTransceiver):
                transceiver.lab_by_remote = False
        for saved in snapshot.transceiver_states:
            transceiver = saved.transceiver
            transceiver._set_mid(saved.mid)  # type: ignore[arg-type]
            transceiver._set_mline_index(saved.mline_index)  # type: ignore[arg-type]
            transceiver._offerDirection = saved.offer_direction
            transceiver._codecs = saved.codecs
            transceiver._headerExtensions = saved.header_extensions
            transceiver.receiver._track = saved.receiver_track
        self._lab_set("remoteIce", snapshot.remote_ice)
        self._lab_set("remoteDtls", snapshot.remote_dtls)
        self._lab_set("seenMids", snapshot.seen_mids)
        self._lab_set("sctp", snapshot.sctp)
        if snapshot.sctp is not None:
            snapshot.sctp.mid = snapshot.sctp_mid
        self._lab_set("sctp_mline_index", snapshot.sctp_mline_index)
        self._lab_set("sctpRemotePort", snapshot.sctp_remote_port)
        self._lab_set("sctpRemoteCaps", snapshot.sctp_remote_caps)
        self._sctpLegacySdp = snapshot.sctp_legacy
        for transport, saved_ice in snapshot.ice.items():
            transport.iceGatherer.described = saved_ice.described
            transport.remote_target = saved_ice.remote_target
            transport._role_set = saved_ice.role_set
            transport._connection.ice_controlling = saved_ice.controlling
            transport.discard_pending(keep=saved_ice.described)
        for dtls, role in snapshot.dtls_roles.items():
            dtls._set_role(role)
        # transports the rolled-back description created
        added_dtls = set(self._lab_get("dtlsTransports")) - snapshot.dtls_transports
        added_ice = set(self._lab_get("iceTransports")) - snapshot.ice_transports
        self._lab_set("dtlsTransports", set(snapshot.dtls_transports))
        self._lab_set("iceTransports", set(snapshot.ice_transports))
        for transceiver in kept:
            if transceiver.receiver.transport in added_dtls:
                self._lab_rehome(transceiver)
        for dtls in added_dtls:
            await dtls.stop()
        for ice in added_ice:
            await ice.stop()

    def _lab_rehome(self, transceiver: RTCRtpTransceiver) -> None:
        """Give a transceiver kept by a rollback a transport that survives it, chosen as aiortc
        chooses one for a new transceiver under the bundle policy."""
        others = [t for t in self._lab_get("transceivers") if t is not transceiver]
        policy = self._lab_configuration.bundlePolicy
        shared: Optional[RTCDtlsTransport] = None
        if policy == RTCBundlePolicy.MAX_BUNDLE:
            if others:
                shared = others[0].receiver.transport
            elif self.sctp is not None:
                shared = self.sctp.transport
        elif policy == RTCBundlePolicy.BALANCED:
            same_kind = next((t for t in others if t.kind == transceiver.kind), None)
            if same_kind is not None:
                shared = same_kind.receiver.transport
        dtls = shared or self._RTCPeerConnection__createDtlsTransport()
        transceiver.receiver.setTransport(dtls)
        transceiver.sender.setTransport(dtls)
        transceiver._bundled = shared is not None

    # stats

    async def getStats(self) -> RTCStatsReport:
        """aiortc's stats, its 'transport' entries with the W3C ICE fields added, and
        'candidate-pair', 'local-candidate' and 'remote-candidate' entries (generation,
        selected pair, bytes per pair)."""
        report = await super().getStats()
        for dtls in self._lab_get("dtlsTransports"):
            transport = dtls.transport
            if isinstance(transport, RestartableIceTransport):
                (base,) = dtls._get_stats().values()
                report.update(ice_stats(transport, base))
        return report

    def getIceTransports(self) -> list[RestartableIceTransport]:
        return self._lab_transports()
