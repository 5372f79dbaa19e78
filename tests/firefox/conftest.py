"""Firefox peer tests: Debian's Firefox ESR driven over WebDriver BiDi inside lab namespaces,
against aiortc and Chromium peers."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.runtime.chromium.browser import CHROMIUM, browser_pids
from lab.runtime.chromium.browser import profiles_root as chromium_profiles
from lab.runtime.firefox.browser import firefox_binary
from lab.runtime.firefox.browser import profiles_root as firefox_profiles

pytestmark = pytest.mark.slow


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = []
    if firefox_binary() is None:
        missing.append("Debian's firefox-esr")
    if not Path(CHROMIUM).exists():
        missing.append("Debian's chromium")
    if shutil.which("turnserver") is None:
        missing.append("coturn")
    if missing:
        skip = pytest.mark.skip(reason=f"needs {', '.join(missing)} (scripts/setup-debian.sh)")
        for item in items:
            if "tests/firefox" in str(item.fspath):
                item.add_marker(skip)


def browser_processes() -> set[int]:
    """Firefox and Chromium processes on the machine (any scope: compare sets before and after)."""
    pids: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(entry, "exe").resolve().name in ("firefox-esr", "chromium"):
                    pids.add(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    """After the test: none of the browsers it started runs, no profile folder is left (only
    this scope's browsers count: they are collected by their marker while the test runs)."""
    roots = (firefox_profiles(), chromium_profiles())
    seen: set[int] = set()
    stop = threading.Event()

    def collect() -> None:
        while not stop.is_set():
            for root in roots:
                seen.update(browser_pids(str(root)))
            stop.wait(0.2)

    watcher = threading.Thread(target=collect, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
    for root in roots:
        assert not browser_pids(str(root)), f"a marked browser process of {root} is still running"
    left = seen & browser_processes()
    assert not left, f"browser processes left behind: {sorted(left)}"
    for root in roots:
        profiles = list(root.glob("*")) if root.is_dir() else []
        assert not profiles, f"profile folders left behind: {profiles}"
