"""Stage 1 of 4DHOISolver: the object pose of every frame by weighted least squares (paper Eq. 3), all frames at
once.

Each frame's unknown is an SE(3) pose (R, t) acting on the centred object mesh, camera frame (OpenCV, metres).
Residuals: ``w3d·(R p + t − q)`` for 3D-3D pairs (object point p, body keypoint q) and ``w2d·(π_K(R p + t) − uv)``
for 3D-2D points (pixels). Levenberg–Marquardt runs on all frames together as a batch of independent 6×6 problems:
left-multiplied rotation increments ``R ← exp(δω) R``, ``t ← t + δt``, analytic Jacobians, per-frame damping with
accept/reject. A weak prior toward the initial pose keeps frames with fewer than 6 DoF well posed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hoi_sim.body.base import axis_angle_to_matrix, matrix_to_axis_angle
from hoi_sim.recon.config import Stage1Config


@dataclass
class PoseProblem:
    """A batch of B independent pose problems (float64 torch).

    ``p3 [B,N,3]`` object-local points, ``q3 [B,N,3]`` their targets, ``m3 [B,N]`` validity;
    ``p2 [B,M,3]`` object-local points, ``uv [B,M,2]`` pixel targets, ``m2 [B,M]`` validity, ``K [3,3]``;
    optional ``A2 [B,M,3,3]``, ``b2 [B,M,3]``: the point is projected from ``A2·(R p + t) + b2`` (a per-point
    world→camera map, used to pool the frames of a static object). ``R0 [B,3,3]``, ``t0 [B,3]``: prior pose.
    """

    p3: torch.Tensor
    q3: torch.Tensor
    m3: torch.Tensor
    p2: torch.Tensor
    uv: torch.Tensor
    m2: torch.Tensor
    K: torch.Tensor
    R0: torch.Tensor
    t0: torch.Tensor
    A2: torch.Tensor | None = None
    b2: torch.Tensor | None = None

    @property
    def batch(self) -> int:
        return int(self.R0.shape[0])

    def dof(self) -> torch.Tensor:
        """[B] 3·#3D + 2·#2D."""
        return 3 * self.m3.sum(1) + 2 * self.m2.sum(1)


def _skew(v: torch.Tensor) -> torch.Tensor:
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(v.shape[:-1] + (3, 3))


def project_points(prob: PoseProblem, R: torch.Tensor, t: torch.Tensor, min_z: float = 0.1) -> torch.Tensor:
    """Pixels [B,M,2] of the 2D problem points at pose (R, t) (through ``A2``/``b2`` when pooled)."""
    X = torch.einsum("bij,bmj->bmi", R, prob.p2) + t[:, None]
    if prob.A2 is not None:
        X = torch.einsum("bmij,bmj->bmi", prob.A2, X) + prob.b2
    K = prob.K
    Z = X[..., 2].clamp_min(min_z)
    u = (K[0, 0] * X[..., 0] + K[0, 1] * X[..., 1]) / Z + K[0, 2]
    return torch.stack([u, K[1, 1] * X[..., 1] / Z + K[1, 2]], -1)


