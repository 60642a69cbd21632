"""Post-processing: interpolation, smoothing, world holds."""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from hoi_sim.recon import post
from hoi_sim.recon.config import PostConfig


def _angle_deg(qa: np.ndarray, qb: np.ndarray) -> np.ndarray:
    return np.degrees(2 * np.arccos(np.clip(np.abs((qa * qb).sum(-1)), 0, 1)))


def test_interpolation_hits_keys_and_slerps_between() -> None:
    keys = np.array([0, 3, 6, 8])
    q = post.aa_to_quat(np.array([[0, 0, 0], [0, 0, 0.6], [0, 0, 1.2], [0, 0, 1.2]], dtype=np.float64))
    out = post.interp_quats(keys, q, 10)
    assert np.allclose(np.abs((out[keys] * q).sum(-1)), 1.0)
    assert np.allclose(post.quat_to_aa(out[1])[2], 0.2) and np.allclose(post.quat_to_aa(out[9]), [0, 0, 1.2])
    x = post.interp_vectors(keys, np.array([[0.0], [3.0], [3.0], [5.0]]), 10)
    assert np.allclose(x[:, 0], [0, 1, 2, 3, 3, 3, 3, 4, 5, 5])


def test_butterworth_removes_jitter_and_keeps_slow_motion() -> None:
    fps, T = 30.0, 90
    t = np.arange(T) / fps
    slow = np.sin(2 * np.pi * 0.5 * t)
    jitter = 0.05 * np.random.default_rng(0).normal(size=T)
    y = post.smooth((slow + jitter)[:, None], fps, PostConfig(smoothing="butterworth", cutoff_hz=2.0))[:, 0]
    assert np.abs(y - slow)[5:-5].mean() < 0.5 * np.abs(jitter).mean()
    ema = PostConfig(smoothing="ema_box")
    noisy_out = post.smooth((slow + jitter)[:, None], fps, ema)[:, 0]
    clean_out = post.smooth(slow[:, None], fps, ema)[:, 0]  # linear: the jitter's share is what is left over
    assert np.abs(noisy_out - clean_out).mean() < 0.3 * np.abs(jitter).mean()
    assert post.smooth(np.ones((2, 3)), fps, PostConfig()).shape == (2, 3)  # too short: unchanged


def test_quaternion_smoothing_handles_sign_flips() -> None:
    T = 40
    R = Rotation.from_rotvec(np.linspace(0, 1, T)[:, None] * np.array([0.0, 1.0, 0.0]))
    q = post.mat_to_quat(R.as_matrix())
    q[::2] *= -1  # same rotations, alternating signs
    s = post.smooth(q, 30.0, PostConfig(cutoff_hz=6.0), is_quat=True)
    assert _angle_deg(s, q).max() < 0.5


def test_hold_in_world_and_camera_to_world() -> None:
    T = 5
    rng = np.random.default_rng(0)
    Rd = Rotation.random(T, random_state=0).as_matrix()
    td = rng.normal(size=(T, 3))
    R = Rotation.random(T, random_state=1).as_matrix()
    t = rng.normal(size=(T, 3))
    Rh, th = post.hold_in_world(R, t, 2, np.arange(T), Rd, td)
    Rw = np.einsum("tij,tjk->tik", Rd, Rh)
    tw = np.einsum("tij,tj->ti", Rd, th) + td
    assert np.allclose(Rw, Rw[2]) and np.allclose(tw, tw[2]) and np.allclose(Rh[2], R[2])
    c2w = np.eye(4)
    c2w[:3, 3] = [1, 2, 3]
    Rs, ts = post.camera_to_world(None, None, None, c2w, 3)
    assert Rs.shape == (3, 3, 3) and np.allclose(ts, [1, 2, 3])


def test_camera_to_world_pelvis_based() -> None:
    from hoi_sim.body import BodyParams, ProxyBody
    from hoi_sim.recon.types import SmplxParams

    body = ProxyBody(dtype=torch.float64)
    inc = SmplxParams.zeros(2)
    inc.global_orient[:] = [0.2, 0.1, -0.3]
    inc.transl[:] = [0.1, 0.2, 3.0]
    glo = inc.copy()
    glo.global_orient[:] = [1.0, 0.0, 0.0]
    glo.transl[:] = [0.5, -1.0, 0.0]
    Rd, td = post.camera_to_world(body, inc, glo, None, 2)
    pc = body(BodyParams.from_numpy(inc, torch.float64)).vertices.numpy()
    pg = body(BodyParams.from_numpy(glo, torch.float64)).vertices.numpy()
    assert np.allclose(np.einsum("tij,tnj->tni", Rd, pc) + td[:, None], pg, atol=1e-9)
