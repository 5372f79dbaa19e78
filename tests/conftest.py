"""Shared test set-up. The lab needs root for namespaces, nftables and coturn."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() != 0:
        raise pytest.UsageError("icelab tests need root (network namespaces, nftables)")
