"""Metric functions against hand-computed values (paper Eq. 22–24, InterMimic success and object error)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hoi_sim.eval import metrics as M

IDENTITY = np.array([1.0, 0.0, 0.0, 0.0])
# 90° about +z (wxyz): x → y
ROT_Z90 = np.array([math.cos(math.pi / 4), 0.0, 0.0, math.sin(math.pi / 4)])


def test_mpjpe_hand_computed():
    ref = np.zeros((2, 3, 3))
    sim = ref.copy()
    sim[0, 0] = [0.003, 0.004, 0.0]  # 5 mm
    sim[1, 2] = [0.0, 0.0, 0.010]  # 10 mm
    # mean over 2 frames × 3 joints: (5 + 10) / 6 = 2.5 mm
    assert M.mpjpe(sim, ref) == pytest.approx(2.5)
    # joint subset {0}: frame 0 → 5 mm, frame 1 → 0 → 2.5 mm ; subset {2}: 5 mm
    assert M.mpjpe(sim, ref, joints=[0]) == pytest.approx(2.5)
    assert M.mpjpe(sim, ref, joints=[2]) == pytest.approx(5.0)
    assert math.isnan(M.mpjpe(np.zeros((0, 3, 3)), np.zeros((0, 3, 3))))
    with pytest.raises(ValueError):
        M.mpjpe(np.zeros((2, 3, 3)), np.zeros((2, 4, 3)))


def test_jitter_cubic_trajectory():
    fps = 30.0
    t = np.arange(10) / fps
    a = np.array([2.0, -1.0, 0.5])  # p(t) = a t³ → Δ³p / dt³ = 6a exactly
    pos = np.zeros((10, 2, 3))
    pos[:, 0] = t[:, None] ** 3 * a
    pos[:, 1] = 0.7  # a static joint: jitter 0
    expected_joint0 = 6 * np.linalg.norm(a)
    assert M.jitter(pos, fps) == pytest.approx(expected_joint0 / 2, rel=1e-9)
    assert M.jitter(pos, fps, joints=[0]) == pytest.approx(expected_joint0, rel=1e-9)
    # a quadratic (constant acceleration) has zero third difference
    quad = np.zeros((8, 1, 3))
    quad[:, 0, 2] = 4.9 * (np.arange(8) / fps) ** 2
    assert M.jitter(quad, fps) == pytest.approx(0.0, abs=1e-6)
    assert math.isnan(M.jitter(pos[:3], fps))


def test_jitter_alternating_noise():
    # p_t = ε(−1)^t along x: Δ³p_t = ±8ε, RMS 8ε, × fps³
    eps, fps = 0.001, 10.0
    pos = np.zeros((6, 1, 3))
    pos[:, 0, 0] = eps * (-1.0) ** np.arange(6)
    assert M.jitter(pos, fps) == pytest.approx(8 * eps * fps ** 3)


def _graph_motion():
    """Two frames, two bodies, two edges, hand-built so every gap is known."""
    body_pos = np.array([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
                         [[0.0, 0.0, 0.0], [1.0, 0.0, 0.1]]])
    body_quat = np.tile(IDENTITY, (2, 2, 1))
    obj_pos = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    obj_quat = np.stack([IDENTITY, ROT_Z90])
    ig_body = np.array([0, 1])
    ig_body_offset = np.array([[0.0, 0.0, 0.5], [0.0, 0.0, 0.0]])
    ig_obj_point = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    return body_pos, body_quat, obj_pos, obj_quat, ig_body, ig_body_offset, ig_obj_point


def test_contact_score_hand_built_graph():
    g = M.graph_gaps(*_graph_motion(), form="joint")
    # frame 0: edge 0 object point (1,0,1) − joint (0,0,0) → |.|² = 2 ; edge 1 (0,0,1) − (1,0,0) → 2
    # frame 1: object rotated 90° about z: edge 0 point (0,1,1) − (0,0,0) → 2 ; edge 1 (0,0,1) − (1,0,.1) → 1.81
    np.testing.assert_allclose(g[1, 0], [0.0, 1.0, 1.0], atol=1e-12)
    active = np.array([[True, False], [True, True]])
    assert M.contact_score(g, active) == pytest.approx(2 + 2 + 1.81)
    assert M.contact_mean_distance(g, active) == pytest.approx(
        1000 * (math.sqrt(2) * 2 + math.sqrt(1.81)) / 3)
    assert M.contact_score(g, np.zeros_like(active)) == 0.0
    assert math.isnan(M.contact_mean_distance(g, np.zeros_like(active)))


def test_contact_keypoint_form_uses_body_offset():
    g = M.graph_gaps(*_graph_motion(), form="keypoint")
    # edge 0 human end = joint + (0,0,0.5): frame 0 gap (1,0,1) − (0,0,.5) = (1,0,.5)
    np.testing.assert_allclose(g[0, 0], [1.0, 0.0, 0.5], atol=1e-12)
    with pytest.raises(ValueError):
        M.graph_gaps(*_graph_motion(), form="bogus")


CONTACT_BODIES = ("L_Elbow", "R_Wrist", "Head", "R_Knee", "L_Index3")


def contact_clip(push: float = 0.0, frames_per_edge: int = 6, seed: int = 0):
    """A synthetic ``HOIMotion`` built in contact: a subject skeleton (bones scaled 0.85–1.15) in random poses and one
    interaction-graph edge per body of ``CONTACT_BODIES``, active on its own block of frames, whose object point
    lies on that body's collision geom (from ``humanoid.geoms.scaled_geoms``: capsule side, box face, sphere) — pushed
    ``push`` m out along the surface normal. On an edge's frames the object is rigidly attached to its body."""
    import torch

    from hoi_sim import rotations as rot
    from hoi_sim.envs.toy import box_mesh
    from hoi_sim.humanoid.geoms import scaled_geoms
    from hoi_sim.humanoid.kinematics import forward_kinematics
    from hoi_sim.motions.schema import make_motion
    from hoi_sim.skeleton import BODY_INDEX, NUM_BODIES, NUM_DOFS, neutral_offsets

    rng = np.random.default_rng(seed)
    offsets = (neutral_offsets() * rng.uniform(0.85, 1.15, (NUM_BODIES, 1))).astype(np.float32)
    k, t = len(CONTACT_BODIES), len(CONTACT_BODIES) * frames_per_edge
    root_pos = rng.normal(0, 0.5, (t, 3)) + [0, 0, 1.0]
    root_quat = rng.normal(size=(t, 4))
    root_quat /= np.linalg.norm(root_quat, axis=-1, keepdims=True)
    dof = rng.normal(0, 0.3, (t, NUM_DOFS))
    tt = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64)  # noqa: E731
    bp, bq = (x.numpy() for x in forward_kinematics(tt(root_pos), tt(root_quat), tt(dof), tt(offsets)))
    geoms = scaled_geoms(offsets)
    ig_body, points = [], []
    for name in CONTACT_BODIES:
        b = BODY_INDEX[name]
        g = geoms[b][0]
        if g.type == "capsule":
            a0, a1 = np.asarray(g.fromto[:3]), np.asarray(g.fromto[3:])
            n = np.cross(a1 - a0, [0.3, 0.2, 1.0])
            n /= np.linalg.norm(n)
            p = a0 + 0.3 * (a1 - a0) + g.size[0] * n
        elif g.type == "box":
            n = np.array([0.0, -1.0, 0.0])
            p = np.asarray(g.pos) + g.size[1] * n + [0.3 * g.size[0], 0.0, -0.5 * g.size[2]]
        else:
            n = np.array([0.6, 0.0, 0.8])
            p = np.asarray(g.pos) + g.size[0] * n
        ig_body.append(b)
        points.append(p + push * n)
    active = np.zeros((t, k), bool)
    obj_pos, obj_quat = np.zeros((t, 3)), np.zeros((t, 4))
    for e, b in enumerate(ig_body):
        sl = slice(e * frames_per_edge, (e + 1) * frames_per_edge)
        active[sl, e] = True
        obj_pos[sl], obj_quat[sl] = bp[sl, b], bq[sl, b]
    v, f = box_mesh()
    graph = {"ig_body": np.array(ig_body), "ig_body_offset": np.zeros((k, 3)),
             "ig_obj_point": np.array(points), "ig_active": active}
    assert np.allclose(rot.quat_normalize(tt(obj_quat)).numpy(), obj_quat)
    return make_motion({"fps": 30.0, "name": f"contact{push}"}, root_pos=root_pos, root_quat=root_quat,
                       dof_pos=dof, body_pos=bp, body_quat=bq, obj_pos=obj_pos, obj_quat=obj_quat,
                       contact_label=np.zeros((t, NUM_BODIES)), skeleton_offsets=offsets, obj_vertices=v,
                       obj_faces=f, graph=graph)


