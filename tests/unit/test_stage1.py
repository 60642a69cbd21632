"""Stage 1: batched LM object poses (Eq. 3), static pooling, and limb IK."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hoi_sim import keypoints as kp
from hoi_sim.body import BodyParams, ProxyBody
from hoi_sim.recon.config import IKConfig, Stage1Config
from hoi_sim.recon.ik import limb_ik
from hoi_sim.recon.stage1 import build_problem, kabsch, pool_static, solve_poses

torch.set_num_threads(1)
K = np.array([[800.0, 0.0, 320.0], [0.0, 800.0, 240.0], [0.0, 0.0, 1.0]])


def _object(rng: np.random.Generator) -> np.ndarray:
    """A 40×30×20 cm box's surface points (irregular, so no symmetry)."""
    p = rng.uniform(-1, 1, (400, 3))
    p /= np.abs(p).max(1, keepdims=True)
    return p * np.array([0.2, 0.15, 0.1]) + np.array([0.02, -0.01, 0.0])


def _rot_err_deg(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip((np.einsum("tij,tij->t", Ra, Rb) - 1) / 2, -1, 1)))


def _session(T: int = 40, seed: int = 0, noise_deg: float = 20.0, noise_m: float = 0.2):
    rng = np.random.default_rng(seed)
    V = _object(rng)
    R_gt = Rotation.random(T, random_state=seed).as_matrix()
    t_gt = np.array([0.0, 0.1, 2.5]) + rng.normal(0, 0.2, (T, 3))
    kps = rng.normal(0, 1, (T, 87, 3))  # unpaired rows are never read
    contact = np.full((T, 87), -1)
    tracks = np.full((T, 6), -1)
    xy = np.full((T, 6, 2), np.nan)
    # frame mixes: (#3D pairs, #2D points) — all with DoF ≥ 6 and a well-posed rotation
    mixes = [(3, 0), (1, 3), (2, 2), (0, 5), (4, 6), (1, 2)]
    for i in range(T):
        n3, n2 = mixes[i % len(mixes)]
        rows = rng.choice(87, n3, replace=False)
        vid = rng.choice(len(V), n3 + n2, replace=False)
        contact[i, rows] = vid[:n3]
        kps[i, rows] = V[vid[:n3]] @ R_gt[i].T + t_gt[i]
        X = V[vid[n3:]] @ R_gt[i].T + t_gt[i]
        tracks[i, :n2] = vid[n3:]
        xy[i, :n2] = (X @ K.T)[:, :2] / X[:, 2:]
    dR = Rotation.from_rotvec(rng.normal(0, 1, (T, 3)) * np.deg2rad(noise_deg) / np.sqrt(3)).as_matrix()
    R0 = dR @ R_gt
    t0 = t_gt + rng.normal(0, noise_m / np.sqrt(3), (T, 3))
    return V, contact, kps, tracks, xy, R0, t0, R_gt, t_gt


@pytest.mark.parametrize("convention", ["paper", "code"])
def test_exact_annotations_recover_pose(convention: str) -> None:
    V, contact, kps, tracks, xy, R0, t0, R_gt, t_gt = _session()
    prob = build_problem(V, contact, kps, tracks, xy, K, R0, t0)
    assert prob.p3.shape[1] == 4 and prob.p2.shape[1] == 6  # compacted from 87 rows
    R, t, info = solve_poses(prob, Stage1Config(weight_convention=convention))
    assert _rot_err_deg(R.numpy(), R_gt).max() < 1.0
    assert np.linalg.norm(t.numpy() - t_gt, axis=1).max() < 0.01
    assert float(info.rms2d.max()) < 0.5 and float(info.rms3d.max()) < 0.005


def test_frames_without_annotations_keep_their_initial_pose() -> None:
    V, contact, kps, tracks, xy, R0, t0, _, _ = _session(T=6)
    contact[2] = -1
    tracks[2] = -1
    xy[2] = np.nan
    R, t, _ = solve_poses(build_problem(V, contact, kps, tracks, xy, K, R0, t0), Stage1Config())
    assert _rot_err_deg(R.numpy()[2:3], R0[2:3])[0] < 1e-6 and np.allclose(t.numpy()[2], t0[2])


