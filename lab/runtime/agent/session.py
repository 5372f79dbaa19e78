"""One peer's side of a trial: the call, its negotiation, its restart policy, its reports.

Signaling messages are wrapped with a connection generation ("gen") so that a full reconnect
(a new RTCPeerConnection on both sides) never mixes the old connection's messages with the new.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from typing import Any, ClassVar

from pyee.asyncio import AsyncIOEventEmitter

from lab.contract import AgentConfig, Command, EventKind, Ping, Restart, Signal, SignalingOutage, Stop
from lab.runtime.agent import rtc
from lab.runtime.agent.control import ControlChannel
from lab.runtime.agent.media import RtpTap, SilenceTrack, drain, prefer_codec
from lab.runtime.agent.policy import RestartPolicy

log = logging.getLogger("lab.agent")

PAIR_POLL_S = 0.02
# signaling messages held for a connection generation that is not built yet (a full reconnect
# in progress); beyond this the oldest are dropped
EARLY_MESSAGES_MAX = 256
# the event of a description by its type
SENT: dict[str, EventKind] = {"offer": "offer_sent", "answer": "answer_sent"}
RECEIVED: dict[str, EventKind] = {"offer": "offer_received", "answer": "answer_received"}


class ControlRelayChannel(AsyncIOEventEmitter):
    """Signaling relayed by the orchestrator over the control pipes (the 'control' path)."""

    def __init__(self, control: ControlChannel) -> None:
        super().__init__()
        self._control = control

    def send(self, message: dict[str, Any]) -> None:
        self._control.emit("signal", msg=message)

    def deliver(self, message: dict[str, Any]) -> None:
        self.emit("message", message)


class GenerationChannel(AsyncIOEventEmitter):
    """The channel one RTCPeerConnection's negotiation sees: its own generation's messages only."""

    def __init__(self, inner: Any, generation: int, on_sent: Any) -> None:
        super().__init__()
        self.inner = inner
        self.generation = generation
        self._on_sent = on_sent
        self.session = getattr(inner, "session", None)
        # negotiation ids (lab.experiment.metrics pairs each answer with its offer by them):
        # by ICE ufrag of the descriptions received, and the offer last applied here
        self.received_ids: dict[str, str] = {}
        self.answering: str | None = None

    def send(self, message: dict[str, Any]) -> Any:
        description = message.get("description")
        if isinstance(description, dict) and description.get("type") in ("offer", "answer"):
            if description["type"] == "offer":
                negotiation_id = str(message.get("nid") or uuid.uuid4().hex[:12])
            else:
                negotiation_id = self.answering or ""
            message = {**message, "negotiation_id": negotiation_id}
        self._on_sent(message)
        return self.inner.send({**message, "gen": self.generation})

    def deliver(self, message: dict[str, Any]) -> None:
        if message.get("gen") == self.generation:
            description = message.get("description")
            if isinstance(description, dict) and message.get("negotiation_id"):
                ufrag = _ufrag(str(description.get("sdp", "")))
                self.received_ids[f"{description.get('type')}:{ufrag}"] = str(message["negotiation_id"])
            self.emit("message", {k: v for k, v in message.items() if k != "gen"})

    def applied(self, kind: str, ufrag: str | None) -> str | None:
        """The negotiation id of a remote description just applied."""
        negotiation_id = self.received_ids.get(f"{kind}:{ufrag}")
        if kind == "offer":
            self.answering = negotiation_id
        return negotiation_id


class PeerSession:
    """The call on lab.rtc's restartable RTCPeerConnection with perfect negotiation (the agent's
    session); lab.runtime.agent.plain.PlainAiortcSession is the plain-aiortc baseline."""

    restartable: ClassVar[bool] = True

    def __init__(self, config: AgentConfig, control: ControlChannel) -> None:
        self.config = config
        self.control = control
        self.emit = control.emit
        # lab.rtc reports arrivals itself ("mediareceived", closer to the wire)
        self.tap = RtpTap(self.emit, rx=not self.restartable)
        self.generation = 0
        self.pc: Any = None
        self.negotiator: Any = None
        self.channel: GenerationChannel | None = None
        self.signaling: Any = None
        self.policy = RestartPolicy(config.policy, config.restarts, self._perform_restart)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_pair: dict[str, Any] | None = None
        self._stopping = False
        self._watcher: Any = None
        self._early: list[dict[str, Any]] = []  # messages of a generation newer than self.channel's

    # ----- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        c = self.config
        profile: dict[str, Any] = (
            {"rtc_profile": c.rtc_profile, "rtc_profile_skipped": rtc.profile_skipped()} if c.rtc_profile else {})
        self.emit("agent_ready", host=c.host, pid=os.getpid(), role=c.role, polite=c.polite,
                  restarts=c.restarts, policy=c.policy.name, restartable=self.restartable, **profile)
        if c.signaling.path == "control":
            self.signaling = ControlRelayChannel(self.control)
        else:
            from lab.rtc.signaling import SignalingClient

            assert c.signaling.url, "lab signaling needs a url"
            self.signaling = SignalingClient.create(c.signaling.url, c.signaling.room, c.role)
            self.signaling.on("state", lambda s: self.emit("signaling_channel", state=s.get("state"),
                                                            reason=s.get("reason")))
            await self.signaling.start()
        self.signaling.on("message", self._on_signal)
        if c.watch_network or rtc.profile_watches_interfaces(c) or hasattr(self.signaling, "network_changed"):
            from lab.runtime.agent.netwatch import NetworkWatcher

            # a policy that does not watch the network still has an app that does, for its
            # signaling socket (the OS tells every app); its ICE is left to the policy's timers
            react = self._on_network_change if c.watch_network else self._on_host_network_event
            self._watcher = NetworkWatcher(asyncio.get_running_loop(), react)
            self._watcher.start()
        await self._new_connection()
        self._spawn(self._watch_pair())

    async def stop(self) -> None:
        self._stopping = True
        if self._watcher is not None:
            self._watcher.stop()
        await self.policy.close()
        for task in list(self._tasks):
            task.cancel()
        await self._close_connection()
        if self.signaling is not None and hasattr(self.signaling, "close"):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.signaling.close(), 2.0)

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ----- the peer connection ----------------------------------------------------------

    async def _new_connection(self) -> None:
        pc = self._make_peer_connection()
        self.pc = pc
        generation = self.generation
        pc.on("signalingstatechange", lambda: self.emit("signaling_state", state=pc.signalingState, gen=generation))
        pc.on("icegatheringstatechange", lambda: self.emit("gathering_state", state=pc.iceGatheringState, gen=generation))
        pc.on("iceconnectionstatechange", lambda: self._on_ice_state(pc, generation))
        pc.on("connectionstatechange", lambda: self._on_connection_state(pc, generation))
        pc.on("track", self._on_track)
        pc.on("selectedcandidatepairchange", lambda change: self._on_pair_change(pc, change))
        self._wrap_remote_description(pc)
        self.channel = GenerationChannel(self.signaling, generation, self._on_sent)
        await self._start_negotiation(pc)

    def _make_peer_connection(self) -> Any:
        return rtc.make_peer_connection(self.config)

    async def _start_negotiation(self, pc: Any) -> None:
        """Perfect negotiation of lab.rtc; the offerer's first media starts it."""
        c = self.config
        pc.on("mediareceived", lambda m: self.emit("media_rx", t=m.at, seq=m.sequence_number, ssrc=m.ssrc,
                                                    generation=m.generation, **arrival_pair(m)))
        assert self.channel is not None
        # log lines named by role, seed 004's shape ([peer-polite] ...); the offerer is said once
        name = "peer-polite" if c.polite else "peer-impolite"
        log.info("[%s] is the %s (%s), generation %d", name, c.role, c.host, self.generation)
        self.negotiator = rtc.PerfectNegotiator(pc, self.channel, polite=c.polite, name=name)
        self.negotiator.on("event", self._on_negotiation_event)
        self.negotiator.start()
        self._deliver_early()
        if c.role == "offerer":
            self._add_media(pc)  # -> negotiationneeded -> the first offer

    def _add_media(self, pc: Any) -> None:
        if self.config.send_media:
            transceiver = pc.addTransceiver(SilenceTrack(), direction="sendrecv")
        else:
            transceiver = pc.addTransceiver("audio", direction="recvonly")
        prefer_codec(transceiver, self.config.codec)
        self._tap_transports(pc)

    def _on_track(self, track: Any) -> None:
        pc = self.pc
        if self.config.role == "answerer" and self.config.send_media:
            pc.addTrack(SilenceTrack())
            for transceiver in pc.getTransceivers():
                prefer_codec(transceiver, self.config.codec)
        self._tap_transports(pc)
        self._spawn(drain(track))

    def _tap_transports(self, pc: Any) -> None:
        for transceiver in pc.getTransceivers():
            if transceiver.sender.transport is not None:
                self.tap.attach(transceiver.sender.transport)

    async def _close_connection(self) -> None:
        if self.negotiator is not None:
            with contextlib.suppress(Exception):
                await self.negotiator.close()
            self.negotiator = None
        if self.pc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pc.close(), 3.0)

    def _wrap_remote_description(self, pc: Any) -> None:
        apply = pc.setRemoteDescription

        async def set_remote(description: Any) -> None:
            await apply(description)
            if description.type in ("offer", "answer"):
                ufrag = _ufrag(description.sdp)
                channel = self.channel
                negotiation_id = channel.applied(description.type, ufrag) if channel is not None else None
                self.emit(RECEIVED[description.type], ice_ufrag=ufrag, gen=self.generation,
                          negotiation_id=negotiation_id)

        pc.setRemoteDescription = set_remote

    # ----- states and policy ------------------------------------------------------------

    def _on_ice_state(self, pc: Any, generation: int) -> None:
        state = pc.iceConnectionState
        heard = rtc.last_heard_at(pc) if state in ("disconnected", "failed") else None
        # the instant its timer counts from: the state is then defensible from the events
        self.emit("ice_state", state=state, gen=generation,
                  **({} if heard is None else {"last_heard_t": heard}))
        if pc is self.pc:
            self.policy.on_state(state)

    def _on_connection_state(self, pc: Any, generation: int) -> None:
        state = pc.connectionState
        self.emit("connection_state", state=state, gen=generation)
        if pc is self.pc and state in ("connected", "disconnected", "failed"):
            self.policy.on_state(state)

    def _on_interfaces_changed(self, info: dict[str, Any]) -> None:
        if self.restartable and self.pc is not None:
            self._spawn(self._guard(rtc.network_changed(self.pc)))

    def _on_network_change(self, info: dict[str, Any]) -> None:
        self.emit("network_change", **info)
        if self.restartable and self.pc is not None:
            self._spawn(self._guard(rtc.network_changed(self.pc)))
        if info.get("changed", True):  # another event of a burst that changed nothing more: no restart
            self.policy.on_network_change(settled=bool(info.get("settled")))
        self._signaling_network_changed()

    def _on_host_network_event(self, info: dict[str, Any]) -> None:
        """A policy that does not act on network changes: the signaling still moves; a stand-in
        whose engine notices a lost interface (its sockets error) prunes at once."""
        if rtc.profile_watches_interfaces(self.config):
            self._on_interfaces_changed(info)
        self._signaling_network_changed()

    def _signaling_network_changed(self) -> None:
        # an app moves its signaling socket to the new path as soon as its OS reports a network
        # change (when the route to the server changed), instead of waiting for keepalives
        network_changed = getattr(self.signaling, "network_changed", None)
        if network_changed is not None and network_changed():
            self.emit("signaling_reconnect", reason="network-change")

    def _on_pair_change(self, pc: Any, change: Any) -> None:
        """lab.rtc's event: the first pair, and every restart cut-over (exact instant)."""
        if pc is not self.pc:
            return
        p = change.pair
        info = {"local_type": p.local_type, "local_address": _addr(p.local_address),
                "remote_type": p.remote_type, "remote_address": _addr(p.remote_address),
                "generation": p.generation, "protocol": p.protocol}
        self._last_pair = info
        self.emit("selected_pair", t=change.at, gen=self.generation,
                  previous_generation=change.previous_generation, **info)
        self.policy.on_new_pair()

    async def _watch_pair(self) -> None:
        """Taps new DTLS transports; polls the selected pair where the pc has no event for it."""
        while True:
            await asyncio.sleep(PAIR_POLL_S)
            pc = self.pc
            if pc is None:
                continue
            self._tap_transports(pc)
            self._poll_pair(pc)

    def _poll_pair(self, pc: Any) -> None:
        """lab.rtc reports every selected pair ("selectedcandidatepairchange"): nothing to poll."""

    async def _perform_restart(self, reason: str) -> None:
        action = self.config.policy.action
        self.emit("restart", action=action, reason=reason, gen=self.generation)
        if action == "continual-gathering" and reason == "network-change":
            return  # _on_network_change gathers on the new interface in the current generation
        if action == "full-reconnect":
            await self._full_reconnect(announce=True)
        elif action in ("restart-ice", "continual-gathering"):  # the latter: its backstop
            rtc.refresh_ice_options(self.pc)
            self.pc.restartIce()
        else:  # the legacy path: an offer made with iceRestart=True, sent by the app itself
            pc = self.pc
            rtc.refresh_ice_options(pc)
            if pc.signalingState != "stable":
                pc.restartIce()
                return
            offer = await pc.createOffer(iceRestart=True)
            await pc.setLocalDescription(offer)
            if self.negotiator is not None:
                self.negotiator.send_local_description()
            else:
                self._send_description(pc)

    async def _full_reconnect(self, announce: bool, generation: int | None = None) -> None:
        self.generation = generation if generation is not None else self.generation + 1
        if announce:
            self.signaling.send({"reconnect": self.generation})
        old_negotiator, old_pc = self.negotiator, self.pc
        self.negotiator = None
        self._last_pair = None
        if old_negotiator is not None:
            with contextlib.suppress(Exception):
                await old_negotiator.close()
        await self._new_connection()
        self.emit("pc_replaced", gen=self.generation)
        if old_pc is not None:
            self._spawn(_close_quietly(old_pc))

    # ----- signaling --------------------------------------------------------------------

    def _on_signal(self, message: dict[str, Any]) -> None:
        if "reconnect" in message:
            generation = int(message["reconnect"])
            if generation > self.generation:
                self.emit("restart", action="full-reconnect", reason="remote", gen=generation, remote=True)
                self._spawn(self._full_reconnect(announce=False, generation=generation))
            return
        channel = self.channel
        message_gen = message.get("gen")
        if channel is None or (isinstance(message_gen, int) and message_gen > channel.generation):
            # its connection is not built yet (a full reconnect is under way): keep it for then
            self._early.append(message)
            del self._early[:-EARLY_MESSAGES_MAX]
            return
        channel.deliver(message)

    def _deliver_early(self) -> None:
        """Hand the new connection the messages that arrived before it existed; drop older ones."""
        channel = self.channel
        if channel is None:
            return
        early, self._early = self._early, []
        for message in early:
            generation = message.get("gen")
            if isinstance(generation, int) and generation > channel.generation:
                self._early.append(message)  # a generation newer still
            else:
                channel.deliver(message)  # the channel drops other generations' messages

    def _on_sent(self, message: dict[str, Any]) -> None:
        candidate = message.get("candidate")
        if isinstance(candidate, dict):
            self.emit("candidate_sent", gen=self.generation, **candidate_facts(self.pc, candidate))
            return
        description = message.get("description")
        if isinstance(description, dict) and description.get("type") in ("offer", "answer"):
            self.emit(SENT[description["type"]], ice_ufrag=_ufrag(str(description.get("sdp", ""))),
                      gen=self.generation, negotiation_id=message.get("negotiation_id"))

    def _on_negotiation_event(self, event: dict[str, Any]) -> None:
        facts = {k: v for k, v in event.items() if k not in ("t", "peer")}
        self.emit("negotiation", t=event.get("t"), **facts)

    def _send_description(self, pc: Any) -> None:
        assert self.channel is not None
        d = pc.localDescription
        self.channel.send({"description": {"type": d.type, "sdp": d.sdp}})

    async def _guard(self, coro: Any) -> None:
        try:
            await coro
        except Exception as exc:
            log.exception("agent error")
            self.emit("error", message=f"{type(exc).__name__}: {exc}")

    # ----- commands from the orchestrator -----------------------------------------------

    async def command(self, cmd: Command) -> bool:
        """Handle one command; False once the agent should exit."""
        if isinstance(cmd, Stop):
            return False
        if isinstance(cmd, Signal) and isinstance(self.signaling, ControlRelayChannel):
            self.signaling.deliver(cmd.msg)
        elif isinstance(cmd, SignalingOutage):
            begin = getattr(self.signaling, "begin_outage", None)
            if begin is not None:
                begin(cmd.duration_s)
                self.emit("signaling_outage", duration_s=cmd.duration_s)
        elif isinstance(cmd, Restart):
            await self._perform_restart(cmd.reason)
        elif isinstance(cmd, Ping):
            self.emit("pong", t_sent=cmd.t, at=time.monotonic())
        return True


