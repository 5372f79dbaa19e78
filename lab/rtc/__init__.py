"""Restartable WebRTC peers on aiortc.

`from lab.rtc import RTCPeerConnection` gives a drop-in subclass of aiortc's (pinned 1.16.0,
aioice 0.13.0) that adds, W3C-shaped:

- `pc.restartIce()`: records the local ICE credentials to replace and updates the
  negotiation-needed flag; the next offer carries a new ufrag/pwd; negotiationneeded refires on
  'stable' until an answer without the old credentials is applied.
  `await pc.createOffer(iceRestart=True)` (legacy) forces new credentials for that offer.
- `@pc.on("negotiationneeded")`: queued, deferred while an offer/answer operation runs or
  signalling is not 'stable', not refired while the flag is set, refired after a rollback or an
  answer that leaves negotiation needed.
- `await pc.setLocalDescription()` with no argument (offer or answer as needed); rollback with
  `RTCSessionDescription(sdp="", type="rollback")` through setLocalDescription or
  setRemoteDescription; an offer arriving in 'have-local-offer' rolls back implicitly.
  createOffer / createAnswer / setLocalDescription / setRemoteDescription / addIceCandidate run
  one at a time (the W3C operations chain).
- `pc.iceConnectionState`: new, checking, connected, disconnected, failed, closed (W3C names;
  aiortc's 'completed' after nomination is W3C 'connected', and 'completed' is never reported:
  see lab/rtc/README.md for every W3C feature and where lab.rtc deviates).
  `pc.connectionState`: new, connecting, connected, disconnected, failed, closed.
  Detection: `RTCPeerConnection(configuration, detection=DetectionConfig(consent_interval=2.0,
  disconnected_after=5.0, failed_after=15.0))` (defaults shown, Chrome-like). No consent
  answer (RFC 7675: the remote answering our checks on the active generation's selected pair)
  for `disconnected_after` s -> 'disconnected', back to 'connected' when answers return; for
  `failed_after` s -> 'failed'. In 'disconnected' and 'failed' media keeps going to the
  selected pair and consent checks keep probing it (retransmitted every
  `consent_retransmit_interval`, 48 ms); the first answer after the path returns brings the
  transport back to 'connected' with no restart (as Chrome does). Media that still arrives does not keep the transport alive: after
  a NAT rebinding the remote's media may still get in while nothing of ours reaches it, so a
  one-way cut is noticed on both sides. `DetectionConfig(consent_only=False)` restores the
  lenient rule (any datagram counts). Neither state closes DTLS, SCTP or the peer connection,
  and senders never stop: the ICE transport's send never raises (a dead path drops, like UDP),
  so RTCRtpSender and SCTP keep running through an outage.
- ICE generations, make-before-break: a restart creates a new aioice agent (new ufrag/pwd, new
  sockets, fresh srflx and a new TURN allocation from the *current* configuration). It gathers
  and checks while the old generation still carries media; when it nominates a pair it takes over
  sending; the old one keeps receiving for `IceOptions.old_generation_linger` s (3 s). If the new
  one fails (or exceeds `new_generation_timeout`, 20 s), the old one stays. DTLS session, SRTP
  keys, SSRCs and data channels survive: no new DTLS handshake. A restart from 'disconnected' or
  'failed' goes to 'checking', then 'connected' on the same connection.
  Remote-initiated restarts (a changed remote ufrag/pwd in an offer) are answered with new
  credentials. `addIceCandidate(c)` adds `c` to the generation its `usernameFragment` names
  (current or pending); one of a generation the remote description no longer uses is ignored.
- Trickle ICE (RFC 8838, `IceOptions.trickle`, default on): setLocalDescription returns once
  host candidates exist (the description names them and says `a=ice-options:trickle`); every
  later candidate fires "icecandidate" (an RTCIceCandidate with sdpMid, sdpMLineIndex and
  usernameFragment), then end-of-candidates (None); localDescription is kept up to date;
  `canTrickleIceCandidates`. The same for every restart: the offer leaves at once, srflx/relay
  follow. Answering an offer without `a=ice-options:trickle` gathers fully first.
  `IceOptions.candidate_pool_size=1` pre-gathers the next restart's generation.
- Connectivity checks are paced (`IceOptions.check_interval` 48 ms, bounded by Ta x pairs in
  progress, `check_pacing` 20 ms; `check_timeout` 10 s), not aioice's 0.5 s doubling RTO; an
  incoming check answers with our check at once; the controlling side nominates aggressively.
  STUN server queries are paced as well (`server_query_interval`, 0.1 s).
- Continual gathering (`IceOptions.gather_continually`): `transport.update_addresses(addresses)`
  prunes the candidates and pairs of vanished addresses at once and gathers, trickles and checks
  new ones in the current generation; the first new pair that answers becomes the selected pair
  (a "selectedcandidatepairchange" with the same generation), no restart.
- Backup pairs kept warm (`IceOptions.backup_ping_interval`; 25 s, libwebrtc's, by default under
  continual gathering): the pairs not selected keep being checked, so that when the selected
  pair's address vanishes the controlling side sends on the best valid backup at once and
  nominates it with one check; the controlled side follows. After the first checks the
  controlling side nominates through a check the remote triggered only when its selected pair
  stopped answering (or the path is new or better ranked), so late checks never move a call.
- Re-offers keep the payload types and header-extension ids already negotiated (aiortc itself
  re-offers its defaults, which Chromium rejects after it made the first offer).
- Closing a generation whose TURN server is dead gives up the deallocation after 1 s (aioice
  alone would retry ~60 s), so `close()` and cut-overs away from a dead relay stay quick.
- `pc.setConfiguration(RTCConfiguration(iceServers=...))`: new ICE servers for the next
  generation (fail over to another relay before `restartIce()`). `pc.setIceOptions(IceOptions(
  host_addresses=("127.0.0.2",)))`: gather the next generation on other local addresses.
  `RTCPeerConnection(..., ice=IceOptions(host_addresses=("127.0.0.1",)))` is needed for loopback
  (aioice skips 127.0.0.1 when it enumerates interfaces).
- `await pc.getStats()`: W3C 'transport' entries gain iceState, selectedCandidatePairId,
  iceLocalUsernameFragment (and generation, restarts, droppedSends), 'candidate-pair' (generation, selected, nominated, bytes/packets sent
  and received per pair), 'local-candidate' / 'remote-candidate' (candidateType, generation).

Events for measuring (pyee, on the peer connection):
- "mediareceived" (MediaReceived: at = loop.time() i.e. time.monotonic(), generation, ssrc,
  sequence_number, size, remote_address, pair = the CandidatePairInfo it arrived on: its
  receiving socket and source address, which can differ from the selected pair when the remote
  side switched first): every SRTP packet (not RTCP) that arrives, on any generation, before
  decryption. Only emitted while a listener is registered.
- "selectedcandidatepairchange" (SelectedPairChange: at, pair=CandidatePairInfo(generation,
  local_type, local_address, remote_type, remote_address, protocol), previous_generation): the
  first pair, and every restart cut-over.
- "generationfailed" (IceGeneration): a new generation gave up; the old one stays.
- the usual "iceconnectionstatechange", "connectionstatechange", "signalingstatechange",
  "icegatheringstatechange".
`pc.getIceTransports()` lists the RestartableIceTransport objects (`activeGeneration`,
`pendingGeneration`, `generations`, `getSelectedCandidatePair()`).

Importing this package checks that every private attribute of aiortc/aioice it relies on exists
(lab.rtc.compat) and fails with IncompatibleAiortc naming the missing one.
"""

from .compat import IncompatibleAiortc, check

check()

from .generation import IceGeneration  # noqa: E402
from .ice_transport import (  # noqa: E402
    CandidatePairInfo,
    MediaReceived,
    RestartableIceTransport,
    SelectedPairChange,
)
from .negotiation import PerfectNegotiator, RoleConflictError, wait_all_stable  # noqa: E402
from .options import DetectionConfig, IceOptions  # noqa: E402
from .peerconnection import RTCPeerConnection  # noqa: E402

__all__ = [
    "CandidatePairInfo",
    "DetectionConfig",
    "IceGeneration",
    "IceOptions",
    "IncompatibleAiortc",
    "MediaReceived",
    "PerfectNegotiator",
    "RTCPeerConnection",
    "RestartableIceTransport",
    "RoleConflictError",
    "SelectedPairChange",
    "wait_all_stable",
]
