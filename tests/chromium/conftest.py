"""Browser peer tests: real Debian Chromium driven by Playwright inside lab namespaces."""

from __future__ import annotations

import shutil
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
    """After the test: none of the browsers it started runs, no profile folder is left."""
    before = chromium_processes()
    yield
    assert not browser_pids(str(profiles_root())), "a marked browser process is still running"
    left = chromium_processes() - before
    assert not left, f"Chromium processes left behind: {sorted(left)}"
    profiles = list(profiles_root().glob("*")) if profiles_root().is_dir() else []
    assert not profiles, f"profile folders left behind: {profiles}"
