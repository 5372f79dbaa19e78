"""A fresh pair of lab namespaces per test (lab.net.shaping.testbed), and a check that no
shaper process outlives its test, also when the test failed."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator

import pytest

from lab.net.shaping.testbed import LinkPair, shaper_pids
from lab.net.shaping.testbed import link_pair as make_link_pair

_counter = itertools.count()


@pytest.fixture
def link_pair() -> Iterator[LinkPair]:
    with make_link_pair(f"shp{os.getpid() % 10000}x{next(_counter)}") as pair:
        yield pair


@pytest.fixture
def bridged_pair() -> Iterator[LinkPair]:
    with make_link_pair(f"shp{os.getpid() % 10000}x{next(_counter)}", bridged=True) as pair:
        yield pair


@pytest.fixture(autouse=True)
def no_shaper_left_behind() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 5
    while shaper_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert shaper_pids() == [], "an icelab-shaper process outlived its test"
