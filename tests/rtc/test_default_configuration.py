"""A lab peer never reaches outside the lab on its own: no default public STUN server."""

from __future__ import annotations

from lab.rtc import IceOptions, RTCPeerConnection


async def test_default_configuration_has_no_ice_servers() -> None:
    pc = RTCPeerConnection(ice=IceOptions(host_addresses=("127.0.0.1",)))
    try:
        assert pc.getConfiguration().iceServers == []
        pc.addTransceiver("audio")
        await pc.setLocalDescription()
        sdp = pc.localDescription.sdp
        candidate_types = {line.split()[7] for line in sdp.splitlines() if line.startswith("a=candidate:")}
        assert candidate_types == {"host"}  # nothing gathered from a server
    finally:
        await pc.close()
