"""`icelab doctor` exits non-zero when the namespace runtime cannot run."""

from __future__ import annotations

from typer.testing import CliRunner

from lab.cli import _register, app
from lab.net import netns


def test_doctor_fails_without_namespaces(monkeypatch) -> None:
    def no_namespaces(name: str) -> None:
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(netns, "create", no_namespaces)
    _register()
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "FAIL network namespaces" in result.output