def test_kabsch_exact_and_degenerate() -> None:
    rng = np.random.default_rng(1)
    p = torch.as_tensor(rng.normal(size=(2, 5, 3)))
    R = torch.as_tensor(Rotation.random(2, random_state=1).as_matrix())
    q = torch.einsum("bij,bnj->bni", R, p) + torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    m = torch.ones(2, 5, dtype=torch.float64)
    m[1, 2:] = 0  # only two points: not enough
    Rk, tk, ok = kabsch(p, q, m)
    assert ok.tolist() == [True, False]
    assert torch.allclose(Rk[0], R[0], atol=1e-9)


def test_static_object_pooled_over_frames_with_moving_camera() -> None:
    T = 12
    V, contact, kps, tracks, xy, R0, t0, _, _ = _session(T=T, seed=2)
    rng = np.random.default_rng(3)
    Rw = Rotation.random(random_state=4).as_matrix()
    tw = np.array([0.3, 0.0, 2.5])  # in front of every camera
    Rd = Rotation.from_rotvec(rng.normal(0, 0.1, (T, 3))).as_matrix()  # camera → world per frame
    td = rng.normal(0, 0.2, (T, 3))
    R_gt = np.einsum("tji,jk->tik", Rd, Rw)
    t_gt = np.einsum("tji,tj->ti", Rd, tw[None] - td)
    for i in range(T):  # re-annotate exactly for the static pose
        rows = np.flatnonzero(contact[i] >= 0)
        kps[i, rows] = V[contact[i, rows]] @ R_gt[i].T + t_gt[i]
        ok = tracks[i] >= 0
        X = V[tracks[i, ok]] @ R_gt[i].T + t_gt[i]
        xy[i, ok] = (X @ K.T)[:, :2] / X[:, 2:]
    prob = build_problem(V, contact, kps, tracks, xy, K, R_gt, t_gt + 0.1)
    pooled = pool_static(prob, torch.as_tensor(Rd), torch.as_tensor(td), torch.arange(T))
    R, t, _ = solve_poses(pooled, Stage1Config())
    assert _rot_err_deg(R.numpy(), Rw[None])[0] < 0.1 and np.linalg.norm(t.numpy()[0] - tw) < 1e-3


def test_limb_ik_pulls_hand_keypoints_onto_targets() -> None:
    body = ProxyBody()
    g = torch.Generator().manual_seed(0)
    p = BodyParams.zeros(8)
    p.body_pose.copy_(0.2 * torch.randn(8, 63, generator=g))
    goal = BodyParams(**{k: v.clone() for k, v in p.as_dict().items()})
    limbs = [3 * (j - 1) + a for j in (1, 2, 4, 5, 7, 8, 16, 17, 18, 19, 20, 21) for a in range(3)]
    goal.body_pose[:, limbs] += 0.15 * torch.randn(8, len(limbs), generator=g)  # reachable targets
    targets = body(goal).keypoints
    active = torch.zeros(8, 87, dtype=torch.bool)
    rows = [kp.index("rightHand_palm"), kp.index("leftHand_palm"), kp.index("leftFoot_sole")]
    active[:, rows] = True
    active[3] = False  # a frame without contact stays as it was
    res = limb_ik(body, p, targets, active, IKConfig(iterations=15))
    moved = np.flatnonzero(np.abs(res.params.body_pose.numpy() - p.body_pose.numpy()).max(1) > 0)
    assert 3 not in moved.tolist() and len(moved) == 7
    ok = np.delete(np.arange(8), 3)
    assert (res.err_after[ok] < 0.3 * res.err_before[ok]).all() and res.err_after[ok].max() < 0.02
    # only limb joints moved (global orient and the spine are untouched)
    assert torch.equal(res.params.global_orient, p.global_orient)
    spine = [3 * (j - 1) + a for j in (3, 6, 9, 12, 15) for a in range(3)]
    assert torch.equal(res.params.body_pose[:, spine], p.body_pose[:, spine])


