"""Reconstruction metrics against ground truth (all means over frames; lengths in centimetres).

* ``object_rot_err_deg``: geodesic angle between predicted and true object rotations.
* ``object_trans_err_cm``: distance between predicted and true object translations (centroid, since the mesh is
  centred).
* ``cd_o_cm``: object Chamfer distance, paper Eq. 21: ``n`` points sampled uniformly on the mesh surface once
  (fixed seed), posed with each pose; mean nearest-neighbour distance both ways, summed.
* ``contact_dist_cm``: mean distance between paired body keypoints and object points (the annotated 3D pairs).
* ``penetration_cm``: per frame, the deepest body vertex inside the object (signed-distance grid of the object),
  averaged over frames.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree

from hoi_sim.recon.sdf import SDFGrid, build_sdf, sample_surface


def rot_err_deg_frames(R_pred: np.ndarray, R_gt: np.ndarray) -> np.ndarray:
    """Geodesic angle per frame [T] (degrees) between [T,3,3] rotations."""
    c = (np.einsum("tij,tij->t", R_pred, R_gt) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def trans_err_cm_frames(t_pred: np.ndarray, t_gt: np.ndarray) -> np.ndarray:
    """Distance per frame [T] (cm) between [T,3] translations (m)."""
    return 100.0 * np.linalg.norm(t_pred - t_gt, axis=-1)


def object_rot_err_deg(R_pred: np.ndarray, R_gt: np.ndarray) -> float:
    """Mean geodesic angle (degrees) between [T,3,3] rotations."""
    return float(rot_err_deg_frames(R_pred, R_gt).mean())


def object_trans_err_cm(t_pred: np.ndarray, t_gt: np.ndarray) -> float:
    """Mean distance (cm) between [T,3] translations (m)."""
    return float(trans_err_cm_frames(t_pred, t_gt).mean())


def block_bootstrap_se(x: np.ndarray, block: int = 10, draws: int = 2000, seed: int = 0) -> float:
    """Standard error of the mean of a per-frame series ``x`` [T] by the moving-block bootstrap.

    Frames of a solved sequence are correlated (smoothing, temporal priors), so resampling single frames would
    understate the error; blocks of ``block`` consecutive frames keep that correlation. Returns 0 for a constant
    series and for T < 2."""
    x = np.asarray(x, np.float64)
    T = len(x)
    if T < 2:
        return 0.0
    b = max(1, min(block, T))
    starts = np.random.default_rng(seed).integers(0, T - b + 1, size=(draws, -(-T // b)))
    idx = (starts[..., None] + np.arange(b)).reshape(draws, -1)[:, :T]
    return float(x[idx].mean(axis=1).std())


def cd_o_cm(vertices: np.ndarray, faces: np.ndarray, R_pred: np.ndarray, t_pred: np.ndarray, R_gt: np.ndarray,
            t_gt: np.ndarray, n: int = 20000, seed: int = 0) -> float:
    """Eq. 21 averaged over frames (cm): the same ``n`` surface samples posed by the predicted and true poses."""
    pts = sample_surface(np.asarray(vertices, np.float64), np.asarray(faces), n, seed)
    out = []
    for Rp, tp, Rg, tg in zip(R_pred, t_pred, R_gt, t_gt):
        a, b = pts @ Rp.T + tp, pts @ Rg.T + tg
        out.append(cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean())
    return float(100.0 * np.mean(out))


def contact_dist_cm(body_keypoints: np.ndarray, obj_vertices: np.ndarray, R: np.ndarray, t: np.ndarray,
                    contact_vertex: np.ndarray) -> float:
    """Mean keypoint–object-point distance (cm) over all pairs of all frames (0 without pairs).

    body_keypoints: [T,87,3] (m, same frame as the object pose); obj_vertices [V,3] (object frame);
    R [T,3,3], t [T,3]; contact_vertex [T,87] object vertex per keypoint row (−1 none).
    """
    f, k = np.nonzero(contact_vertex >= 0)
    if len(f) == 0:
        return 0.0
    o = np.einsum("nij,nj->ni", R[f], obj_vertices[contact_vertex[f, k]]) + t[f]
    return float(100.0 * np.linalg.norm(body_keypoints[f, k] - o, axis=-1).mean())


def penetration_cm(body_vertices: np.ndarray, R: np.ndarray, t: np.ndarray, sdf: SDFGrid | None = None,
                   obj_vertices: np.ndarray | None = None, obj_faces: np.ndarray | None = None, res: int = 64
                   ) -> float:
    """Mean over frames of the deepest body vertex inside the object (cm).

    body_vertices: [T,N,3] (m); R, t: object pose per frame. Pass an :class:`SDFGrid` or the object mesh (a
    ``res³`` grid is built).
    """
    if sdf is None:
        sdf = build_sdf(np.asarray(obj_vertices), np.asarray(obj_faces), res=res, scale=1.1)
    local = np.einsum("tji,tnj->tni", R, body_vertices - t[:, None])
    with torch.no_grad():
        d = sdf.query_signed(torch.as_tensor(local, dtype=torch.float32)).numpy()
    return float(100.0 * np.clip(-d, 0.0, None).max(axis=1).mean())


def solver_metrics(body_keypoints: np.ndarray, body_vertices: np.ndarray, obj_vertices: np.ndarray,
                   obj_faces: np.ndarray, R: np.ndarray, t: np.ndarray, R_gt: np.ndarray, t_gt: np.ndarray,
                   contact_vertex: np.ndarray, n_cd: int = 5000, sdf: SDFGrid | None = None) -> dict[str, float]:
    """All five metrics of one solution (see the module doc) as a dict."""
    return {
        "object_rot_err_deg": object_rot_err_deg(R, R_gt),
        "object_trans_err_cm": object_trans_err_cm(t, t_gt),
        "cd_o_cm": cd_o_cm(obj_vertices, obj_faces, R, t, R_gt, t_gt, n=n_cd),
        "contact_dist_cm": contact_dist_cm(body_keypoints, obj_vertices, R, t, contact_vertex),
        "penetration_cm": penetration_cm(body_vertices, R, t, sdf, obj_vertices, obj_faces),
    }
