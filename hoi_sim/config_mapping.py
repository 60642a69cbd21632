"""Typed settings from plain mappings (yaml, a resolved Hydra config), with unknown keys named in the error.

Scalar fields (annotated ``int``, ``float``, ``bool``, ``str``, optionally ``| None``) are type-checked, so
``num_envs=abc`` is one line naming the key rather than a crash later; an integer-valued float is accepted for an
``int`` and an ``int`` for a ``float``. A field's ``metadata`` may give its range: ``{"min": a}`` (≥ a),
``{"gt": a}`` (> a), ``{"max": b}`` (≤ b) — see :func:`ranged`.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any

from hoi_sim.errors import InputError

_SCALARS = (bool, int, float, str)


def ranged(default: Any, *, min: float | None = None, gt: float | None = None,  # noqa: A002 - names of the bounds
           max: float | None = None, **kwargs: Any) -> Any:  # noqa: A002
    """``dataclasses.field(default=default)`` with a numeric range checked by :func:`check_fields`."""
    meta = {k: v for k, v in (("min", min), ("gt", gt), ("max", max)) if v is not None}
    return dataclasses.field(default=default, metadata=meta, **kwargs)


def _scalar_type(annotation: Any) -> tuple[type | None, bool]:
    """(the scalar type of an annotation or None when not a plain scalar, whether None is allowed)."""
    if annotation in _SCALARS:
        return annotation, False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and rest[0] in _SCALARS:
            return rest[0], len(rest) < len(args)
    return None, False


def _coerce(value: Any, kind: type, where: str) -> Any:
    bad = InputError(f"{where}: expected {'an integer' if kind is int else 'a ' + kind.__name__}, got {value!r}")
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if kind is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value) if not isinstance(value, str) else value
        raise bad
    if isinstance(value, bool):
        raise bad
    if kind is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise bad
    if isinstance(value, (int, float)):
        return float(value) if isinstance(value, int) else value
    raise bad


def _check_range(value: Any, f: dataclasses.Field, where: str) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    lo, gt, hi = f.metadata.get("min"), f.metadata.get("gt"), f.metadata.get("max")
    if isinstance(value, float) and math.isnan(value) and (lo is not None or gt is not None or hi is not None):
        raise InputError(f"{where}: must be a number, got nan")
    if lo is not None and value < lo:
        raise InputError(f"{where}: must be ≥ {lo}, got {value}")
    if gt is not None and not value > gt:
        raise InputError(f"{where}: must be > {gt}, got {value}")
    if hi is not None and value > hi:
        raise InputError(f"{where}: must be ≤ {hi}, got {value}")


def check_fields(obj: Any, where: str) -> None:
    """Type-check (and coerce) the scalar fields of dataclass instance ``obj`` and check their ranges;
    ``InputError`` naming ``where.<field>``."""
    try:
        hints = typing.get_type_hints(type(obj))
    except Exception:  # noqa: BLE001 - unresolvable annotations: skip the type check, keep the ranges
        hints = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{where}.{f.name}" if where else f.name
        kind, optional = _scalar_type(hints.get(f.name))
        if kind is not None:
            if value is None:
                if not optional:
                    raise InputError(f"{key}: must be set (got null)")
                continue
            value = _coerce(value, kind, key)
            object.__setattr__(obj, f.name, value)
        _check_range(value, f, key)


def from_mapping(cls: type, data: dict[str, Any] | None, where: str) -> Any:
    """Build dataclass ``cls`` from a plain mapping, naming unknown keys, values of the wrong type and values out of
    range in an ``InputError``."""
    data = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown}; known: {sorted(names)}")
    obj = cls(**data)
    check_fields(obj, where)
    return obj


def named_set_file(kind: str, name_or_path: str | Path, cfg_dir: Path) -> Path:
    """The yaml file of a named set (``cfg_dir/<name>.yaml``) or the yaml path given; ``InputError`` naming the
    ``kind`` of set and the known names when there is none."""
    p = Path(str(name_or_path))
    if p.suffix not in (".yaml", ".yml"):
        p = cfg_dir / f"{name_or_path}.yaml"
    if not p.is_file():
        known = sorted(q.stem for q in cfg_dir.glob("*.yaml"))
        raise InputError(f"{kind} set {str(name_or_path)!r} not found (known: {known}, or a yaml path)")
    return p
