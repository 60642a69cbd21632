"""Grounding (hoi_sim.motions.grounding): the stance-foot rule on built clips, and on shared clips when present."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hoi_sim.humanoid.kinematics import forward_kinematics
from hoi_sim.motions.grounding import (
    GroundingConfig,
    foot_heights,
    foot_speeds,
    ground_motion,
    object_lowest_z,
    per_frame_correction,
    report_of,
    stance_mask,
)
from hoi_sim.motions.schema import HOIMotion, make_motion
from hoi_sim.motions.synthetic import synthetic_motion
from hoi_sim.motions.validate import validate_motion
from hoi_sim.sim.humanoid_spec import standing_root_height
from hoi_sim.skeleton import NUM_BODIES, NUM_DOFS, neutral_offsets

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FPS = 30.0
MM = 1e-3


def _standing_clip(T: int = 60, lift: float = 0.0, jump: tuple[int, int] | None = None,
                   apex: float = 0.3, dip_frame: int | None = None) -> HOIMotion:
    """The neutral humanoid in the zero pose (both foot boxes flat on the floor), drifting forward at 0.05 m/s,
    with a box held in front; ``lift`` raises every frame, ``jump`` = (first, last) frame of a parabolic jump
    of height ``apex``; ``dip_frame`` pushes that one frame 4 cm into the floor (a glitch)."""
    t = np.arange(T) / FPS
    z = np.full(T, standing_root_height() + lift)
    if jump is not None:
        a, b = jump
        s = (np.arange(T) - a) / (b - a)
        inside = (s > 0) & (s < 1)
        z[inside] += 4 * apex * s[inside] * (1 - s[inside])
    if dip_frame is not None:
        z[dip_frame] -= 0.04
    root_pos = np.stack([0.05 * t, np.zeros(T), z], axis=1)
    root_quat = np.tile([1.0, 0.0, 0.0, 0.0], (T, 1))
    dof = np.zeros((T, NUM_DOFS))
    f64 = torch.float64
    bp, bq = forward_kinematics(torch.as_tensor(root_pos, dtype=f64), torch.as_tensor(root_quat, dtype=f64),
                                torch.as_tensor(dof, dtype=f64), neutral_offsets())
    half = 0.15
    verts = np.array([[x, y, w] for x in (-half, half) for y in (-half, half) for w in (-half, half)])
    faces = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                      [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    obj_pos = root_pos + np.array([0.45, 0.0, 0.1])
    meta = {"fps": FPS, "name": "standing", "object_name": "box", "mass_mode": "dynamic", "source": "test",
            "action": "stand", "subject": "neutral", "provenance": {}, "skeleton": {"source": "neutral"}}
    return make_motion(meta, root_pos=root_pos, root_quat=root_quat, dof_pos=dof, body_pos=bp.numpy(),
                       body_quat=bq.numpy(), obj_pos=obj_pos, obj_quat=root_quat,
                       contact_label=np.zeros((T, NUM_BODIES), np.int8), skeleton_offsets=neutral_offsets(),
                       obj_vertices=verts, obj_faces=faces)


def _rest() -> np.ndarray:
    """[2] foot heights (m) of the standing clip: the neutral humanoid's right foot box sits 4.9 mm higher."""
    m = _standing_clip(T=2)
    return foot_heights(m.body_pos, m.body_quat, m.skeleton_offsets)[0]


REST = float(np.median(_rest()))
"""Median stance-foot height (m) of the standing clip before any lift."""


def test_standing_clip_has_its_feet_on_the_floor() -> None:
    m = _standing_clip()
    h = foot_heights(m.body_pos, m.body_quat, m.skeleton_offsets)
    np.testing.assert_allclose(h, np.broadcast_to(_rest(), h.shape), atol=1e-6)
    assert h.min() == pytest.approx(0.0, abs=1e-6) and h.max() < 0.006
    assert stance_mask(h, foot_speeds(m.body_lin_vel)).all()


CONSTANT = GroundingConfig(per_frame=False)
"""The constant-shift rule alone (steps 1-3)."""


def test_lifted_clip_comes_back_to_the_floor() -> None:
    m = _standing_clip(lift=0.05)
    g, rep = ground_motion(m, CONSTANT)
    assert rep.dz_m == pytest.approx(-0.05 - REST, abs=1e-5)
    assert rep.rule == "stance median"
    assert rep.median_before_m == pytest.approx(0.05 + REST, abs=1e-5)
    assert abs(rep.median_after_m) < 1e-5
    h = foot_heights(g.body_pos, g.body_quat, g.skeleton_offsets)
    np.testing.assert_allclose(np.median(h, axis=1), 0.0, atol=1e-5)  # one foot 2.45 mm below, one above
    assert g.meta["provenance"]["grounding"]["dz_m"] == pytest.approx(-0.05 - REST, abs=1e-4)
    assert "grounding" not in m.meta["provenance"]  # the input is not modified
    np.testing.assert_array_equal(m.body_pos, _standing_clip(lift=0.05).body_pos)


