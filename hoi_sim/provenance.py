"""Where a result came from: the package version, the git commit of the source tree it was imported from (when that
tree is a git checkout) and the versions of the libraries that decide physics and learning.

A training run appends one entry per session (first start and every resume) to ``nn/provenance.json``;
``hoi-sim bench imitation`` and ``hoi-sim eval`` put the entry of their own process in their JSON. A deterministic
frame-0 rollout can change when the package changes (a contact flag that flips changes the observation), so a figure
is only reproducible with the code that made it.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from hoi_sim import __version__
from hoi_sim.io_utils import write_text_atomic

LIBRARIES = ("torch", "numpy", "mujoco", "mujoco-warp", "warp-lang", "rl-games")
"""Distributions whose versions are recorded (absent ones are recorded as null)."""

PROVENANCE_JSON = "provenance.json"


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def source_commit(root: Path | None = None) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git checkout that holds the imported package (``root``: its parent folder by
    default); dirty = tracked files differ from the commit. (None, None) for an installed wheel or without git."""
    root = root or Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():  # a folder in a checkout, or a file in a git worktree
        return None, None
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return None, None
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return commit, (None if status is None else bool(status))


def library_version(dist: str) -> str | None:
    """The installed version of distribution ``dist``, None when it is not installed."""
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def provenance() -> dict[str, Any]:
    """``{hoi_sim, commit, dirty, python, libraries: {dist: version | None}}`` of this process."""
    commit, dirty = source_commit()
    return {"hoi_sim": __version__, "commit": commit, "dirty": dirty, "python": platform.python_version(),
            "libraries": {d: library_version(d) for d in LIBRARIES}}


def record_session(folder: str | Path, **fields: Any) -> list[dict[str, Any]]:
    """Append this session's entry (``provenance()`` + the UTC start time + ``fields``, e.g. the epoch it starts
    from) to ``folder/provenance.json`` (written atomically) and return every entry. An unreadable file is kept
    aside as ``provenance.json.bad`` rather than lost."""
    path = Path(folder) / PROVENANCE_JSON
    entries: list[dict[str, Any]] = []
    if path.is_file():
        try:
            data = json.loads(path.read_text())
            entries = data if isinstance(data, list) else []
        except (OSError, ValueError):
            path.replace(path.with_suffix(".json.bad"))
    entries.append({"started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields, **provenance()})
    write_text_atomic(path, json.dumps(entries, indent=1) + "\n")
    return entries
