"""The plain-aiortc baseline of the agent (ICELAB_AGENT_PLAIN_AIORTC=1): aiortc's own
RTCPeerConnection, negotiated by one offer and one answer. It connects once, cannot restart ICE
(only a full reconnect, a new peer connection, recovers) and never reports 'disconnected': a
baseline for telling lab.rtc's behaviour from aiortc's own."""

from __future__ import annotations

from typing import Any, ClassVar

from aiortc import RTCSessionDescription

from lab.runtime.agent import rtc
from lab.runtime.agent.session import PeerSession


class PlainAiortcSession(PeerSession):
    restartable: ClassVar[bool] = False

    def _make_peer_connection(self) -> Any:
        return rtc.make_plain_peer_connection(self.config)

    async def _start_negotiation(self, pc: Any) -> None:
        assert self.channel is not None
        self.channel.on("message", self._on_message)
        self._deliver_early()
        if self.config.role == "offerer":
            self._add_media(pc)
            await pc.setLocalDescription(await pc.createOffer())
            self._send_description(pc)

    def _on_message(self, message: dict[str, Any]) -> None:
        self._spawn(self._guard(self._apply(message)))

    async def _apply(self, message: dict[str, Any]) -> None:
        description = message.get("description")
        if not description:
            return
        pc = self.pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=description["sdp"], type=description["type"]))
        if description["type"] == "offer":
            await pc.setLocalDescription(await pc.createAnswer())
            self._send_description(pc)

    def _poll_pair(self, pc: Any) -> None:
        """aiortc has no event for its selected pair: look it up every PAIR_POLL_S."""
        try:
            pair = rtc.selected_pair(pc)
        except Exception:  # a transport mid-swap; look again next tick
            return
        if pair is not None and pair != self._last_pair:
            self._last_pair = pair
            self.emit("selected_pair", gen=self.generation, **pair)
            self.policy.on_new_pair()

    async def _perform_restart(self, reason: str) -> None:
        if self.config.policy.action == "full-reconnect":
            await super()._perform_restart(reason)
            return
        self.emit("restart", action=self.config.policy.action, reason=reason, gen=self.generation)
        self.emit("error", message="ICE restart needs lab.rtc's RTCPeerConnection")
