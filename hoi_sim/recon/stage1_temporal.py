"""Stage 1 with a temporal prior: the poses of a moving object over all its frames in one Levenberg–Marquardt.

The per-frame data terms are stage 1's (:func:`normal_equations`: 3D-3D pairs, 3D-2D tracks, the weak prior).
They are coupled by an acceleration residual on the object's world pose, per interior frame t:

    w · [ρ·(log(R_{t+1} R_tᵀ) − log(R_t R_{t−1}ᵀ)) ;  t_{t+1} − 2 t_t + t_{t−1}]

with ρ the mesh's RMS radius (m), so both halves are metres of surface motion per frame². A constant-velocity
motion costs nothing; the frame-to-frame noise that a noisy human puts on its keypoints does. The poses are solved
in the world frame (the per-frame camera-to-world map moves the 3D targets and enters the projection), so a moving
camera is not smoothed as if it were object motion. The normal equations are block-banded (each frame's 6×6 block
plus the acceleration's couplings to ±2 frames: upper bandwidth 12) and are solved by banded Cholesky, O(T).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import torch

from hoi_sim.body.base import axis_angle_to_matrix, matrix_to_axis_angle
from hoi_sim.recon.config import Stage1Config
from hoi_sim.recon.stage1 import LMInfo, PoseProblem, fit_errors, normal_equations, solve_poses, to_world

_BAND = 12  # upper bandwidth of the 6T×6T normal matrix: couplings reach two frames (2 × 6 unknowns)
_C = (1.0, -2.0, 1.0)  # second difference


def acceleration_residual(R: torch.Tensor, t: torch.Tensor, rho: float) -> torch.Tensor:
    """[T−2, 6] unweighted acceleration residual of world poses ``R [T,3,3]``, ``t [T,3]`` (m per frame²)."""
    w = matrix_to_axis_angle(R[1:] @ R[:-1].transpose(-1, -2))
    v = t[1:] - t[:-1]
    return torch.cat([rho * (w[1:] - w[:-1]), v[1:] - v[:-1]], -1)


def _coupling_diagonals(T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Diagonals 0, 1, 2 of DᵀD for the (T−2)×T second-difference matrix D."""
    d0, d1, d2 = np.zeros(T), np.zeros(T - 1), np.zeros(T - 2)
    for j in range(3):
        d0[j: j + T - 2] += _C[j] ** 2
    for j in range(2):
        d1[j: j + T - 2] += _C[j] * _C[j + 1]
    d2 += _C[0] * _C[2]
    return d0, d1, d2


def _banded_system(H: np.ndarray, g: np.ndarray, r: np.ndarray, weight: float, rho: float
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Upper band form ``ab [13, 6T]`` of blockdiag(H) + w²·(DᵀD ⊗ S²) and the gradient ``[6T]``.

    ``H [T,6,6]``, ``g [T,6]``: the per-frame normal equations; ``r [T−2,6]``: the acceleration residual. The
    acceleration's Jacobian on frame t's increment is c·w·S with S = diag(ρ,ρ,ρ,1,1,1) (first order in the
    frame-to-frame rotation); the LM's accept/reject uses the true cost.
    """
    T = H.shape[0]
    ab = np.zeros((_BAND + 1, 6 * T))
    for a in range(6):
        for b in range(a, 6):
            ab[_BAND + a - b, b::6] = H[:, a, b]
    s2 = weight * weight * np.array([rho * rho] * 3 + [1.0] * 3)
    d0, d1, d2 = _coupling_diagonals(T)
    ab[_BAND] += (d0[:, None] * s2).reshape(-1)
    ab[_BAND - 6, 6:] += (d1[:, None] * s2).reshape(-1)
    ab[_BAND - 12, 12:] += (d2[:, None] * s2).reshape(-1)
    s = weight * weight * np.array([rho] * 3 + [1.0] * 3)
    gs = np.zeros((T, 6))
    for j in range(3):
        gs[j: j + T - 2] += _C[j] * r * s
    return ab, (g + gs).reshape(-1)


def _total_cost(cost: torch.Tensor, R: torch.Tensor, t: torch.Tensor, weight: float, rho: float) -> float:
    r = acceleration_residual(R, t, rho)
    return float(cost.sum()) + 0.5 * weight * weight * float((r * r).sum())


def solve_poses_temporal(prob: PoseProblem, cfg: Stage1Config, rho: float, R_d: torch.Tensor, t_d: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor, LMInfo]:
    """Stage-1 poses of a moving object with the acceleration prior ``cfg.smooth_weight``.

    Args:
        prob: the per-frame problem (camera frame), one row per frame of the clip, in order.
        rho: the object's RMS radius (m). R_d, t_d: camera-to-world per frame, [T,3,3], [T,3].
    Returns: camera-frame poses ``R [T,3,3]``, ``t [T,3]`` and :class:`LMInfo` of the per-frame fit. Starts from the
    independent per-frame solution; with fewer than 3 frames or a zero weight it is that solution.
    """
    R_c, t_c, info = solve_poses(prob, cfg)
    w, T = float(cfg.smooth_weight), prob.batch
    if w <= 0 or T < 3:
        return R_c, t_c, info
    wp = to_world(prob, R_d, t_d)
    R = R_d @ R_c
    t = torch.einsum("tij,tj->ti", R_d, t_c) + t_d
    H, g, cost = normal_equations(wp, R, t, cfg)
    total = _total_cost(cost, R, t, w, rho)
    lam, it = cfg.lambda_init, 0
    for it in range(1, cfg.iterations + 1):  # noqa: B007
        ab, grad = _banded_system(H.numpy(), g.numpy(), acceleration_residual(R, t, rho).numpy(), w, rho)
        ab[_BAND] += lam * np.maximum(ab[_BAND], 1e-9)
        try:
            delta = torch.as_tensor(-scipy.linalg.solveh_banded(ab, grad, check_finite=False)).reshape(T, 6)
        except np.linalg.LinAlgError:
            lam *= 10.0
            continue
        Rn = axis_angle_to_matrix(delta[:, :3]) @ R
        tn = t + delta[:, 3:]
        Hn, gn, cost_n = normal_equations(wp, Rn, tn, cfg)
        total_n = _total_cost(cost_n, Rn, tn, w, rho)
        if total_n < total:
            done = total - total_n <= cfg.tol * total or float(delta.abs().max()) < cfg.step_tol
            R, t, H, g, cost, total, lam = Rn, tn, Hn, gn, cost_n, total_n, lam / 10.0
            if done:
                break
        else:
            lam *= 10.0
            if lam > 1e12:
                break
    R_c = R_d.transpose(-1, -2) @ R
    t_c = torch.einsum("tji,tj->ti", R_d, t - t_d)
    rms3, rms2 = fit_errors(prob, R_c, t_c, cfg)
    return R_c, t_c, LMInfo(cost=cost, iterations=info.iterations + it, rms3d=rms3, rms2d=rms2)
