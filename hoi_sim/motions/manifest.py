"""Motion selection: a motion file, a folder of them, or a *manifest* that labels clips with an action subset.

A manifest is YAML or CSV; each clip row names a motion file (relative paths are relative to the manifest) and its
``action`` label, ``subject`` and ``object``:

YAML (``schema_version: 1``)::

    schema_version: 1
    clips:
      - {path: sub2_largetable_000.pt, action: lift_table, subject: sub2, object: largetable}

CSV (header required; extra columns are ignored)::

    path,action,subject,object
    sub2_largetable_000.pt,lift_table,sub2,largetable

``resolve_motions(path, subset)`` returns the clips of one action subset (all clips when ``subset`` is None);
``load_clip`` reads one as a ``HOIMotion`` (``.npz``) or converts it from InterMimic (``.pt``);
``write_manifest(clips, path)`` writes clips as a manifest (``hoi-sim manifest``), atomically.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from hoi_sim.errors import InputError
from hoi_sim.io_utils import write_text_atomic

if TYPE_CHECKING:
    from hoi_sim.motions.schema import HOIMotion

MANIFEST_SUFFIXES = (".yaml", ".yml", ".csv")
MOTION_SUFFIXES = (".npz", ".pt")
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ClipEntry:
    """One clip: its file and labels (None when unknown), and how ``load_clip`` prepares it by default (grounding
    and the penetration fix, ``motions.reference.prepare_reference``)."""

    path: Path
    action: str | None = None
    subject: str | None = None
    object: str | None = None
    ground: bool = True
    fix_penetration: bool = True

    @property
    def name(self) -> str:
        return self.path.stem


def _entry_from_file(path: Path) -> ClipEntry:
    """Labels of a lone motion file: from the ``.npz`` meta, or the ``sub{N}_{object}_{idx}.pt`` name."""
    if path.suffix == ".npz":
        from hoi_sim.motions import read_meta

        meta = read_meta(path)
        return ClipEntry(path, *(str(meta[k]) if meta.get(k) else None for k in ("action", "subject", "object_name")))
    parts = path.stem.split("_")
    if len(parts) >= 3:
        return ClipEntry(path, None, parts[0], parts[-2])
    return ClipEntry(path)


def _rows_yaml(path: Path) -> list[dict]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("clips"), list):
        raise InputError(f"{path}: a motion manifest needs a 'clips' list")
    version = data.get("schema_version", MANIFEST_VERSION)
    if version != MANIFEST_VERSION:
        raise InputError(f"{path}: manifest schema_version {version} is not supported (expected {MANIFEST_VERSION})")
    return data["clips"]


def _rows_csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise InputError(f"{path}: a CSV manifest needs a header with a 'path' column")
        return list(reader)


def read_manifest(path: str | os.PathLike) -> list[ClipEntry]:
    """All clips of a YAML/CSV manifest; ``InputError`` naming the row for a missing field or file."""
    path = Path(path)
    rows = _rows_csv(path) if path.suffix == ".csv" else _rows_yaml(path)
    out = []
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not row.get("path"):
            raise InputError(f"{path}: clip {i} has no 'path'")
        clip = Path(str(row["path"]))
        clip = clip if clip.is_absolute() else path.parent / clip
        if not clip.is_file():
            raise InputError(f"{path}: clip {i}: {clip} does not exist")
        if clip.suffix not in MOTION_SUFFIXES:
            raise InputError(f"{path}: clip {i}: {clip.name} is not a motion file ({'/'.join(MOTION_SUFFIXES)})")

        def label(key: str, row: dict = row) -> str | None:
            v = row.get(key)
            return None if v is None or str(v).strip() == "" else str(v).strip()

        out.append(ClipEntry(clip, label("action"), label("subject"), label("object")))
    if not out:
        raise InputError(f"{path}: the manifest lists no clips")
    return out


def list_clips(path: str | os.PathLike) -> list[ClipEntry]:
    """Clips of a motion file, a folder (its ``.npz``/``.pt`` files, sorted) or a manifest."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in MOTION_SUFFIXES and p.is_file())
        if not files:
            raise InputError(f"{path}: the folder holds no motion files ({'/'.join(MOTION_SUFFIXES)})")
        return [_entry_from_file(p) for p in files]
    if path.suffix in MANIFEST_SUFFIXES:
        return read_manifest(path)
    if path.suffix in MOTION_SUFFIXES:
        return [_entry_from_file(path)]
    raise InputError(f"{path}: not a motion file, folder or manifest ({'/'.join(MOTION_SUFFIXES + MANIFEST_SUFFIXES)})")


def subsets(clips: list[ClipEntry]) -> list[str]:
    """Sorted distinct action labels."""
    return sorted({c.action for c in clips if c.action})


