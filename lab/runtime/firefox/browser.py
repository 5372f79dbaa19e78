"""Launching and always removing headless Firefox ESR: profile folder with quiet prefs, sweep.

Every browser gets a fresh profile folder under the lab's state folder
(<state>/firefox/<trial>-<role>-<token>; `icelab clean` removes the state folder). Firefox runs
with HOME and the XDG folders inside the profile, so nothing it writes lives anywhere else, and
every process of it carries the environment marker ICELAB_BROWSER_PROFILE=<that folder>: the
same sweep as Chromium's (lab.runtime.chromium.browser) finds and kills them by it.

The prefs (user.js) keep Firefox off every network but the lab's: no update, telemetry, captive
portal or connectivity checks, safe browsing, remote settings, add-on or plugin (OpenH264)
downloads, DNS prefetch or DNS over HTTPS. Firefox's remote agent also applies its own
"recommended preferences" for automation (remote.prefs.recommended), which silence more.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab import naming
from lab.runtime.chromium.browser import MARKER, sweep

FIREFOX_CANDIDATES = ("/usr/bin/firefox-esr", "/usr/lib/firefox-esr/firefox-esr")
LISTENING = re.compile(rb"WebDriver BiDi listening on (ws://\S+)")
LAUNCH_TIMEOUT_S = 60.0

NO_NETWORK_PREFS: dict[str, bool | int | str] = {
    # updates, telemetry, studies, crash reports
    "app.update.disabledForTesting": True,
    "app.update.auto": False,
    "app.update.checkInstallTime": False,
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "app.shield.optoutstudies.enabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.server": "data:,",
    "toolkit.telemetry.archive.enabled": False,
    "toolkit.coverage.endpoint.base": "",
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "browser.crashReports.unsubmittedCheck.enabled": False,
    "breakpad.reportURL": "",
    "browser.ping-centre.telemetry": False,
    "browser.discovery.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "nimbus.rollouts.enabled": False,
    # captive portal and connectivity probes
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    # safe browsing, remote settings, blocklists, add-ons, plugins
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.downloads.remote.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.provider.google.updateURL": "",
    "browser.safebrowsing.provider.google4.updateURL": "",
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "services.settings.server": "data:,",
    "extensions.blocklist.enabled": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "media.gmp-manager.url": "data:,",
    "media.gmp-gmpopenh264.enabled": False,
    "media.gmp-gmpopenh264.autoupdate": False,
    "media.gmp-widevinecdm.enabled": False,
    "media.eme.enabled": False,
    "browser.search.update": False,
    "browser.region.network.url": "",
    "browser.region.update.enabled": False,
    "geo.provider.network.url": "",
    "geo.enabled": False,
    "identity.fxaccounts.enabled": False,
    "services.sync.engine.addons": False,
    "browser.newtabpage.enabled": False,
    "browser.newtabpage.activity-stream.feeds.system.topstories": False,
    "browser.newtabpage.activity-stream.feeds.snippets": False,
    "browser.newtabpage.activity-stream.telemetry": False,
    "browser.topsites.contile.enabled": False,
    "browser.startup.page": 0,
    "browser.startup.homepage": "about:blank",
    "browser.aboutwelcome.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.tabs.remote.autostart": True,
    "browser.backup.enabled": False,
    "browser.backup.scheduled.enabled": False,
    # DNS: the lab names every host by address; any name at all (a background service's) resolves
    # to 127.0.0.1 without a query leaving the namespace (found by tests/browsers/test_network.py:
    # queries for firefox.settings.services.mozilla.com to the machine's resolver)
    "network.dns.native-is-localhost": True,
    "network.trr.mode": 5,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.http.speculative-parallel-limit": 0,
    "network.predictor.enabled": False,
    "browser.urlbar.speculativeConnect.enabled": False,
    "network.proxy.type": 0,
}

MEDIA_PREFS: dict[str, bool | int | str] = {
    "media.peerconnection.ice.obfuscate_host_addresses": False,  # real host candidates, as Chromium's flag
    "media.navigator.streams.fake": True,                        # fake microphone
    "media.navigator.permission.disabled": True,                 # no permission prompt
    "media.autoplay.default": 0,                                 # playout without a user gesture
    "media.autoplay.blocking_policy": 0,
    # performance.now() at full resolution (default: 1 ms steps with jitter) for per-packet times
    "privacy.reduceTimerPrecision": False,
    "privacy.resistFingerprinting": False,
}

PREFS = {**NO_NETWORK_PREFS, **MEDIA_PREFS}


class BrowserMissing(RuntimeError):
    """Debian's firefox-esr is not installed where the agent runs."""


