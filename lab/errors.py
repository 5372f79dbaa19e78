"""Errors the CLI turns into one clear message and an exit code."""

from __future__ import annotations

from pathlib import Path


class LabError(Exception):
    """A failure the user can act on; the CLI prints it without a traceback (exit 1)."""

    exit_code = 1


class ConfigError(LabError):
    """Bad input: names the file, the key and what was wrong (exit 2)."""

    exit_code = 2

    def __init__(self, file: str | Path | None, key: str | None, reason: str) -> None:
        self.file = str(file) if file is not None else None
        self.key = key
        self.reason = reason
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = self.file or "<input>"
        if self.key:
            where = f"{where}: {self.key}"
        return f"{where}: {self.reason}"
