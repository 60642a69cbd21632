"""How a reference clip is prepared at load, for training, eval, replay and ``convert --ground``: grounding
(:mod:`hoi_sim.motions.grounding`), then the penetration fix (:mod:`hoi_sim.motions.penetration`) on the object's
convex parts as the simulator builds them; and the lines that say what each step did."""

from __future__ import annotations

from hoi_sim.motions import grounding, penetration
from hoi_sim.motions.grounding import GroundingConfig
from hoi_sim.motions.penetration_geometry import PenetrationConfig
from hoi_sim.motions.schema import HOIMotion
from hoi_sim.objects.hulls import object_hulls


def object_hulls_of(motion: HOIMotion) -> list:
    """The object's convex parts as the simulator builds them by default (coacd, ``objects.hulls`` defaults:
    Table 7's 64 hulls; cached on disk by mesh hash, ~30 s per new mesh)."""
    return object_hulls(motion.obj_vertices, motion.obj_faces, name=str(motion.meta.get("object_name", motion.name)))


def prepare_reference(motion: HOIMotion, *, ground: bool = True, fix_penetration: bool = True,
                      hulls: list | None = None, cfg: GroundingConfig | None = None,
                      pen_cfg: PenetrationConfig | None = None) -> tuple[HOIMotion, list[str]]:
    """What clips go through at load: ``motions.grounding.ground_motion``, then
    ``motions.penetration.resolve_penetration`` (object out of the floor, hands following it, hands and fingers out
    of the object).

    Args:
        motion: the clip as read. ground / fix_penetration: the two steps (each can be switched off).
        hulls: the object's convex parts (default :func:`object_hulls_of`). cfg / pen_cfg: thresholds.

    Returns:
        The prepared clip and one line per step that ran (what it did).
    """
    lines: list[str] = []
    if ground:
        motion, report = grounding.ground_motion(motion, cfg)
        lines.append(report.line())
    if fix_penetration:
        motion, pen = penetration.resolve_penetration(
            motion, hulls if hulls is not None else object_hulls_of(motion), pen_cfg)
        lines.append(pen.line())
    return motion, lines


def reference_lines(motion: HOIMotion) -> list[str]:
    """The lines of what grounding and the penetration fix did to ``motion`` (from its provenance; [] if neither)."""
    reports = (grounding.report_of(motion), penetration.report_of(motion))
    return [r.line() for r in reports if r is not None]