def kabsch(p: torch.Tensor, q: torch.Tensor, m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weighted rigid alignment q ≈ R p + t per batch: p, q [B,N,3], m [B,N] → R [B,3,3], t [B,3], ok [B] (≥ 3
    non-collinear points)."""
    w = m / m.sum(1, keepdim=True).clamp_min(1e-12)
    pc = (w[..., None] * p).sum(1)
    qc = (w[..., None] * q).sum(1)
    H = torch.einsum("bn,bni,bnj->bij", w, p - pc[:, None], q - qc[:, None])
    U, S, Vh = torch.linalg.svd(H)
    d = torch.sign(torch.linalg.det(Vh.transpose(-1, -2) @ U.transpose(-1, -2)))
    D = torch.diag_embed(torch.stack([torch.ones_like(d), torch.ones_like(d), d], -1))
    R = Vh.transpose(-1, -2) @ D @ U.transpose(-1, -2)
    t = qc - torch.einsum("bij,bj->bi", R, pc)
    ok = (m.sum(1) >= 3) & (S[:, 1] > 1e-8 * S[:, 0].clamp_min(1e-30)) & (S[:, 1] > 1e-10)
    return R, t, ok


def residual_weights(cfg: Stage1Config) -> tuple[float, float]:
    """(3D, 2D) residual multipliers: √w (paper Eq. 3) or w (released code), see ``Stage1Config``."""
    if cfg.weight_convention == "paper":
        return float(np.sqrt(cfg.w3d)), float(np.sqrt(cfg.w2d))
    return float(cfg.w3d), float(cfg.w2d)


def _cross(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.linalg.cross(a, b, dim=-1)


def normal_equations(prob: PoseProblem, R: torch.Tensor, t: torch.Tensor, cfg: Stage1Config
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gauss–Newton normal equations at (R, t) without forming J: H [B,6,6] = JᵀJ, g [B,6] = Jᵀr, cost [B] = ½|r|².

    3D rows ``w3d·(a + t − q)`` with ``a = R p`` have J = w3d·[−[a]×, I], so JᵀJ sums ``|a|²I − aaᵀ``, ``[a]×`` and
    ``I`` blocks; 2D rows ``w2d·(π(X) − uv)`` have J rows ``w2d·[a × d_k, d_k]`` where d_k are the rows of
    ``∂π/∂X·A`` (A = I unless pooled).
    """
    B = prob.batch
    w3, w2, wp = residual_weights(cfg) + (cfg.prior_weight,)
    m3 = prob.m3[..., None]
    a3 = torch.einsum("bij,bnj->bni", R, prob.p3)
    r3 = (a3 + t[:, None] - prob.q3) * m3  # unweighted, masked
    am = a3 * m3
    n3 = prob.m3.sum(1)
    eye = torch.eye(3, dtype=R.dtype, device=R.device)
    Hww = (am * a3).sum((1, 2))[:, None, None] * eye - torch.einsum("bni,bnj->bij", am, a3)
    sa = am.sum(1)
    Hwt = _skew(sa)
    H = torch.zeros(B, 6, 6, dtype=R.dtype, device=R.device)
    H[:, :3, :3] = w3 * w3 * Hww
    H[:, :3, 3:] = w3 * w3 * Hwt
    H[:, 3:, :3] = w3 * w3 * Hwt.transpose(1, 2)
    H[:, 3:, 3:] = w3 * w3 * n3[:, None, None] * eye
    g = torch.cat([w3 * w3 * _cross(a3, r3).sum(1), w3 * w3 * r3.sum(1)], dim=-1)
    cost = 0.5 * w3 * w3 * (r3 * r3).sum((1, 2))
    if prob.p2.shape[1]:
        a2 = torch.einsum("bij,bmj->bmi", R, prob.p2)
        X = a2 + t[:, None]
        if prob.A2 is not None:
            X = torch.einsum("bmij,bmj->bmi", prob.A2, X) + prob.b2
        K = prob.K
        Zr = X[..., 2]
        Z = Zr.clamp_min(cfg.min_z)
        u = (K[0, 0] * X[..., 0] + K[0, 1] * X[..., 1]) / Z + K[0, 2]
        v = K[1, 1] * X[..., 1] / Z + K[1, 2]
        m2 = prob.m2
        ru = (u - torch.nan_to_num(prob.uv[..., 0])) * m2
        rv = (v - torch.nan_to_num(prob.uv[..., 1])) * m2
        cost = cost + 0.5 * w2 * w2 * (ru * ru + rv * rv).sum(1)
        zm = (Zr > cfg.min_z).to(R.dtype)
        o = torch.zeros_like(Z)
        du = torch.stack([K[0, 0] / Z, K[0, 1] / Z, -(u - K[0, 2]) / Z * zm], -1) * m2[..., None]
        dv = torch.stack([o, K[1, 1] / Z, -(v - K[1, 2]) / Z * zm], -1) * m2[..., None]
        if prob.A2 is not None:
            du = torch.einsum("bmi,bmij->bmj", du, prob.A2)
            dv = torch.einsum("bmi,bmij->bmj", dv, prob.A2)
        Ju = torch.cat([_cross(a2, du), du], -1)  # [B,M,6]
        Jv = torch.cat([_cross(a2, dv), dv], -1)
        J2 = torch.cat([Ju, Jv], 1)
        H = H + w2 * w2 * J2.transpose(1, 2) @ J2
        g = g + w2 * w2 * (Ju * ru[..., None] + Jv * rv[..., None]).sum(1)
    if wp > 0:
        dw = matrix_to_axis_angle(R @ prob.R0.transpose(-1, -2))
        rp = torch.cat([dw, t - prob.t0], -1)
        H = H + wp * wp * torch.eye(6, dtype=R.dtype, device=R.device)
        g = g + wp * wp * rp
        cost = cost + 0.5 * wp * wp * (rp * rp).sum(1)
    return H, g, cost


@dataclass
class LMInfo:
    """Per-problem outcome: final cost [B], iterations run, rms 3D error [B] (m), rms 2D error [B] (px)."""

    cost: torch.Tensor
    iterations: int
    rms3d: torch.Tensor
    rms2d: torch.Tensor


def solve_poses(prob: PoseProblem, cfg: Stage1Config, R_init: torch.Tensor | None = None,
                t_init: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, LMInfo]:
    """Batched Levenberg–Marquardt. Starts from (R_init, t_init) (default: the prior pose, or Kabsch where
    ``cfg.kabsch_init`` and ≥ 3 3D pairs). Returns R [B,3,3], t [B,3] and :class:`LMInfo`."""
    R = (prob.R0 if R_init is None else R_init).clone()
    t = (prob.t0 if t_init is None else t_init).clone()
    if cfg.kabsch_init and R_init is None:
        Rk, tk, ok = kabsch(prob.p3, prob.q3, prob.m3)
        R = torch.where(ok[:, None, None], Rk, R)
        t = torch.where(ok[:, None], tk, t)
    H, g, cost = normal_equations(prob, R, t, cfg)
    lam = torch.full_like(cost, cfg.lambda_init)
    active = torch.ones_like(cost, dtype=torch.bool)
    it = 0
    for it in range(1, cfg.iterations + 1):  # noqa: B007
        diag = torch.diagonal(H, dim1=1, dim2=2).clamp_min(1e-9)
        delta = -torch.linalg.solve(H + torch.diag_embed(lam[:, None] * diag), g[..., None])[..., 0]
        Rn = axis_angle_to_matrix(delta[:, :3]) @ R
        tn = t + delta[:, 3:]
        Hn, gn, cost_n = normal_equations(prob, Rn, tn, cfg)
        better = (cost_n < cost) & active
        R = torch.where(better[:, None, None], Rn, R)
        t = torch.where(better[:, None], tn, t)
        H = torch.where(better[:, None, None], Hn, H)
        g = torch.where(better[:, None], gn, g)
        small = (delta.abs().amax(1) < cfg.step_tol) | ((cost - cost_n).abs() <= cfg.tol * cost)
        active = active & ~small & (lam < 1e12)
        cost = torch.where(better, cost_n, cost)
        lam = torch.where(better, lam / 10.0, lam * 10.0)
        if not bool(active.any()):
            break
    rms3, rms2 = fit_errors(prob, R, t, cfg)
    return R, t, LMInfo(cost=cost, iterations=it, rms3d=rms3, rms2d=rms2)


def fit_errors(prob: PoseProblem, R: torch.Tensor, t: torch.Tensor, cfg: Stage1Config
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-problem rms 3D pair error [B] (m) and rms reprojection error [B] (px) at pose (R, t)."""
    with torch.no_grad():
        d3 = (torch.einsum("bij,bnj->bni", R, prob.p3) + t[:, None] - prob.q3).norm(dim=-1)
        rms3 = ((d3 ** 2 * prob.m3).sum(1) / prob.m3.sum(1).clamp_min(1)).sqrt()
        d2 = (project_points(prob, R, t, cfg.min_z) - torch.nan_to_num(prob.uv)).norm(dim=-1)
        rms2 = ((d2 ** 2 * prob.m2).sum(1) / prob.m2.sum(1).clamp_min(1)).sqrt()
    return rms3, rms2


def build_problem(object_vertices: np.ndarray, contact_vertex: np.ndarray, keypoints_cam: np.ndarray,
                  track_vertex: np.ndarray, track_xy: np.ndarray, K: np.ndarray, R0: np.ndarray, t0: np.ndarray
                  ) -> PoseProblem:
    """The stage-1 problem of a session, one batch row per frame.

    Args:
        object_vertices: [V,3] centred object mesh (m). contact_vertex: [T,87] object vertex per keypoint row (−1 none).
        keypoints_cam: [T,87,3] body keypoints, camera frame (m). track_vertex: [T,M] (−1 pad), track_xy [T,M,2].
        K: [3,3]. R0, t0: [T,3,3], [T,3] initial object pose.
    """
    f64 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64)  # noqa: E731
    V = f64(object_vertices)
    cv = torch.as_tensor(contact_vertex, dtype=torch.long)
    tv = torch.as_tensor(track_vertex, dtype=torch.long)
    uv = f64(track_xy)
    v3, v2 = cv >= 0, (tv >= 0) & torch.isfinite(uv).all(-1)
    # compact the padded rows: keep only as many slots as the busiest frame needs (87 rows are mostly empty)
    o3 = torch.argsort((~v3).to(torch.int8), dim=1, stable=True)[:, : max(int(v3.sum(1).max()), 1)]
    o2 = torch.argsort((~v2).to(torch.int8), dim=1, stable=True)[:, : max(int(v2.sum(1).max()), 1)]
    cv, v3 = cv.gather(1, o3), v3.gather(1, o3)
    tv, v2, uv = tv.gather(1, o2), v2.gather(1, o2), uv.gather(1, o2[..., None].expand(-1, -1, 2))
    q3 = f64(keypoints_cam).gather(1, o3[..., None].expand(-1, -1, 3))
    return PoseProblem(p3=V[cv.clamp_min(0)], q3=q3, m3=v3.to(torch.float64), p2=V[tv.clamp_min(0)], uv=uv,
                       m2=v2.to(torch.float64), K=f64(K), R0=f64(R0), t0=f64(t0))


def to_world(prob: PoseProblem, R_d: torch.Tensor, t_d: torch.Tensor) -> PoseProblem:
    """The same per-frame problems with the unknown as the world pose, camera-to-world per frame ``R_d [B,3,3]``,
    ``t_d [B,3]``: 3D targets and the prior move to the world; 2D points project through world→camera."""
    q_w = torch.einsum("tij,tnj->tni", R_d, prob.q3) + t_d[:, None]
    A = R_d.transpose(-1, -2)[:, None].expand(-1, prob.p2.shape[1], 3, 3)
    b = -torch.einsum("tmij,tj->tmi", A, t_d)
    return PoseProblem(p3=prob.p3, q3=q_w, m3=prob.m3, p2=prob.p2, uv=prob.uv, m2=prob.m2, K=prob.K,
                       R0=R_d @ prob.R0, t0=torch.einsum("tij,tj->ti", R_d, prob.t0) + t_d, A2=A, b2=b)


def _rows(prob: PoseProblem, f: torch.Tensor) -> PoseProblem:
    pick = lambda x: None if x is None else x[f]  # noqa: E731
    return PoseProblem(p3=prob.p3[f], q3=prob.q3[f], m3=prob.m3[f], p2=prob.p2[f], uv=prob.uv[f], m2=prob.m2[f],
                       K=prob.K, R0=prob.R0[f], t0=prob.t0[f], A2=pick(prob.A2), b2=pick(prob.b2))


def pool_static(prob: PoseProblem, R_d: torch.Tensor, t_d: torch.Tensor, frames: torch.Tensor) -> PoseProblem:
    """One problem for a static object over ``frames``: unknown = world pose; camera-to-world per frame
    ``R_d [T,3,3]``, ``t_d [T,3]``. 3D targets move to the world; 2D points project through world→camera."""
    w = to_world(_rows(prob, frames), R_d[frames], t_d[frames])
    one = lambda x: x.reshape(1, -1, *x.shape[2:])  # noqa: E731
    return PoseProblem(p3=one(w.p3), q3=one(w.q3), m3=one(w.m3), p2=one(w.p2), uv=one(w.uv), m2=one(w.m2), K=w.K,
                       R0=w.R0[:1], t0=w.t0[:1], A2=one(w.A2), b2=one(w.b2))
