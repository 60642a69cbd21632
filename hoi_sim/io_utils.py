"""Small file helpers shared by every writer: atomic writes (temp file + rename) and strict JSON (no NaN/inf:
they are written as ``null``)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``, on error remove it.

    Nothing already at ``path`` is lost when the writer fails half way.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the final file the usual mode
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def json_safe(x: Any) -> Any:
    """``x`` as strict-JSON data: NaN/±inf → None, numpy scalars/arrays → Python numbers/lists, tuples → lists,
    paths → strings (recursively through dicts and lists)."""
    if isinstance(x, bool) or x is None or isinstance(x, (int, str)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k) if not isinstance(k, str) else k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        return x
    if isinstance(x, np.ndarray):
        return json_safe(x.tolist())
    if isinstance(x, (np.integer, np.floating, np.bool_)):
        return json_safe(x.item())
    return x


def dumps_json(data: Any, **kwargs: Any) -> str:
    """Strict JSON text (``allow_nan=False``): every NaN/inf becomes ``null`` first (:func:`json_safe`)."""
    return json.dumps(json_safe(data), allow_nan=False, **kwargs)


def write_json_atomic(path: str | os.PathLike, data: Any, **kwargs: Any) -> None:
    """:func:`dumps_json` of ``data`` written atomically to ``path``."""
    write_text_atomic(path, dumps_json(data, **kwargs))


def check_writable(path: str | os.PathLike, force: bool, flag: str = "") -> Path:
    """``path`` when a file may be written there: ``InputError`` (naming ``flag`` and the path) when it is a folder,
    or an existing file and ``force`` is off."""
    from hoi_sim.errors import InputError

    p = Path(path)
    where = f"{flag} {p}" if flag else str(p)
    if p.is_dir():
        raise InputError(f"{where}: is a folder, not an output file")
    if p.exists() and not force:
        raise InputError(f"{where}: exists; pass --force to overwrite")
    return p
