"""What a clip needs simulated, by content: its skeleton and its object (mesh, scale, mass mode), never by name.

* **Skeleton**: the clip's bone offsets [52,3]. Clips whose offsets agree within :data:`SKELETON_MATCH_M` (float
  noise: the sub2 clips differ by 2e-7 m) share one skeleton, the first such clip's; its id is the sha256 of
  those offsets (float64), first 12 hex digits.
* **Object**: sha256 of the mesh (vertices as float64, faces as int64, object frame), its scale
  (``meta["object_scale"]``, 1 when absent: the stored vertices are already scaled) and its mass mode
  (``static`` / ``dynamic``, ``motions.object_kind``: Table 7's fixed masses depend on it).

An **asset group** is one (skeleton, object) pair: the clips a simulation built once can play. Two clips whose
object names agree but whose meshes differ are two objects (logged), and two names with one mesh are one object.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hoi_sim.motions.object_kind import object_motion_kind
from hoi_sim.motions.schema import HOIMotion

log = logging.getLogger(__name__)

SKELETON_MATCH_M = 1e-5
"""Bone offsets closer than this (m, every component) are one skeleton."""


def _sha(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.hexdigest()[:12]


def object_key(motion: HOIMotion) -> str:
    """Content id of the clip's object: mesh, scale and mass mode (module docstring)."""
    v = np.ascontiguousarray(motion.obj_vertices, dtype=np.float64)
    f = np.ascontiguousarray(motion.obj_faces, dtype=np.int64)
    scale = float(motion.meta.get("object_scale", 1.0))
    return _sha(v.tobytes(), f.tobytes(), f"{scale!r}|{object_motion_kind(motion)}".encode())


def skeleton_key(offsets: np.ndarray) -> str:
    """Content id of bone offsets [52,3] (sha256 of float64 values)."""
    return _sha(np.ascontiguousarray(offsets, dtype=np.float64).tobytes())


@dataclass(frozen=True)
class AssetGroup:
    """One (skeleton, object) pair of a library.

    skeleton: skeleton id · offsets [52,3] float64 (m, the group's first clip's) · object: object id ·
    object_name: the name of its first clip's object · mass_mode: ``static`` / ``dynamic`` ·
    first_clip: index of the group's first clip (its mesh: ``motions[first_clip].obj_vertices/obj_faces``).
    """

    skeleton: str
    offsets: np.ndarray
    object: str
    object_name: str
    mass_mode: str
    first_clip: int

    @property
    def label(self) -> str:
        return f"{self.object_name or 'object'}#{self.object} on skeleton #{self.skeleton}"


def group_assets(motions: Sequence[HOIMotion], names: Sequence[str] | None = None
                 ) -> tuple[list[AssetGroup], list[int]]:
    """The asset groups of ``motions`` (in order of first appearance) and each clip's group index.
    ``names`` label the clips in the log (default: their names)."""
    names = list(names) if names is not None else [m.name for m in motions]
    skeletons: list[tuple[str, np.ndarray]] = []
    groups: list[AssetGroup] = []
    index: dict[tuple[str, str], int] = {}
    by_name: dict[str, dict[str, int]] = {}  # object name → {object id: first clip}
    clip_group: list[int] = []
    for i, m in enumerate(motions):
        off = np.asarray(m.skeleton_offsets, np.float64)
        skel = next((s for s in skeletons if np.abs(s[1] - off).max() <= SKELETON_MATCH_M), None)
        if skel is None:
            skel = (skeleton_key(off), off)
            skeletons.append(skel)
        obj, name = object_key(m), str(m.meta.get("object_name", ""))
        seen = by_name.setdefault(name, {})
        if seen and obj not in seen:
            first_obj, first = next(iter(seen.items()))
            log.warning("clips %r and %r both name their object %r but hold different meshes (or mass modes): "
                        "simulated as two objects (#%s, #%s)", names[first], names[i], name, first_obj, obj)
        seen.setdefault(obj, i)
        key = (skel[0], obj)
        if key not in index:
            index[key] = len(groups)
            groups.append(AssetGroup(skel[0], skel[1], obj, name, object_motion_kind(m), i))
        clip_group.append(index[key])
    return groups, clip_group


def clip_asset_ids(motions: Sequence[HOIMotion]) -> list[tuple[str, str]]:
    """Per clip: (object id, skeleton id) as :func:`group_assets` identifies them over all of ``motions`` at once
    (pass every clip of a report together, so that skeletons equal within ``SKELETON_MATCH_M`` share one id)."""
    groups, clip_group = group_assets(motions)
    return [(groups[g].object, groups[g].skeleton) for g in clip_group]
