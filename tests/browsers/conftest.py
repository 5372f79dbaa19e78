"""Browser peer tests, one harness for every browser kind: Debian's Chromium driven by Playwright
and Debian's Firefox ESR driven over WebDriver BiDi, inside lab namespaces, against each other
and against aiortc.

A test names the browsers it runs in its id (a `kind` parameter, a pair such as
`firefox-chromium`, or the module/test name) or by a marker (`@pytest.mark.chromium`); each one
it names gets the pytest marker of that kind (`-m chromium`, `-m firefox`) and is skipped, with
what to install, where that browser cannot run here.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab.runtime.chromium.browser import CHROMIUM, browser_pids
from lab.runtime.chromium.browser import profiles_root as chromium_profiles
from lab.runtime.firefox.browser import firefox_binary
from lab.runtime.firefox.browser import profiles_root as firefox_profiles

BROWSERS = ("chromium", "firefox")
# the executable names of their processes (/proc/<pid>/exe)
EXECUTABLES = {"chromium": "chromium", "firefox": "firefox-esr"}
PROFILE_ROOTS: dict[str, Callable[[], Path]] = {"chromium": chromium_profiles, "firefox": firefox_profiles}


def _playwright_missing() -> bool:
    try:
        import playwright  # noqa: F401
    except ImportError:
        return True
    return False


def missing_for(kind: str) -> list[str]:
    """What a browser kind needs that this machine lacks (coturn: every test's STUN/TURN)."""
    missing = []
    if kind == "chromium":
        if not Path(CHROMIUM).exists():
            missing.append("Debian's chromium")
        if _playwright_missing():
            missing.append("playwright")
    elif firefox_binary() is None:
        missing.append("Debian's firefox-esr")
    if shutil.which("turnserver") is None:
        missing.append("coturn")
    return missing


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.slow)  # (a conftest's pytestmark would mark nothing)
        missing: list[str] = []
        for kind in BROWSERS:
            if kind in item.nodeid or item.get_closest_marker(kind) is not None:
                item.add_marker(getattr(pytest.mark, kind))
                missing += [m for m in missing_for(kind) if m not in missing]
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"needs {', '.join(missing)} (scripts/setup-debian.sh, make setup)"))


@pytest.fixture(params=BROWSERS)
def kind(request: pytest.FixtureRequest) -> str:
    """The browser kind a test runs once for each of."""
    return str(request.param)


def browser_processes(kinds: tuple[str, ...] = BROWSERS) -> set[int]:
    """Browser processes on the machine (any scope: compare sets before and after)."""
    names = {EXECUTABLES[k] for k in kinds}
    pids: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if Path(entry, "exe").resolve().name in names:
                    pids.add(int(entry.name))
            except OSError:
                continue
    return pids


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    """After the test: none of the browsers it started runs, no profile folder is left.

    The browsers of this test run (this scope's profile folders) are collected by their marker
    while the test runs, so other browser processes on the machine (other test runs) do not count."""
    roots = [root() for root in PROFILE_ROOTS.values()]
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
