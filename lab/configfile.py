"""Reading configuration files at the edge: every problem becomes one ConfigError(file, key, reason).

`read_toml(path)` refuses a missing, unreadable, non-UTF-8 or non-TOML file; `from_validation`
turns pydantic's first error into the file's key and a plain reason. Topologies, relays and
experiments all go through these two.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lab.errors import ConfigError


def read_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, None, "file not found") from None
    except IsADirectoryError:
        raise ConfigError(path, None, "is a directory, not a file") from None
    except OSError as error:
        raise ConfigError(path, None, f"cannot be read: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(path, None, f"not UTF-8 text (byte {error.start}); a TOML file is expected") from None
    if "\x00" in text:
        raise ConfigError(path, None, "a binary file (NUL bytes); a TOML file is expected")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, None, f"TOML syntax error: {error}") from None


def key_of(loc: Iterable[object], skip: Callable[[object], bool] = lambda _: False) -> str:
    """pydantic's error location as the file's key: links[2].b, fault.node."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif skip(item) or str(item).startswith(("function-", "tagged-union")):
            continue  # pydantic's validator and union branch names are not keys of the file
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def reason_of(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    reason = str(error["msg"]).removeprefix("Value error, ")
    if kind == "literal_error":
        return f"{reason}, got {error.get('input')!r}"
    return reason


def from_validation(error: ValidationError, file: str | Path | None, prefix: str | None = None,
                    skip: Callable[[object], bool] = lambda _: False,
                    reasons: dict[str, str] | None = None, strip: int = 0) -> ConfigError:
    """The first of pydantic's errors as a ConfigError; `prefix` is the key the model sits at
    (replacing the first `strip` parts of pydantic's location), `reasons` replaces the reason of
    some error types (e.g. a union's unknown tag)."""
    first = error.errors()[0]
    key = key_of(tuple(first["loc"])[strip:], skip)
    if prefix:
        key = f"{prefix}.{key}" if key and not key.startswith("[") else f"{prefix}{key}"
    reason = (reasons or {}).get(first["type"]) or reason_of(first)
    return ConfigError(file, key or None, reason)
