"""Read and write ``HOIMotion`` files (``.npz``, schema_version 1, no pickle).

File layout: one array per ``HOIMotion`` field under its own name, plus ``schema_version`` (int64 scalar) and
``meta`` (a 0-d unicode array holding the meta dict as JSON). Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from hoi_sim.errors import InputError
from hoi_sim.io_utils import atomic_path, dumps_json
from hoi_sim.motions.schema import ARRAY_NAMES, KIND, SCHEMA_VERSION, HOIMotion
from hoi_sim.skeleton import BODY_NAMES, DOF_NAMES

_READ_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError)


def _full_meta(meta: dict) -> dict:
    out = dict(meta)
    out.setdefault("kind", KIND)
    out["schema_version"] = SCHEMA_VERSION
    out.setdefault("quat_order", "wxyz")
    out.setdefault("body_names", list(BODY_NAMES))
    out.setdefault("dof_names", list(DOF_NAMES))
    return out


def share_mode(path: Path) -> None:
    """Give a freshly written temp file the usual 0o644 permissions (``mkstemp`` creates 0o600)."""
    os.chmod(path, 0o644)


def save_motion(motion: HOIMotion, path: str | os.PathLike) -> Path:
    """Write ``motion`` to ``path`` (``.npz``) atomically; returns the path. Arrays are stored as they are."""
    path = Path(path)
    try:
        meta_json = dumps_json(_full_meta(motion.meta))
    except (TypeError, ValueError) as exc:
        raise InputError(f"{path}: motion meta is not JSON-serialisable: {exc}") from None
    payload = {"schema_version": np.asarray(SCHEMA_VERSION, np.int64), "meta": np.asarray(meta_json)}
    payload.update({n: np.asarray(getattr(motion, n)) for n in ARRAY_NAMES})
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **payload)
        share_mode(tmp)
    return path


def read_meta(path: str | os.PathLike) -> dict:
    """The meta dict of a package ``.npz`` file without reading its arrays (``kind`` tells the format)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            if "meta" not in data.files:
                raise InputError(f"{path}: no 'meta' entry (not a hoi-sim .npz file)")
            return _parse_meta(path, data["meta"])
    except InputError:
        raise
    except _READ_ERRORS as exc:
        raise InputError(f"{path}: cannot read .npz ({type(exc).__name__}: {_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no details"


def _schema_version(path: Path, raw: np.ndarray) -> int:
    """The integer of array ``schema_version``; ``InputError`` naming it when empty or not one integer."""
    flat = np.asarray(raw).reshape(-1)
    if flat.size != 1 or not np.issubdtype(flat.dtype, np.integer):
        raise InputError(f"{path}: array 'schema_version' must hold one integer, got shape {np.asarray(raw).shape} "
                         f"dtype {flat.dtype}")
    return int(flat[0])


def _parse_meta(path: Path, raw: np.ndarray) -> dict:
    try:
        meta = json.loads(str(raw[()]))
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: array 'meta' is not a JSON string ({_first_line(exc)})") from None
    if not isinstance(meta, dict):
        raise InputError(f"{path}: array 'meta' must hold a JSON object, got {type(meta).__name__}")
    return meta


def load_motion(path: str | os.PathLike) -> HOIMotion:
    """Read a ``HOIMotion`` from ``path``.

    Raises ``InputError`` naming the file when it cannot be read, is not a HOIMotion file, has another
    schema_version or lacks an array. Shapes and values are not checked here: that is
    :func:`hoi_sim.motions.validate.validate_motion` / ``assert_valid`` (which also take a path).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            files = set(data.files)
            if "schema_version" not in files or "meta" not in files:
                raise InputError(f"{path}: not a HOIMotion file (missing 'schema_version' or 'meta')")
            version = _schema_version(path, data["schema_version"])
            meta = _parse_meta(path, data["meta"])
            kind = meta.get("kind", KIND)
            if kind != KIND:
                raise InputError(f"{path}: holds a {kind!r} file, not a {KIND!r}")
            if version != SCHEMA_VERSION:
                raise InputError(f"{path}: schema_version {version} is not supported (expected {SCHEMA_VERSION})")
            missing = [n for n in ARRAY_NAMES if n not in files]
            if missing:
                raise InputError(f"{path}: missing array(s) {', '.join(missing)}")
            arrays = {n: data[n] for n in ARRAY_NAMES}
    except InputError:
        raise
    except _READ_ERRORS as exc:
        raise InputError(f"{path}: cannot read .npz ({type(exc).__name__}: {_first_line(exc)})") from None
    meta.pop("schema_version", None)
    return HOIMotion(meta=meta, **arrays)
