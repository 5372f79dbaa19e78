"""The `firefox` peer kind: Debian's Firefox ESR as a lab peer, driven over WebDriver BiDi.

`python -m lab.runtime.firefox CONFIG_JSON` runs in the peer's namespace like the other agents
and speaks the same control contract. It starts headless Firefox with a fresh profile (quiet
prefs: browser.PREFS), opens Firefox's built-in WebDriver BiDi endpoint with a small client on
`websockets` (bidi.py; there is no geckodriver), and loads the SAME page as the Chromium peer
(lab/runtime/chromium/page/), served by the agent on 127.0.0.1 inside the namespace.

What differs from Chromium (README.md): per-packet times come from an RTCRtpScriptTransform
worker (Firefox has no encoded insertable streams and no receiveTime), the selected pair from
getStats polling (no selectedcandidatepairchange), and detection is Firefox's own.
"""

KIND = "firefox"
