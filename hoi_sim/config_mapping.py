"""Typed settings from plain mappings (yaml, a resolved Hydra config), with unknown keys named in the error."""

from __future__ import annotations

import dataclasses
from typing import Any

from hoi_sim.errors import InputError


def from_mapping(cls: type, data: dict[str, Any] | None, where: str) -> Any:
    """Build dataclass ``cls`` from a plain mapping, naming unknown keys in an ``InputError``."""
    data = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown}; known: {sorted(names)}")
    return cls(**data)
