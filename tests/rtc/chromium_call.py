"""Child process for test_chromium_interop.py, run inside a lab namespace: a headless Chromium
(Playwright) and a lab.rtc peer call each other, restart ICE from either side, and report one
JSON line per step on stdout.

argv[1]: the local address the lab.rtc peer gathers on.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from aiortc import RTCConfiguration, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack
from playwright.async_api import Page, async_playwright

from lab.rtc import DetectionConfig, IceOptions, MediaReceived, RTCPeerConnection

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]

# an oscillator as microphone: about:blank has no getUserMedia (not a secure context)
PAGE_SETUP = """
async () => {
  window.pc = new RTCPeerConnection({iceServers: []});
  window.iceStates = [];
  pc.oniceconnectionstatechange = () => iceStates.push(pc.iceConnectionState);
  const audio = new AudioContext();
  const tone = audio.createOscillator();
  const out = audio.createMediaStreamDestination();
  tone.connect(out);
  tone.start();
  await audio.resume();
  out.stream.getTracks().forEach(t => pc.addTrack(t, out.stream));
  window.gathered = () => new Promise(done => {
    if (pc.iceGatheringState === 'complete') return done();
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') done();
    });
  });
  window.received = async () => {
    let n = 0;
    (await pc.getStats()).forEach(s => { if (s.type === 'inbound-rtp') n += s.packetsReceived; });
    return n;
  };
}
"""


def say(**event: object) -> None:
    print(json.dumps(event), flush=True)


async def run(page: Page, address: str) -> None:
    pc = RTCPeerConnection(
        RTCConfiguration(iceServers=[]),
        detection=DetectionConfig(consent_interval=0.5, disconnected_after=2.0, failed_after=5.0),
        ice=IceOptions(host_addresses=(address,), use_ipv6=False),
    )
    per_generation: dict[int, int] = {}

    def on_media(event: MediaReceived) -> None:
        per_generation[event.generation] = per_generation.get(event.generation, 0) + 1

    pc.on("mediareceived", on_media)
    pc.addTrack(AudioStreamTrack())

    async def chromium_offers(restart: bool) -> None:
        if restart:
            await page.evaluate("pc.restartIce()")
        offer = await page.evaluate(
            "async () => { await pc.setLocalDescription(); await gathered();"
            " return pc.localDescription.toJSON(); }"
        )
        await pc.setRemoteDescription(RTCSessionDescription(**offer))
        await pc.setLocalDescription()
        await page.evaluate(
            "d => pc.setRemoteDescription(d)", {"type": "answer", "sdp": pc.localDescription.sdp}
        )

    async def lab_offers() -> None:
        pc.restartIce()
        await pc.setLocalDescription()
        answer = await page.evaluate(
            "async d => { await pc.setRemoteDescription(d); await pc.setLocalDescription();"
            " await gathered(); return pc.localDescription.toJSON(); }",
            {"type": "offer", "sdp": pc.localDescription.sdp},
        )
        await pc.setRemoteDescription(RTCSessionDescription(**answer))

    async def report(step: str, generation: int) -> None:
        deadline = time.monotonic() + 15
        while per_generation.get(generation, 0) < 20 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        before = await page.evaluate("received()")
        await asyncio.sleep(1.0)
        after = await page.evaluate("received()")
        (transport,) = pc.getIceTransports()
        say(
            step=step,
            lab_generation=transport.activeGeneration.number,
            lab_received=per_generation.get(generation, 0),
            chromium_received_per_s=after - before,
            chromium_states=await page.evaluate("iceStates"),
            lab_state=pc.iceConnectionState,
        )

    await chromium_offers(restart=False)
    await report("call", 0)
    await chromium_offers(restart=True)
    await report("chromium restarts", 1)
    await lab_offers()
    await report("lab.rtc restarts", 2)
    await pc.close()


async def main(address: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS
        )
        try:
            page = await browser.new_page()
            await page.goto("about:blank")
            await page.evaluate(PAGE_SETUP)
            await run(page, address)
        finally:
            await browser.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
