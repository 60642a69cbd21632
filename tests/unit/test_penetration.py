"""Penetration fix (hoi_sim.motions.penetration) on built clips with box hulls (no coacd)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hoi_sim.humanoid.kinematics import forward_kinematics
from hoi_sim.motions.grounding import _quat_to_matrix
from hoi_sim.motions.penetration import report_of, resolve_penetration
from hoi_sim.motions.penetration_geometry import PenetrationConfig, hand_spheres, smooth_keep_size
from hoi_sim.motions.schema import HOIMotion, make_motion
from hoi_sim.motions.validate import validate_motion
from hoi_sim.objects.hulls import box_hull
from hoi_sim.sim.humanoid_spec import standing_root_height
from hoi_sim.skeleton import BODY_INDEX, HANDS, NUM_BODIES, NUM_DOFS, body_ids, neutral_offsets

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FPS = 30.0
T = 20


def _clip(obj_pos: np.ndarray, half: np.ndarray) -> HOIMotion:
    """The neutral humanoid standing in the zero pose (arms out along ±y), a box of half extents ``half`` at
    ``obj_pos`` [3] on every frame."""
    root_pos = np.tile([0.0, 0.0, standing_root_height()], (T, 1))
    root_quat = np.tile([1.0, 0.0, 0.0, 0.0], (T, 1))
    dof = np.zeros((T, NUM_DOFS))
    f64 = torch.float64
    bp, bq = forward_kinematics(torch.as_tensor(root_pos, dtype=f64), torch.as_tensor(root_quat, dtype=f64),
                                torch.as_tensor(dof, dtype=f64), neutral_offsets())
    hull = box_hull(half)
    meta = {"fps": FPS, "name": "box_test", "object_name": "box", "mass_mode": "dynamic", "source": "test",
            "action": "", "subject": "neutral", "provenance": {}, "skeleton": {"source": "neutral"}}
    return make_motion(meta, root_pos=root_pos, root_quat=root_quat, dof_pos=dof, body_pos=bp.numpy(),
                       body_quat=bq.numpy(), obj_pos=np.tile(obj_pos, (T, 1)), obj_quat=root_quat,
                       contact_label=np.zeros((T, NUM_BODIES), np.int8), skeleton_offsets=neutral_offsets(),
                       obj_vertices=hull.vertices, obj_faces=hull.faces)


def _spheres_world(m: HOIMotion, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Frame-0 world centres [S,3] and radii [S] of the hand spheres of bodies ``names``."""
    body, centre, radius = hand_spheres(m.skeleton_offsets)
    keep = np.isin(body, body_ids(list(names)))
    rot = _quat_to_matrix(m.body_quat[0, body[keep]])
    return m.body_pos[0, body[keep]] + np.einsum("sij,sj->si", rot, centre[keep]), radius[keep]


LEFT = tuple(n for n in HANDS if n.startswith("L_"))


def test_smooth_keep_size_ramps_without_shrinking() -> None:
    x = np.zeros((21, 1))
    x[10] = 0.02
    x[12] = -0.01
    y = smooth_keep_size(x, 2)
    assert y[10, 0] >= 0.02 * 0.6 and (np.abs(y[[10, 12]]) > 0).all()
    assert np.all(y[:6] == 0) and np.all(y[17:] == 0)  # zero beyond the ramps
    np.testing.assert_allclose(smooth_keep_size(np.full((5, 2), 0.3), 2), 0.3)


def test_object_below_the_floor_is_lifted_and_far_hands_stay() -> None:
    half = np.array([0.15, 0.15, 0.15])
    m = _clip(np.array([0.6, 0.0, 0.12]), half)  # bottom 30 mm below the floor, hands far away
    g, rep = resolve_penetration(m, [box_hull(half)])
    assert rep.floor_before_m == pytest.approx(0.03, abs=1e-6)
    assert rep.floor_after_m <= PenetrationConfig().floor_tol_m + 1e-6
    np.testing.assert_allclose(g.obj_pos[:, 2], 0.12 + 0.029, atol=1e-5)
    np.testing.assert_array_equal(g.body_pos, m.body_pos)
    np.testing.assert_array_equal(g.dof_pos, m.dof_pos)
    assert rep.follow_frames == 0 and rep.hand_max_before_m == 0.0
    assert validate_motion(g) == []
    assert report_of(g).line() == rep.line() and "object in floor 30.0 -> 1.0 mm" in rep.line()


def test_a_touching_hand_follows_the_lift() -> None:
    centres, radii = _spheres_world(_clip(np.zeros(3), np.full(3, 0.1)), LEFT)
    top = float((centres[:, 2] - radii).min()) - 0.01  # 1 cm under the left palm
    bottom = -0.04  # 40 mm into the floor
    half = np.array([0.08, 0.08, (top - bottom) / 2])
    wrist = BODY_INDEX["L_Wrist"]
    m = _clip(np.array([*_clip(np.zeros(3), half).body_pos[0, wrist, :2], (top + bottom) / 2]), half)
    g, rep = resolve_penetration(m, [box_hull(half)])
    lift = 0.04 - PenetrationConfig().floor_tol_m
    np.testing.assert_allclose(g.obj_pos[:, 2] - m.obj_pos[:, 2], lift, atol=1e-5)
    # the left hand keeps its pose relative to the object; the right hand and the legs do not move
    np.testing.assert_allclose(g.body_pos[:, wrist] - g.obj_pos, m.body_pos[:, wrist] - m.obj_pos, atol=1e-3)
    q_err = 1 - np.abs(np.sum(g.body_quat[:, wrist] * m.body_quat[:, wrist], axis=-1))
    assert q_err.max() < 1e-5
    for name in ("R_Wrist", "L_Ankle", "Head", "L_Thorax"):
        np.testing.assert_array_equal(g.body_pos[:, BODY_INDEX[name]], m.body_pos[:, BODY_INDEX[name]])
    assert rep.follow_frames == T and rep.follow_max_m == pytest.approx(lift, abs=1e-6)
    assert 0 < rep.arm_max_rad < 0.5
    assert validate_motion(g) == []


def test_a_finger_inside_the_object_is_moved_out() -> None:
    ref = _clip(np.zeros(3), np.full(3, 0.1))
    tips, radii = _spheres_world(ref, ("L_Middle3",))
    k = int(np.argmax(tips[:, 1]))
    half = np.array([0.05, 0.05, 0.05])
    face = tips[k, 1] + radii[k] - 0.008  # the fingertip 8 mm into the box's -y face
    m = _clip(np.array([tips[k, 0], face + half[1], tips[k, 2]]), half)
    g, rep = resolve_penetration(m, [box_hull(half)])
    assert rep.hand_max_before_m == pytest.approx(0.008, abs=1e-3) and rep.worst_body.startswith("L_")
    assert rep.hand_max_after_m <= PenetrationConfig().tol_m + 1e-4
    assert rep.hand_frames_after == 0 and rep.finger_frames > 0
    np.testing.assert_array_equal(g.obj_pos, m.obj_pos)  # the object does not move (it is above the floor)
    changed = np.nonzero(np.abs(g.body_pos - m.body_pos).max(axis=(0, 2)) > 0)[0]
    assert set(changed) <= set(body_ids(list(LEFT)) + [BODY_INDEX["L_Shoulder"], BODY_INDEX["L_Elbow"]])
    assert validate_motion(g) == []
