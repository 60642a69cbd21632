"""Static / dynamic object from the motion (Table 7's fixed masses depend on it)."""

from __future__ import annotations

import numpy as np

from hoi_sim.envs.toy import toy_motion
from hoi_sim.motions.library import MotionLibrary
from hoi_sim.motions.object_kind import STATIC_MAX_TRANSLATION_M, object_displacement, object_motion_kind


def _with_object_path(m, pos):  # noqa: ANN001, ANN202
    m.obj_pos = np.asarray(pos, np.float32)
    m.obj_quat = np.tile(np.array([1.0, 0, 0, 0], np.float32), (len(pos), 1))
    return m


def test_displacement_threshold_decides() -> None:
    t = 30
    still = _with_object_path(toy_motion(t, seed=0, name="still"), np.zeros((t, 3)) + [1.0, 0.0, 0.4])
    pos = np.zeros((t, 3)) + [1.0, 0.0, 0.4]
    pos[:, 0] += np.linspace(0, 0.9 * STATIC_MAX_TRANSLATION_M, t)
    nudged = _with_object_path(toy_motion(t, seed=0, name="nudged"), pos)
    pos2 = pos.copy()
    pos2[:, 2] += np.linspace(0, 0.3, t)
    lifted = _with_object_path(toy_motion(t, seed=0, name="lifted"), pos2)
    assert object_motion_kind(still) == "static" and object_motion_kind(nudged) == "static"
    assert object_motion_kind(lifted) == "dynamic"
    assert object_displacement(lifted)[0] > 0.3
    lifted.meta = {**lifted.meta, "mass_mode": "static"}  # annotated static wins
    assert object_motion_kind(lifted) == "static"


def test_rotation_threshold_decides() -> None:
    t = 20
    m = _with_object_path(toy_motion(t, seed=1, name="turned"), np.zeros((t, 3)))
    ang = np.radians(np.linspace(0, 30, t))
    m.obj_quat = np.stack([np.cos(ang / 2), 0 * ang, 0 * ang, np.sin(ang / 2)], -1).astype(np.float32)
    assert abs(object_displacement(m)[1] - 30.0) < 1e-3 and object_motion_kind(m) == "dynamic"


def test_library_uses_the_rule() -> None:
    t = 25
    still = _with_object_path(toy_motion(t, seed=0, name="s"), np.zeros((t, 3)) + [1.0, 0, 0.4])
    moving = toy_motion(t, seed=1, name="m")
    lib = MotionLibrary([still, moving])
    expect = ["static", object_motion_kind(moving)]
    assert lib.mass_modes == expect