def test_surface_contact_of_a_reference_built_in_contact_is_near_zero():
    from hoi_sim.errors import InputError
    from hoi_sim.eval.evaluate import EvalConfig, reference_metrics

    assert EvalConfig().form == "surface"
    with pytest.raises(InputError):
        EvalConfig(form="surfaces")
    clip = contact_clip()
    m = reference_metrics(clip)  # the default form: surface, on the clip's own skeleton
    assert m["contact_mm"] < 1.0 and m["contact_sum_m2"] < len(clip.ig_active) * 1e-6
    # geoms derived from the pose give the same, and the joint form sees the joint centres centimetres away
    g = M.graph_gaps(clip.body_pos, clip.body_quat, clip.obj_pos, clip.obj_quat, clip.ig_body,
                     clip.ig_body_offset, clip.ig_obj_point)
    assert M.contact_mean_distance(g, clip.ig_active) < 1.0
    assert reference_metrics(clip, "joint")["contact_mm"] > 10.0
    # pushed 15 mm out along each surface normal: the surface contact reads the displacement
    pushed = reference_metrics(contact_clip(push=0.015))
    assert pushed["contact_mm"] == pytest.approx(15.0, abs=0.05)
    n = int(clip.ig_active.sum())
    assert pushed["contact_sum_m2"] == pytest.approx(n * 0.015 ** 2, rel=1e-3)


