"""aiortc's RTCRtpTransceiver with what W3C/JSEP need from it and aiortc does not track.

- Setting `direction` updates the peer connection's negotiation-needed flag (W3C
  RTCRtpTransceiver.direction setter, step "update the negotiation-needed flag").
- It remembers how it was made: by `addTrack()` (the only kind JSEP §5.10 lets a remote offer's
  new m= section claim) or by `setRemoteDescription()` (removed again by a rollback of that
  description unless the app attached a track to it with `addTrack()`).

aiortc builds its transceivers in a private method; lab.rtc's RTCPeerConnection swaps the class
of each new one to this subclass (no state is copied, no new object is made).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from aiortc import sdp
from aiortc.rtcrtptransceiver import RTCRtpTransceiver

_BASE_DIRECTION: property = RTCRtpTransceiver.direction  # type: ignore[assignment]


class LabTransceiver(RTCRtpTransceiver):
    _lab_on_direction: Optional[Callable[[], None]]
    lab_by_add_track: bool
    lab_by_remote: bool

    @property
    def direction(self) -> str:
        assert _BASE_DIRECTION.fget is not None
        value: str = _BASE_DIRECTION.fget(self)
        return value

    @direction.setter
    def direction(self, direction: str) -> None:
        if direction not in sdp.DIRECTIONS:
            raise TypeError(f'"{direction}" is not a valid RTCRtpTransceiverDirection')
        changed = direction != self.direction
        assert _BASE_DIRECTION.fset is not None
        _BASE_DIRECTION.fset(self, direction)
        if changed and self._lab_on_direction is not None:
            self._lab_on_direction()


def adopt(transceiver: RTCRtpTransceiver, on_direction: Callable[[], None]) -> LabTransceiver:
    """Make an aiortc transceiver a LabTransceiver in place."""
    transceiver.__class__ = LabTransceiver
    assert isinstance(transceiver, LabTransceiver)
    transceiver._lab_on_direction = on_direction
    transceiver.lab_by_add_track = False
    transceiver.lab_by_remote = False
    return transceiver
