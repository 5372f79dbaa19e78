"""One peer's leg through a Janus SFU (AgentConfig.sfu): the publisher offers its media into a
VideoRoom, the subscriber answers Janus's offer of the publisher's feed.

Janus's API is driven by the client, one request at a time per leg, so there is no glare and no
perfect negotiation here: the publisher is always the offerer of its leg (its ICE restart is an
offer made with iceRestart, sent in `configure`), the subscriber always the answerer (its ICE
restart is `configure` with `"restart": true`; Janus sends a new offer, answered with `start`).
Each leg restarts by its own agent's policy. The states, selected pairs and media arrivals are
reported as in a peer-to-peer call (lab.runtime.agent.session).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

from aiortc import RTCSessionDescription

from lab.contract import AgentConfig, SfuLeg
from lab.runtime.agent import rtc
from lab.runtime.agent.control import ControlChannel
from lab.runtime.agent.media import SilenceTrack, prefer_codec
from lab.runtime.agent.session import PeerSession, _ufrag, arrival_pair, candidate_facts
from lab.sfu.client import Handle, JanusApiError, JanusClient, JanusGone, Session

PLUGIN = "janus.plugin.videoroom"
# Janus's VideoRoom errors while the feed is not published yet: no such feed, not published
FEED_NOT_READY = {428, 435}
RESTART_TRIES = 3
RESTART_REQUEST_S = 4.0


class _Reconnector:
    """What PeerSession calls on a network change (`network_changed`): here, the Janus socket."""

    def __init__(self, session: JanusLegSession) -> None:
        self._session = session

    def network_changed(self) -> bool:
        return self._session.janus is not None and self._session.janus.network_changed()


class JanusLegSession(PeerSession):
    def __init__(self, config: AgentConfig, control: ControlChannel) -> None:
        super().__init__(config, control)
        assert config.sfu is not None
        self.leg: SfuLeg = config.sfu
        self.janus: JanusClient | None = None
        self.janus_session: Session | None = None
        self.handle: Handle | None = None
        self._lock = asyncio.Lock()  # one request/answer exchange at a time on this leg
        self._lost: str | None = None

    # ----- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        c, leg = self.config, self.leg
        self.emit("agent_ready", host=c.host, pid=os.getpid(), role=c.role, polite=c.polite, restarts=c.restarts,
                  policy=c.policy.name, restartable=self.restartable, sfu_leg=leg.leg)
        self.janus = await JanusClient.connect(leg.url, keepalive_s=leg.keepalive_s, on_state=self._on_janus_state)
        self.janus_session = await self.janus.create_session()
        self.handle = await self.janus_session.attach(PLUGIN)
        self.emit("sfu_session", state="attached", session=self.janus_session.id, handle=self.handle.id,
                  leg=leg.leg)
        self.signaling = _Reconnector(self)
        from lab.runtime.agent.netwatch import NetworkWatcher

        # as PeerSession: the policy hears of network changes only if it watches them; the
        # socket to Janus (the app's signaling here) moves at once under every policy
        react = self._on_network_change if c.watch_network else self._on_host_network_event
        self._watcher = NetworkWatcher(asyncio.get_running_loop(), react)
        self._watcher.start()
        await self._new_connection()
        self._spawn(self._watch_pair())
        self._spawn(self._watch_handle())

    async def stop(self) -> None:
        await super().stop()
        if self.janus is not None:
            await self.janus.close()

    def _on_janus_state(self, state: str, reason: str | None) -> None:
        if state == "gone":
            self._lost = reason
        self.emit("sfu_session", state=state, reason=reason, leg=self.leg.leg)

    async def _watch_handle(self) -> None:
        assert self.handle is not None
        while True:
            event = await self.handle.events.get()
            if event.kind == "gone":
                return
            if event.kind in ("webrtcup", "hangup", "media", "slowlink", "detached"):
                fields = {k: v for k, v in event.body.items()
                          if k in ("reason", "type", "receiving", "uplink", "lost")}
                self.emit("sfu_event", event=event.kind, leg=self.leg.leg, **fields)
            elif event.kind == "trickle":
                candidate = event.body.get("candidate", {})
                if isinstance(candidate, dict) and candidate.get("candidate") and self.pc is not None:
                    from aiortc.sdp import candidate_from_sdp

                    ice = candidate_from_sdp(str(candidate["candidate"]).removeprefix("candidate:"))
                    ice.sdpMid = candidate.get("sdpMid")
                    ice.sdpMLineIndex = candidate.get("sdpMLineIndex")
                    await self.pc.addIceCandidate(ice)

    # ----- the leg's negotiation ----------------------------------------------------------

    async def _start_negotiation(self, pc: Any) -> None:
        pc.on("mediareceived", lambda m: self.emit("media_rx", t=m.at, seq=m.sequence_number, ssrc=m.ssrc,
                                                    generation=m.generation, **arrival_pair(m)))
        pc.on("icecandidate", lambda candidate: self._spawn(self._guard(self._trickle(candidate))))
        self._spawn(self._set_up(self._publish(pc) if self.leg.leg == "publish" else self._subscribe(pc)))

    async def _set_up(self, coro: Any) -> None:
        """The leg's first exchange: without it there is no call (a fatal error)."""
        try:
            await coro
        except Exception as exc:
            self.emit("error", message=f"SFU {self.leg.leg} leg: {type(exc).__name__}: {exc}", fatal=True)

    async def _trickle(self, candidate: Any) -> None:
        if self.handle is None:
            return
        if candidate is None:
            await self.handle.trickle(None)
            return
        from aiortc.sdp import candidate_to_sdp

        init = {"candidate": f"candidate:{candidate_to_sdp(candidate)}", "sdpMid": candidate.sdpMid,
                "sdpMLineIndex": candidate.sdpMLineIndex,
                "usernameFragment": getattr(candidate, "usernameFragment", None)}
        self.emit("candidate_sent", gen=self.generation, **candidate_facts(self.pc, init))
        await self.handle.trickle({k: v for k, v in init.items() if k != "usernameFragment"})

    async def _publish(self, pc: Any) -> None:
        assert self.handle is not None
        await self.handle.message({"request": "join", "ptype": "publisher", "room": self.leg.room,
                                   "id": self.leg.feed, "display": self.config.role})
        transceiver = pc.addTransceiver(SilenceTrack(), direction="sendonly")
        prefer_codec(transceiver, self.config.codec)
        self._tap_transports(pc)
        await self._offer(pc, {"request": "publish", "audio": True, "video": False, "data": False},
                          ice_restart=False)
        self.emit("sfu_session", state="published", leg="publish", feed=self.leg.feed)

    async def _offer(self, pc: Any, body: dict[str, Any], ice_restart: bool,
                     timeout: float = 10.0) -> None:
        """The publisher's exchange: an offer in a request, Janus's answer in its event."""
        assert self.handle is not None
        offer = await pc.createOffer(iceRestart=True) if ice_restart else await pc.createOffer()
        await pc.setLocalDescription(offer)
        local = pc.localDescription
        negotiation_id = uuid.uuid4().hex[:12]
        self.emit("offer_sent", ice_ufrag=_ufrag(local.sdp), gen=self.generation, negotiation_id=negotiation_id)
        reply = await self.handle.message(body, jsep={"type": local.type, "sdp": local.sdp}, timeout=timeout)
        if reply.jsep is None or reply.jsep.get("type") != "answer":
            raise JanusApiError(None, f"Janus answered {body['request']} without an SDP answer")
        await self._apply_remote(pc, reply.jsep, negotiation_id)

    async def _subscribe(self, pc: Any) -> None:
        assert self.handle is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.leg.join_timeout_s
        while True:
            try:
                reply = await self.handle.message({"request": "join", "ptype": "subscriber", "room": self.leg.room,
                                                   "streams": [{"feed": self.leg.feed}]})
                break
            except JanusApiError as error:
                if error.code not in FEED_NOT_READY or loop.time() > deadline:
                    raise
                await asyncio.sleep(0.1)  # the publisher has not published yet
        await self._answer(pc, reply.jsep)
        self.emit("sfu_session", state="subscribed", leg="subscribe", feed=self.leg.feed)

    async def _answer(self, pc: Any, jsep: dict[str, Any] | None, timeout: float = 10.0) -> None:
        """The subscriber's exchange: Janus's offer applied, the answer sent in `start`."""
        assert self.handle is not None
        if jsep is None or jsep.get("type") != "offer":
            raise JanusApiError(None, "Janus sent no SDP offer to the subscriber")
        negotiation_id = uuid.uuid4().hex[:12]
        await self._apply_remote(pc, jsep, negotiation_id)
        answer = await pc.createAnswer()
        for transceiver in pc.getTransceivers():
            prefer_codec(transceiver, self.config.codec)
        await pc.setLocalDescription(answer)
        local = pc.localDescription
        self.emit("answer_sent", ice_ufrag=_ufrag(local.sdp), gen=self.generation, negotiation_id=negotiation_id)
        await self.handle.message({"request": "start"}, jsep={"type": local.type, "sdp": local.sdp}, timeout=timeout)
        self._tap_transports(pc)

    async def _apply_remote(self, pc: Any, jsep: dict[str, Any], negotiation_id: str) -> None:
        kind, sdp = str(jsep["type"]), str(jsep["sdp"])
        if self.channel is not None:  # PeerSession's wrapper reports it with this id
            self.channel.received_ids[f"{kind}:{_ufrag(sdp)}"] = negotiation_id
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))

    # ----- restarts, per leg ----------------------------------------------------------------

    async def _perform_restart(self, reason: str) -> None:
        action = self.config.policy.action
        self.emit("restart", action=action, reason=reason, gen=self.generation, sfu_leg=self.leg.leg)
        if self._lost is not None:
            self.emit("sfu_restart_refused", leg=self.leg.leg, reason=self._lost)
            return
        pc = self.pc
        rtc.refresh_ice_options(pc)
        async with self._lock:
            for attempt in range(1, RESTART_TRIES + 1):
                try:
                    if self.leg.leg == "publish":
                        await self._offer(pc, {"request": "configure"}, ice_restart=True, timeout=RESTART_REQUEST_S)
                    else:
                        reply = await self.handle.message(  # type: ignore[union-attr]
                            {"request": "configure", "restart": True}, timeout=RESTART_REQUEST_S)
                        await self._answer(pc, reply.jsep, timeout=RESTART_REQUEST_S)
                    return
                except TimeoutError:
                    # the socket to Janus is being replaced (a network change): ask again on the new one
                    self.emit("sfu_event", event="request_timeout", leg=self.leg.leg, attempt=attempt)
                    if pc.signalingState == "have-local-offer":
                        await pc.setLocalDescription(RTCSessionDescription(sdp="", type="rollback"))
                except JanusGone as error:
                    self.emit("sfu_restart_refused", leg=self.leg.leg, reason=str(error))
                    return
