"""Load and validate topology files (TOML); every problem becomes one ConfigError(file, key, reason)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from lab.errors import ConfigError
from lab.net.model import GraphError, Topology, TopologySpec
from lab.net.plan import resolve


def _key(loc: tuple) -> str:
    """pydantic's error location as the file's key: links[2].b, routers.nat_a.nat."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def validate(raw: dict, source: str | None) -> TopologySpec:
    try:
        spec = TopologySpec.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, GraphError):
            raise ConfigError(source, cause.key, cause.reason) from None
        reason = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            reason = "unknown key"
        elif first["type"] == "literal_error":
            reason = f"{reason}, got {first.get('input')!r}"
        raise ConfigError(source, _key(first["loc"]) or None, reason) from None
    try:
        resolve(spec, "check")  # address conflicts are only visible once addresses are laid out
    except GraphError as error:
        raise ConfigError(source, error.key, error.reason) from None
    return spec


def load_topology(file: str | Path, name: str | None = None) -> Topology:
    path = Path(file)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(path, None, "file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, None, f"TOML syntax error: {error}") from None
    spec = validate(raw, str(path))
    return Topology.from_spec(spec, name or path.stem.replace("-", "_"), source=str(path))