def test_per_frame_contact_puts_the_lowest_stance_foot_on_the_floor() -> None:
    m = _standing_clip(lift=0.05)
    g, rep = ground_motion(m)  # default: constant shift + per-frame contact
    assert rep.dz_m == pytest.approx(-0.05 - REST, abs=1e-5)
    assert rep.per_frame_min_m == pytest.approx(REST, abs=1e-5) == pytest.approx(rep.per_frame_max_m, abs=1e-5)
    h = foot_heights(g.body_pos, g.body_quat, g.skeleton_offsets)
    np.testing.assert_allclose(h.min(axis=1), 0.0, atol=1e-5)  # the left foot stands on the floor
    assert abs(rep.lowest_after_m) < 1e-5
    assert validate_motion(g) == []


def test_per_frame_correction_rule() -> None:
    T = 10
    heights = np.full((T, 2), 0.01)
    heights[:, 1] = 0.02
    heights[3, 0] = -0.005
    stance = np.ones((T, 2), bool)
    stance[5:8] = False  # both feet off the ground: interpolate between frames 4 and 8
    heights[8, 0] = 0.0
    r = per_frame_correction(heights, stance, GroundingConfig(per_frame_sigma=0.0, per_frame_max_m=0.008))
    assert r[0] == pytest.approx(-0.008)  # -0.01 clipped to the 8 mm bound
    assert r[3] == pytest.approx(0.005)
    np.testing.assert_allclose(r[4:9], np.linspace(-0.008, 0.0, 5))  # clipped, then interpolated


