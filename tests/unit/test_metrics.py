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


def test_contact_surface_form_uses_body_offset():
    g = M.graph_gaps(*_graph_motion(), form="surface")
    # edge 0 human end = joint + (0,0,0.5): frame 0 gap (1,0,1) − (0,0,.5) = (1,0,.5)
    np.testing.assert_allclose(g[0, 0], [1.0, 0.0, 0.5], atol=1e-12)
    with pytest.raises(ValueError):
        M.graph_gaps(*_graph_motion(), form="bogus")


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