def resolve_motions(path: str | os.PathLike, subset: str | None = None) -> list[ClipEntry]:
    """The clips of ``path`` whose action is ``subset`` (all clips when ``subset`` is None or empty)."""
    clips = list_clips(path)
    if not subset:
        return clips
    chosen = [c for c in clips if c.action == subset]
    if not chosen:
        known = subsets(clips)
        raise InputError(f"{path}: no clip has action {subset!r}; known actions: {known or 'none (no labels)'}")
    return chosen


def read_clip(entry: ClipEntry | str | os.PathLike, objects_dir: str | os.PathLike | None = None) -> HOIMotion:
    """One clip as stored (``.npz``, or converted from InterMimic ``.pt``), validated once per file version
    (``motions.checked``: ``ValidationError`` naming the file and field), not yet prepared (see :func:`load_clip`)."""
    from hoi_sim.motions import from_intermimic, load_motion
    from hoi_sim.motions.checked import check_loaded

    entry = entry if isinstance(entry, ClipEntry) else _entry_from_file(Path(entry))
    if entry.path.suffix == ".npz":
        motion = load_motion(entry.path)
    else:
        try:
            motion = from_intermimic(entry.path, objects_dir)
        except InputError as exc:
            if "frame 0" not in str(exc):
                raise
            motion = from_intermimic(entry.path, objects_dir, drop_frames=(0,))
    return check_loaded(motion, entry.path)


def check_clips(clips: list[ClipEntry], objects_dir: str | os.PathLike | None = None) -> None:
    """Validate every clip (files validated before in this process are skipped): a bad clip is refused before any
    of them is prepared or simulated."""
    from hoi_sim.motions.checked import known_valid

    for c in clips:
        if not known_valid(c.path):
            read_clip(c, objects_dir)


def load_clip(entry: ClipEntry | str | os.PathLike, objects_dir: str | os.PathLike | None = None, *,
              ground: bool | None = None, fix_penetration: bool | None = None) -> HOIMotion:
    """Read one clip as a ``HOIMotion``, validated (once per file version, ``motions.checked``: ``ValidationError``
    naming the file and field); manifest labels fill in a missing ``action``/``subject`` in its meta.

    ``.pt`` files are converted with ``from_intermimic`` (frame 0 dropped when it is the all-zero frame that
    OMOMO_retarget files carry); ``objects_dir`` holds their meshes (default: an ``objects`` folder nearby).
    ``ground``: put the clip's stance feet on the floor (``motions.grounding.ground_motion``); ``fix_penetration``:
    then lift the object out of the floor, let touching hands follow it and move hands and fingers out of the
    object (``motions.penetration``; needs the object's coacd hulls, cached). What each did is in
    ``meta["provenance"]["grounding"]`` / ``["penetration"]``. None = the entry's setting (on unless a job's
    ``motions.ground`` / ``motions.fix_penetration`` turned it off).
    """
    from hoi_sim.motions.reference import prepare_reference

    entry = entry if isinstance(entry, ClipEntry) else _entry_from_file(Path(entry))
    ground = entry.ground if ground is None else ground
    fix_penetration = entry.fix_penetration if fix_penetration is None else fix_penetration
    motion = read_clip(entry, objects_dir)
    for key, value in (("action", entry.action), ("subject", entry.subject)):
        if value and not motion.meta.get(key):
            motion.meta[key] = value
    motion, _ = prepare_reference(motion, ground=ground, fix_penetration=fix_penetration)
    return motion


MANIFEST_COLUMNS = ("path", "action", "subject", "object")


def _manifest_path(clip: Path, folder: Path) -> str:
    """A clip's path as a manifest stores it: relative to the manifest's folder when the clip lies below it (the
    manifest then moves with its clips), absolute otherwise."""
    clip = clip.resolve()
    try:
        return clip.relative_to(folder.resolve()).as_posix()
    except ValueError:
        return str(clip)


def manifest_text(clips: list[ClipEntry], path: str | os.PathLike) -> str:
    """The text of a manifest at ``path`` listing ``clips`` (YAML or CSV by its suffix, module docstring); labels
    that are None stay empty (``null`` in YAML). ``InputError`` for another suffix or no clips."""
    path = Path(path)
    if path.suffix not in MANIFEST_SUFFIXES:
        raise InputError(f"{path}: a manifest is written as {'/'.join(MANIFEST_SUFFIXES)}")
    if not clips:
        raise InputError(f"{path}: no clips to write")
    rows = [{"path": _manifest_path(c.path, path.parent), "action": c.action, "subject": c.subject,
             "object": c.object} for c in clips]
    if path.suffix != ".csv":
        return yaml.safe_dump({"schema_version": MANIFEST_VERSION, "clips": rows}, sort_keys=False)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    return buf.getvalue()


def write_manifest(clips: list[ClipEntry], path: str | os.PathLike) -> Path:
    """Write ``clips`` as a manifest at ``path`` (:func:`manifest_text`), atomically (temp file, then rename);
    it reads back with :func:`read_manifest`. Returns the path."""
    path = Path(path)
    write_text_atomic(path, manifest_text(clips, path))
    return path
