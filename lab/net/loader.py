"""Load and validate topology files (TOML); every problem becomes one ConfigError(file, key, reason)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lab.configfile import from_validation, read_toml
from lab.errors import ConfigError
from lab.net.model import GraphError, Topology, TopologySpec
from lab.net.plan import resolve


def validate(raw: dict[str, Any], source: str | None) -> TopologySpec:
    try:
        spec = TopologySpec.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, GraphError):
            raise ConfigError(source, cause.key, cause.reason) from None
        raise from_validation(error, source) from None
    try:
        resolve(spec, "check")  # address conflicts are only visible once addresses are laid out
    except GraphError as error:
        raise ConfigError(source, error.key, error.reason) from None
    return spec


def load_topology(file: str | Path, name: str | None = None) -> Topology:
    path = Path(file)
    raw = read_toml(path)
    spec = validate(raw, str(path))
    return Topology.from_spec(spec, name or path.stem.replace("-", "_"), source=str(path))
