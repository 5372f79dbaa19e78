"""Validate topology data (from a file or the Python builder): every problem becomes one
ConfigError(file, key, reason). lab.net.topology loads files and builds topologies with it."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from lab.configfile import from_validation
from lab.errors import ConfigError
from lab.net.model import GraphError, TopologySpec
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