def test_relative_human_object_pose_is_exact() -> None:
    m = synthetic_motion(num_frames=40)
    g, rep = ground_motion(m)
    assert abs(rep.dz_m) > 0.01  # the synthetic clip is not on the floor: grounding moves it
    rel_before = m.body_pos.astype(np.float64) - m.obj_pos[:, None].astype(np.float64)
    rel_after = g.body_pos.astype(np.float64) - g.obj_pos[:, None].astype(np.float64)
    np.testing.assert_allclose(rel_after, rel_before, rtol=0, atol=1e-6)
    np.testing.assert_allclose(g.root_pos - g.obj_pos, m.root_pos - m.obj_pos, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(g.body_pos[..., :2], m.body_pos[..., :2])
    np.testing.assert_array_equal(g.obj_pos[..., :2], m.obj_pos[..., :2])
    shift = g.obj_pos[:, 2].astype(np.float64) - m.obj_pos[:, 2]
    np.testing.assert_allclose(g.body_pos[..., 2] - m.body_pos[..., 2], np.broadcast_to(shift[:, None], (40, 52)),
                               rtol=0, atol=1e-6)  # one vertical shift per frame, the same for every body
    for name in ("root_quat", "body_quat", "obj_quat", "dof_pos", "dof_vel", "root_ang_vel", "body_ang_vel",
                 "obj_ang_vel", "contact_label", "skeleton_offsets", "ig_body", "ig_body_offset", "ig_obj_point",
                 "ig_active", "obj_vertices", "obj_faces"):
        np.testing.assert_array_equal(getattr(g, name), getattr(m, name), err_msg=name)
    rel_vel = g.body_lin_vel - g.obj_lin_vel[:, None]
    np.testing.assert_allclose(rel_vel, m.body_lin_vel - m.obj_lin_vel[:, None], rtol=0, atol=1e-5)
    assert validate_motion(g) == []


def test_jump_frames_do_not_pull_the_clip_down() -> None:
    m = _standing_clip(T=90, lift=0.05, jump=(30, 55))
    h = foot_heights(m.body_pos, m.body_quat, m.skeleton_offsets)
    stance = stance_mask(h, foot_speeds(m.body_lin_vel))
    assert not stance[33:53].any()  # airborne frames (slow at the apex, but high) are not stance
    assert stance[:29].all() and stance[57:].all()
    for cfg in (CONSTANT, GroundingConfig()):
        g, rep = ground_motion(m, cfg)
        assert rep.dz_m == pytest.approx(-0.05 - REST, abs=1e-4)
        assert rep.stance_frames["L"] < 90 - 20
        h_after = foot_heights(g.body_pos, g.body_quat, g.skeleton_offsets)
        assert np.abs(h_after[stance]).max() < 0.006
        np.testing.assert_allclose(h_after[42], h[42] - 0.05, atol=0.003)  # the apex stays where it was


def test_a_single_low_frame_does_not_decide() -> None:
    m = _standing_clip(lift=0.05, dip_frame=20)
    g, rep = ground_motion(m, CONSTANT)
    # the clip's lowest point alone would give -0.09; the median of the two feet's heights moves by at most
    # half their 4.9 mm difference
    assert rep.dz_m == pytest.approx(-0.05 - REST, abs=3e-3)
    assert rep.median_after_m == pytest.approx(0.0, abs=1e-4)
    g, rep = ground_motion(m)
    assert rep.dz_m == pytest.approx(-0.05 - REST, abs=3e-3)
    h = foot_heights(g.body_pos, g.body_quat, g.skeleton_offsets).min(axis=1)
    assert np.abs(np.delete(h, 20)).max() < 1e-4  # the glitch is not followed: every other frame on the floor


def test_floor_rule_lifts_a_clip_whose_feet_dig_in() -> None:
    m = _standing_clip(T=60, lift=0.05)
    # one foot stands 30 mm lower than the other: the median puts it 15 mm below the floor
    m.body_pos[:, [3, 4], 2] -= 0.03  # L_Ankle, L_Toe
    cfg = GroundingConfig(band_m=0.04, per_frame=False)
    g, rep = ground_motion(m, cfg)
    assert rep.rule == "stance median + floor rule"
    assert 0.0 < rep.median_after_m <= cfg.median_cap_m + 1e-9
    assert rep.low_after_m >= -cfg.floor_tol_m - 1e-6


def test_grounding_twice_moves_nothing() -> None:
    g, _ = ground_motion(synthetic_motion(num_frames=40), CONSTANT)
    assert abs(ground_motion(g, CONSTANT)[1].dz_m) < 1e-6
    g, _ = ground_motion(_standing_clip(T=90, lift=0.05, jump=(30, 55)))
    g2, _ = ground_motion(g)  # the constant part moves, the per-frame part brings the lowest foot back
    assert np.abs(g2.root_pos - g.root_pos).max() < 1e-4


def test_report_line_and_object_floor() -> None:
    m = _standing_clip(lift=0.05)
    g, rep = ground_motion(m)
    line = rep.line()
    assert f"dz {-(50 + REST * 1000):.1f} mm" in line and "stance frames L/R 60/60 of 60" in line
    assert "per-frame contact" in line
    low = object_lowest_z(g)
    assert low is not None and rep.obj_low_after_m == pytest.approx(float(low.min()), abs=1e-5)
    assert report_of(g) == rep or report_of(g).line() == line


def test_fast_feet_fall_back_to_the_low_percentile() -> None:
    m = _standing_clip(lift=0.05)
    m.body_lin_vel[:] = 1.0  # nothing is slow
    _, rep = ground_motion(m)
    assert rep.rule == "lowest-frames fallback"
    assert rep.dz_m == pytest.approx(-0.05, abs=1e-4)  # the 10th percentile: the lower (left) foot


SHARED_CLIPS = ("OMOMO_new/sub2_largetable_000.pt", "OMOMO_new/sub2_woodchair_003.pt",
                "OMOMO_retarget_sub8/sub8_plasticbox_000.pt")


@pytest.mark.shared_data
@pytest.mark.parametrize("rel", SHARED_CLIPS)
def test_shared_clip_stance_feet_on_the_floor(rel: str, objects_dir) -> None:
    from hoi_sim.motions.manifest import load_clip

    path = objects_dir.parent / rel
    if not path.exists():
        pytest.skip(f"{path} missing")
    raw = load_clip(path, objects_dir, ground=False, fix_penetration=False)
    h0 = foot_heights(raw.body_pos, raw.body_quat, raw.skeleton_offsets)
    stance = stance_mask(h0, foot_speeds(raw.body_lin_vel))
    g = load_clip(path, objects_dir, fix_penetration=False)
    h = foot_heights(g.body_pos, g.body_quat, g.skeleton_offsets)
    assert abs(float(np.median(h[stance]))) <= 10 * MM
    assert abs(g.meta["provenance"]["grounding"]["median_after_m"]) <= 10 * MM
    assert abs(float(np.median(np.where(stance, h, np.inf).min(axis=1)[stance.any(axis=1)]))) <= 2 * MM
    rel_before = raw.body_pos - raw.obj_pos[:, None]
    np.testing.assert_allclose(g.body_pos - g.obj_pos[:, None], rel_before, rtol=0, atol=1e-5)


def test_job_switches_reach_load_clip(tmp_path) -> None:
    from hoi_sim.motions import save_motion
    from hoi_sim.motions.manifest import load_clip
    from hoi_sim.train.job import clips_of, job_from_config

    path = save_motion(_standing_clip(lift=0.05), tmp_path / "standing.npz")
    off = job_from_config({"motions": {"path": str(path), "ground": False, "fix_penetration": False}})
    (entry,) = clips_of(off)
    assert not entry.ground and not entry.fix_penetration
    assert "grounding" not in load_clip(entry).meta["provenance"]
    on = job_from_config({"motions": {"path": str(path), "fix_penetration": False}})
    m = load_clip(clips_of(on)[0])
    assert report_of(m) is not None and abs(report_of(m).median_after_m) < 0.003
    assert "penetration" not in m.meta["provenance"]
