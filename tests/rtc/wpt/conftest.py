"""Fixtures of the ported web-platform-tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .harness import Peers


@pytest.fixture
async def peers() -> AsyncIterator[Peers]:
    made = Peers()
    try:
        yield made
    finally:
        await made.close()