def _moving_session(T: int, seed: int, kp_noise_m: float):
    """A box carried along a smooth arc; each frame has 4 pairs whose body keypoints carry i.i.d. noise."""
    rng = np.random.default_rng(seed)
    V = _object(rng)
    s = np.linspace(0.0, 1.0, T)
    R_gt = Rotation.from_rotvec(np.outer(s, [0.2, 0.6, 0.1])).as_matrix()
    t_gt = np.stack([0.5 * s, 0.1 * np.sin(3 * s), 2.5 + 0.3 * s * s], 1)
    kps = np.zeros((T, 87, 3))
    contact = np.full((T, 87), -1)
    for i in range(T):
        vid = rng.choice(len(V), 4, replace=False)
        contact[i, :4] = vid
        kps[i, :4] = V[vid] @ R_gt[i].T + t_gt[i] + rng.normal(0, kp_noise_m / np.sqrt(3), (4, 3))
    tracks, xy = np.full((T, 1), -1), np.full((T, 1, 2), np.nan)
    return V, contact, kps, tracks, xy, R_gt, t_gt


def test_temporal_prior_averages_keypoint_noise_and_keeps_exact_motion() -> None:
    from hoi_sim.recon.stage1_temporal import acceleration_residual, solve_poses_temporal

    T = 40
    eye, zero = torch.eye(3, dtype=torch.float64).expand(T, 3, 3), torch.zeros(T, 3, dtype=torch.float64)
    V, contact, kps, tracks, xy, R_gt, t_gt = _moving_session(T, 0, kp_noise_m=0.05)
    prob = build_problem(V, contact, kps, tracks, xy, K, R_gt, t_gt)
    rho = float(np.sqrt((V ** 2).sum(1).mean()))
    R0, t0, _ = solve_poses_temporal(prob, Stage1Config(smooth_weight=0.0), rho, eye, zero)  # per frame
    R1, t1, info = solve_poses_temporal(prob, Stage1Config(smooth_weight=30.0), rho, eye, zero)
    e0 = np.linalg.norm(t0.numpy() - t_gt, axis=1).mean()
    e1 = np.linalg.norm(t1.numpy() - t_gt, axis=1).mean()
    assert e1 < 0.6 * e0, (e0, e1)
    assert _rot_err_deg(R1.numpy(), R_gt).mean() < 0.6 * _rot_err_deg(R0.numpy(), R_gt).mean()
    assert acceleration_residual(R1, t1, rho).abs().max() < acceleration_residual(R0, t0, rho).abs().max()
    # exact pairs on a smooth world motion seen from a shaking camera: smoothed in the world, the truth is kept;
    # smoothed in the camera frame (identity camera-to-world), the shake would be flattened away from the pairs
    V, contact, kps_w, tracks, xy, R_w, t_w = _moving_session(T, 1, kp_noise_m=0.0)
    rng = np.random.default_rng(2)
    Rd = Rotation.from_rotvec(rng.normal(0, np.deg2rad(4.0), (T, 3))).as_matrix()
    td = rng.normal(0, 0.04, (T, 3))
    kps_c = np.einsum("tji,tnj->tni", Rd, kps_w - td[:, None])
    R_c, t_c = np.einsum("tji,tjk->tik", Rd, R_w), np.einsum("tji,tj->ti", Rd, t_w - td)
    prob = build_problem(V, contact, kps_c, tracks, xy, K, R_c, t_c)
    cfg = Stage1Config(smooth_weight=30.0)
    R2, t2, _ = solve_poses_temporal(prob, cfg, rho, torch.as_tensor(Rd), torch.as_tensor(td))
    R3, t3, _ = solve_poses_temporal(prob, cfg, rho, eye, zero)
    err_world = np.linalg.norm(t2.numpy() - t_c, axis=1).max()
    assert err_world < 0.005 and _rot_err_deg(R2.numpy(), R_c).max() < 0.5
    assert np.linalg.norm(t3.numpy() - t_c, axis=1).max() > 3 * err_world
