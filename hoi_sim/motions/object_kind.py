"""Static or dynamic object, decided from the motion itself (Table 7's fixed masses depend on it).

Rule: an object annotated static (``meta["mass_mode"] == "static"``, the annotation app's "static object") is
static. Otherwise it is static when, over the whole clip, its position stays within ``STATIC_MAX_TRANSLATION_M``
(5 cm) of its first-frame position and its orientation within ``STATIC_MAX_ROTATION_DEG`` (10°) of the first
frame's; else dynamic. 5 cm is about the reconstruction noise of a resting object in the shared clips; a carried,
pushed or tilted object moves well beyond it.
"""

from __future__ import annotations

import math

import numpy as np

from hoi_sim.motions.schema import HOIMotion

STATIC_MAX_TRANSLATION_M = 0.05
STATIC_MAX_ROTATION_DEG = 10.0


def object_displacement(motion: HOIMotion) -> tuple[float, float]:
    """(max translation from frame 0 in m, max rotation from frame 0 in degrees) of the clip's object."""
    pos = np.asarray(motion.obj_pos, np.float64)
    quat = np.asarray(motion.obj_quat, np.float64)
    trans = float(np.linalg.norm(pos - pos[:1], axis=-1).max()) if len(pos) else 0.0
    dots = np.abs(np.clip((quat * quat[:1]).sum(-1), -1.0, 1.0)) if len(quat) else np.ones(1)
    rot = float(np.degrees(2.0 * np.arccos(dots.min())))
    return trans, rot


def object_motion_kind(motion: HOIMotion, max_translation_m: float = STATIC_MAX_TRANSLATION_M,
                       max_rotation_deg: float = STATIC_MAX_ROTATION_DEG) -> str:
    """``static`` or ``dynamic`` by the module's rule."""
    if str(motion.meta.get("mass_mode", "")) == "static":
        return "static"
    trans, rot = object_displacement(motion)
    still = trans <= max_translation_m and rot <= max_rotation_deg and not math.isnan(trans + rot)
    return "static" if still else "dynamic"