def firefox_binary() -> str | None:
    """ICELAB_FIREFOX when set (another build; a path that does not exist means none), else Debian's."""
    chosen = os.environ.get("ICELAB_FIREFOX")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    for path in FIREFOX_CANDIDATES:
        if Path(path).exists():
            return path
    return shutil.which("firefox-esr")


def firefox_version() -> str | None:
    """`Mozilla Firefox 153.8.0esr`, or None when Firefox is not installed or does not answer."""
    binary = firefox_binary()
    if binary is None:
        return None
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30,
                              env={**os.environ, "HOME": "/nonexistent", "MOZ_HEADLESS": "1"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def profiles_root() -> Path:
    return naming.browser_profiles_dir("firefox")


def new_profile_dir(trial_id: str, role: str) -> Path:
    return naming.new_browser_profile("firefox", trial_id, role)


def user_js(prefs: dict[str, bool | int | str]) -> str:
    import json

    return "".join(f"user_pref({json.dumps(name)}, {json.dumps(value)});\n" for name, value in prefs.items())


@dataclass
class Firefox:
    """A running headless Firefox, its profile folder and its BiDi WebSocket address."""

    process: asyncio.subprocess.Process
    profile: Path
    url: str
    version: str = "?"
    _drain: asyncio.Task[None] | None = field(default=None, repr=False)

    async def close(self, grace_s: float = 2.0) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.process.wait(), grace_s)
        sweep(self.profile)
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        if self._drain is not None:
            self._drain.cancel()


async def _drain_to_log(stream: asyncio.StreamReader, sink: Any) -> None:
    while line := await stream.readline():
        with contextlib.suppress(Exception):
            sink.write(b"firefox: " + line)
            sink.flush()


async def launch(profile: Path, prefs: dict[str, bool | int | str] | None = None) -> Firefox:
    """Start Firefox headless on the profile; returns once its BiDi endpoint listens."""
    binary = firefox_binary()
    if binary is None:
        sweep(profile)
        raise BrowserMissing("no Firefox: install Debian's firefox-esr (scripts/setup-debian.sh)")
    (profile / "user.js").write_text(user_js(PREFS if prefs is None else prefs))
    env = {**os.environ, MARKER: str(profile), "HOME": str(profile), "XDG_CACHE_HOME": str(profile / "cache"),
           "XDG_CONFIG_HOME": str(profile / "config"), "XDG_DATA_HOME": str(profile / "data"),
           "MOZ_HEADLESS": "1", "MOZ_CRASHREPORTER_DISABLE": "1", "MOZ_DISABLE_AUTO_SAFE_MODE": "1",
           # release builds honour services.settings.server (remote settings off) only with this
           "MOZ_REMOTE_SETTINGS_DEVTOOLS": "1"}
    sink = sys.stderr.buffer
    process = await asyncio.create_subprocess_exec(
        binary, "--headless", "--no-remote", "--profile", str(profile), "--remote-debugging-port", "0",
        "about:blank", env=env, stdin=subprocess.DEVNULL, stdout=sink.fileno(), stderr=subprocess.PIPE)
    assert process.stderr is not None
    try:
        url = await asyncio.wait_for(_endpoint(process.stderr, sink), LAUNCH_TIMEOUT_S)
    except BaseException:
        browser = Firefox(process, profile, "")
        await browser.close(grace_s=0.5)
        raise
    return Firefox(process, profile, url + "/session",
                   _drain=asyncio.get_running_loop().create_task(_drain_to_log(process.stderr, sink)))


async def _endpoint(stderr: asyncio.StreamReader, sink: Any) -> str:
    while line := await stderr.readline():
        with contextlib.suppress(Exception):
            sink.write(b"firefox: " + line)
            sink.flush()
        found = LISTENING.search(line)
        if found:
            return found.group(1).decode()
    raise RuntimeError("Firefox exited before its WebDriver BiDi endpoint listened (see the agent log)")