def test_rollout_contact_reads_the_geoms_off_the_simulated_pose():
    """A rollout that replays the pushed clip exactly: geoms derived from the recorded (float32) sim pose."""
    from hoi_sim.eval.evaluate import rollout_metrics
    from hoi_sim.eval.rollout import ClipRollout

    clip = contact_clip(push=0.01)
    keys = ("root_pos", "root_quat", "dof_pos", "body_pos", "body_quat", "obj_pos", "obj_quat")
    poses = {k: np.asarray(getattr(clip, k), np.float32) for k in keys}
    r = ClipRollout(clip.name, 0, clip.num_frames - 1, True, False, 30.0, sim=poses, ref=dict(poses),
                    ig_active=clip.ig_active, ig_body=clip.ig_body, ig_body_offset=clip.ig_body_offset,
                    ig_obj_point=clip.ig_obj_point, obj_points=np.zeros((4, 3)))
    m = rollout_metrics(r)
    assert m["mpjpe_mm"] == 0.0 and m["contact_mm"] == pytest.approx(10.0, abs=0.05)
    assert rollout_metrics(r, "joint")["contact_mm"] > 15.0


def test_object_error_translation_and_rotation():
    pts = np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]])
    ref_pos = np.zeros((2, 3))
    ref_quat = np.stack([IDENTITY, IDENTITY])
    sim_pos = np.array([[0.0, 0.0, 0.02], [0.0, 0.0, 0.0]])  # frame 0: 20 mm shift
    sim_quat = np.stack([IDENTITY, ROT_Z90])  # frame 1: points move by √2 m
    expected = (20 + 20 + 1000 * math.sqrt(2) * 2) / 4
    assert M.object_error(sim_pos, sim_quat, ref_pos, ref_quat, pts) == pytest.approx(expected)


def test_success_rate():
    assert M.success_rate([True, False, True, True]) == 0.75
    assert math.isnan(M.success_rate([]))
