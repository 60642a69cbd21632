"""What each action subset of a manifest or folder holds: clips, objects, subjects (skeletons) and seconds
(``hoi-sim subsets``).

Objects and skeletons are counted by content, as the simulation groups them (``motions.assets``: an object is its
mesh, scale and mass mode; a skeleton its bone offsets within ``SKELETON_MATCH_M``), so two meshes under one name
count twice and one subject recorded twice counts once. ``subjects`` lists the clips' subject labels (manifest or
``.npz`` meta), which may be absent; ``skeletons`` counts the distinct bone-offset sets.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from hoi_sim.motions.assets import group_assets
from hoi_sim.motions.manifest import ClipEntry, read_clip

ALL = "(all)"
"""Action of the row that pools every clip."""
UNLABELLED = "(none)"
"""Action shown for clips without an action label."""


@dataclass(frozen=True)
class SubsetSummary:
    """One action subset.

    action: its label (``ALL`` for every clip, ``UNLABELLED`` for clips without one) · clips: clip names ·
    objects: ``name#id`` per distinct object (id: ``motions.assets.object_key``) · subjects: distinct subject
    labels · skeletons: distinct skeleton ids · seconds: summed clip durations ((frames − 1) / fps, s).
    """

    action: str
    clips: tuple[str, ...]
    objects: tuple[str, ...]
    subjects: tuple[str, ...]
    skeletons: tuple[str, ...]
    seconds: float


@dataclass(frozen=True)
class _ClipInfo:
    entry: ClipEntry
    name: str
    object: str
    skeleton: str
    subject: str | None
    seconds: float


def _clip_infos(clips: list[ClipEntry], objects_dir: str | os.PathLike | None) -> list[_ClipInfo]:
    """Read every clip (validated, ``manifest.read_clip``) and identify its assets across all of them."""
    motions = [read_clip(c, objects_dir) for c in clips]
    groups, clip_group = group_assets(motions, [c.name for c in clips])
    out = []
    for c, m, g in zip(clips, motions, clip_group):
        grp = groups[g]
        name = c.object or str(m.meta.get("object_name") or "object")
        subject = c.subject or (str(m.meta.get("subject")) if m.meta.get("subject") else None)
        out.append(_ClipInfo(c, c.name, f"{name}#{grp.object}", grp.skeleton, subject,
                             (m.num_frames - 1) / float(m.fps)))
    return out


def _summary(action: str, infos: list[_ClipInfo]) -> SubsetSummary:
    def distinct(xs: Iterable[str | None]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(x for x in xs if x))

    return SubsetSummary(action, tuple(i.name for i in infos), distinct(i.object for i in infos),
                         distinct(i.subject for i in infos), distinct(i.skeleton for i in infos),
                         float(sum(i.seconds for i in infos)))


def summarize_subsets(clips: list[ClipEntry], objects_dir: str | os.PathLike | None = None
                      ) -> list[SubsetSummary]:
    """One summary per action label (sorted; unlabelled clips last, as ``UNLABELLED``), then one pooling every
    clip (``ALL``). Every clip is read (a bad clip is an error naming it); ``objects_dir`` holds the meshes of
    InterMimic ``.pt`` clips (default: an ``objects`` folder nearby)."""
    infos = _clip_infos(clips, objects_dir)
    actions = sorted({c.action for c in clips if c.action})
    out = [_summary(a, [i for i in infos if i.entry.action == a]) for a in actions]
    rest = [i for i in infos if not i.entry.action]
    if rest:
        out.append(_summary(UNLABELLED, rest))
    out.append(_summary(ALL, infos))
    return out
