"""Reconstruction metrics: per-frame object errors and the block-bootstrap noise of a per-session change."""

from __future__ import annotations

import numpy as np

from hoi_sim.recon.metrics import (
    block_bootstrap_se,
    object_rot_err_deg,
    object_trans_err_cm,
    rot_err_deg_frames,
    trans_err_cm_frames,
)


def _rot_z(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])


def test_per_frame_errors_and_their_means():
    R_gt = np.stack([np.eye(3)] * 3)
    R = np.stack([_rot_z(0.0), _rot_z(2.0), _rot_z(-4.0)])
    t_gt = np.zeros((3, 3))
    t = np.array([[0.0, 0.0, 0.0], [0.03, 0.04, 0.0], [0.0, 0.0, -0.01]])
    np.testing.assert_allclose(rot_err_deg_frames(R, R_gt), [0.0, 2.0, 4.0], atol=1e-6)
    np.testing.assert_allclose(trans_err_cm_frames(t, t_gt), [0.0, 5.0, 1.0], atol=1e-9)
    assert abs(object_rot_err_deg(R, R_gt) - 2.0) < 1e-6
    assert abs(object_trans_err_cm(t, t_gt) - 2.0) < 1e-9


def test_block_bootstrap_se_matches_iid_theory_and_is_zero_for_a_constant():
    rng = np.random.default_rng(1)
    x = rng.normal(0.0, 1.0, 600)
    se = block_bootstrap_se(x, block=1, draws=4000)
    assert abs(se - 1.0 / np.sqrt(600)) < 0.2 / np.sqrt(600)
    assert block_bootstrap_se(np.full(60, 0.3)) < 1e-12
    assert block_bootstrap_se(np.array([1.0])) == 0.0


def test_block_bootstrap_se_widens_for_correlated_frames():
    """A slowly varying series has fewer independent frames than samples: single-frame resampling understates its
    standard error, blocks do not."""
    rng = np.random.default_rng(2)
    slow = np.repeat(rng.normal(0.0, 1.0, 12), 10)  # 120 frames, 12 independent values
    iid = block_bootstrap_se(slow, block=1, draws=4000)
    blocks = block_bootstrap_se(slow, block=10, draws=4000)
    assert blocks > 2.0 * iid
    assert abs(blocks - slow.std() / np.sqrt(12)) < 0.5 * slow.std() / np.sqrt(12)
