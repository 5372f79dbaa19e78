"""Session descriptions checked before lab.rtc applies them, failing with the W3C exception.

aiortc's SDP parser accepts nearly any text (unknown lines are skipped, so "!<garbage>" parses
as a session without media) and reports bad content as ValueError. The W3C API instead rejects:
- text that is not SDP with an RTCError "sdp-syntax-error" (an OperationError),
- a description whose type does not fit the signaling state with InvalidStateError,
- SDP that is well-formed but unusable (no ICE credentials, no rtcp-mux, answer not matching the
  offer) with InvalidAccessError.
"""

from __future__ import annotations

import re

from aiortc import sdp
from aiortc.exceptions import InvalidAccessError, InvalidStateError, OperationError
from aiortc.rtcsessiondescription import RTCSessionDescription

_SDP_LINE = re.compile(r"[a-z]=\S.*|[a-z]=")

# W3C "set the session description": which description types each signaling state accepts
LOCAL_TYPES = {
    "stable": ("offer",),
    "have-local-offer": ("offer", "rollback"),
    "have-remote-offer": ("answer", "pranswer"),
    "have-local-pranswer": ("answer", "pranswer", "rollback"),
    "have-remote-pranswer": (),
}
REMOTE_TYPES = {
    "stable": ("offer",),
    "have-local-offer": ("offer", "answer", "pranswer"),  # an offer rolls ours back implicitly
    "have-remote-offer": ("offer", "rollback"),
    "have-local-pranswer": (),
    "have-remote-pranswer": ("answer", "pranswer", "rollback"),
}


def check_state(description: RTCSessionDescription, signaling_state: str, remote: bool) -> None:
    if signaling_state == "closed":
        raise InvalidStateError("RTCPeerConnection is closed")
    allowed = (REMOTE_TYPES if remote else LOCAL_TYPES).get(signaling_state, ())
    if description.type not in allowed:
        side = "remote" if remote else "local"
        raise InvalidStateError(
            f'Cannot set a {side} description of type "{description.type}" in signaling '
            f'state "{signaling_state}"'
        )


def parse(description: RTCSessionDescription) -> sdp.SessionDescription:
    """The parsed SDP; OperationError (sdp-syntax-error) if the text is not SDP."""
    lines = [line for line in re.split(r"\r?\n", description.sdp) if line]
    if not lines or lines[0] != "v=0":
        raise OperationError('sdp-syntax-error: a session description starts with "v=0"')
    for number, line in enumerate(lines, start=1):
        if not _SDP_LINE.fullmatch(line):
            raise OperationError(f"sdp-syntax-error: line {number} is not <type>=<value>: {line!r}")
    try:
        parsed = sdp.SessionDescription.parse(description.sdp)
    except Exception as exc:  # aiortc's parser raises whatever the bad field provokes
        raise OperationError(f"sdp-syntax-error: {type(exc).__name__}: {exc}") from exc
    parsed.type = description.type
    return parsed


def check_content(parsed: sdp.SessionDescription) -> None:
    """What aiortc itself refuses in any description, checked before anything is changed."""
    for index, media in enumerate(parsed.media):
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            raise InvalidAccessError(f"m-section {index} has no ICE username fragment or password")
        if media.kind in ("audio", "video") and not media.rtcp_mux:
            raise InvalidAccessError(f"m-section {index} does not use rtcp-mux")
        if media.rtp.muxId is None:
            raise InvalidAccessError(f"m-section {index} has no a=mid")


def as_w3c_error(exc: Exception) -> Exception:
    """aiortc's ValueError for unusable SDP as the W3C InvalidAccessError; others unchanged."""
    if isinstance(exc, ValueError):
        return InvalidAccessError(str(exc))
    return exc