async def _close_quietly(pc: Any) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(pc.close(), 3.0)


def arrival_pair(media: Any) -> dict[str, Any]:
    """The candidate pair a media_rx unit arrived on (lab.experiment.metrics places each unit
    by it: the receiver's selected pair can lag it); empty when lab.rtc cannot tell."""
    p = getattr(media, "pair", None)
    if p is None:
        return {}
    return {"local_type": p.local_type, "local_address": _addr(p.local_address),
            "remote_type": p.remote_type, "remote_address": _addr(p.remote_address)}


def _addr(address: Any) -> str:
    if isinstance(address, (tuple, list)) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return str(address)


def candidate_facts(pc: Any, init: dict[str, Any]) -> dict[str, Any]:
    """The agreed `candidate_sent` fields of one signaled RTCIceCandidateInit."""
    from lab.runtime.agent.interfaces import interface_of

    ufrag = init.get("usernameFragment")
    generation = None
    for transport in getattr(pc, "getIceTransports", lambda: [])():
        for known in transport.generations:
            if known.local.usernameFragment == ufrag:
                generation = known.number
    text = str(init.get("candidate") or "")
    if not text:
        return {"ice_ufrag": ufrag, "generation": generation, "type": None, "address": None,
                "port": None, "protocol": None, "interface": None, "related_address": None,
                "related_port": None, "end_of_candidates": True}
    parts = text.removeprefix("candidate:").split()
    fields = dict(zip(parts[6::2], parts[7::2], strict=False))  # typ, raddr, rport, ...
    address, kind = parts[4], fields.get("typ")
    # the interface it was gathered on: its own address (host) or its base (srflx/relay)
    base = address if kind == "host" else fields.get("raddr")
    rport = fields.get("rport")
    return {"ice_ufrag": ufrag, "generation": generation, "type": kind, "address": address,
            "port": int(parts[5]), "protocol": parts[2].lower(), "interface": interface_of(base),
            "related_address": fields.get("raddr"), "related_port": int(rport) if rport else None}


def _ufrag(sdp: str) -> str | None:
    for line in sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line.split(":", 1)[1].strip()
    return None
