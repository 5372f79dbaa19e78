"""Shared test set-up. The lab needs root for namespaces, nftables and coturn.

Every pytest process works in its own naming scope (see lab.naming), so two test runs on one
machine never touch each other's namespaces.
"""

from __future__ import annotations

import os

import pytest

# An empty ICELAB_SCOPE would mean "no scope": a cleanup test would then clean every scope on the
# machine. Tests always get a scope of their own unless a non-empty one is given.
if not os.environ.get("ICELAB_SCOPE"):
    os.environ["ICELAB_SCOPE"] = f"t{os.getpid()}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() != 0:
        raise pytest.UsageError("icelab tests need root (network namespaces, nftables)")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # Remove whatever this run left in its scope: lab namespaces and the processes inside them.
    if os.environ.get("ICELAB_SCOPE"):
        from lab.net.cleanup import clean

        clean(os.environ["ICELAB_SCOPE"])
