"""The `chromium` peer kind: a real browser (Debian Chromium, libwebrtc) as a lab peer.

`python -m lab.runtime.chromium CONFIG_JSON` runs in the peer's namespace like the aiortc agent
(lab.runtime.agent) and speaks the same control contract: one AgentConfig on the command line,
JSON-line events with time.monotonic() timestamps on stdout, JSON-line commands on stdin.
It launches headless Chromium through Playwright (never `playwright install`: the system
browser at /usr/bin/chromium), with a fresh profile in the lab's state folder, and loads a page
served by the agent itself (page/peer.js) that holds the call: perfect negotiation over the
lab's signaling server, the restart policies, and the events.

Clock: the page stamps events with performance.now(); the agent maps them onto its own
time.monotonic() with an offset measured by page.evaluate round trips (clock_sync events carry
the offset and its uncertainty, half the best round trip).

Media received: every encoded audio frame (one RTP packet) passes an encoded-insertable-streams
transform on the receiver; its metadata gives the RTP sequence number, the SSRC and receiveTime,
the packet's arrival time on the performance.now() timeline (0.1 ms steps). So `media_rx` events
carry real RTP sequence numbers, as the aiortc agent's do. Chromium's own 'disconnected' /
'failed' detection is what it is: the experiment's [ice] detection settings do not apply.
"""

KIND = "chromium"
