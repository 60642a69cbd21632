"""Motion files checked on load, once per file version.

Every entry point that reads clips (train, eval, replay, render, synth, convert) passes what it read through
:func:`check_loaded`, which runs :func:`hoi_sim.motions.validate.validate_motion` (at least
:data:`MIN_FRAMES` frames) and remembers the result by file: resolved path, modification time (ns) and size. A
file read again (a second checkpoint evaluated on the same clips, the run that follows a pre-flight check) is not
validated again; a file that changed is. A finding raises :class:`~hoi_sim.motions.validate.ValidationError`: one
line naming the file, the array or meta field, and the frame and body at fault.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

from hoi_sim.motions.schema import HOIMotion
from hoi_sim.motions.validate import ValidationError, validate_motion

MIN_FRAMES = 2
"""Fewest frames a clip needs to be simulated (a reference has to move from one frame to the next)."""
CACHE_SIZE = 4096
_CACHE: OrderedDict[tuple[str, int, int], tuple[str, ...]] = OrderedDict()


def file_key(path: str | os.PathLike) -> tuple[str, int, int]:
    """(resolved path, mtime in ns, size): a file version."""
    p = Path(path).resolve()
    st = p.stat()
    return str(p), st.st_mtime_ns, st.st_size


def check_loaded(motion: HOIMotion, path: str | os.PathLike) -> HOIMotion:
    """``motion`` (as read from ``path``, before any preparation) when valid; else ``ValidationError``.

    The findings of each file version are cached, so a file is validated once per process.
    """
    try:
        key = file_key(path)
    except OSError:
        key = None
    problems = _CACHE.get(key) if key is not None else None
    if problems is None:
        problems = tuple(validate_motion(motion, label=str(path), min_frames=MIN_FRAMES))
        if key is not None:
            _CACHE[key] = problems
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    elif key is not None:
        _CACHE.move_to_end(key)
    if problems:
        raise ValidationError(list(problems))
    return motion


def known_valid(path: str | os.PathLike) -> bool:
    """Whether this version of ``path`` was validated already and passed."""
    try:
        return _CACHE.get(file_key(path)) == ()
    except OSError:
        return False


def clear_cache() -> None:
    _CACHE.clear()
