"""Browser peer tests: real Debian Chromium driven by Playwright inside lab namespaces."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.runtime.chromium.browser import CHROMIUM, browser_pids, profiles_root

pytestmark = pytest.mark.slow


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append("Debian's chromium")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright")
    if shutil.which("turnserver") is None:
        missing.append("coturn")
    if missing:
        skip = pytest.mark.skip(reason=f"needs {', '.join(missing)} (scripts/setup-debian.sh, make setup)")
        for item in items:
            if "tests/chromium" in str(item.fspath):
                item.add_marker(skip)


def chromium_processes() -> set[int]:
    """Chromium processes on the machine (any scope: compare sets before and after)."""
    pids: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(entry, "exe").resolve().name == "chromium":
                    pids.add(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    """After the test: none of the browsers it started runs, no profile folder is left.

    The browsers of this test run (this scope's profile folders) are collected while the test
    runs, so other Chromium processes on the machine (other test runs) do not count."""
    seen: set[int] = set()
    stop = threading.Event()

    def collect() -> None:
        while not stop.is_set():
            seen.update(browser_pids(str(profiles_root())))
            stop.wait(0.2)

    watcher = threading.Thread(target=collect, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()
    assert not browser_pids(str(profiles_root())), "a marked browser process is still running"
    left = seen & chromium_processes()
    assert not left, f"Chromium processes left behind: {sorted(left)}"
    profiles = list(profiles_root().glob("*")) if profiles_root().is_dir() else []
    assert not profiles, f"profile folders left behind: {profiles}"
