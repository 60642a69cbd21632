"""Error metrics of a reconstructed :class:`HOISequence` against synthetic ground truth (same session, same mesh).

All lengths are reported in **centimetres**, angles in degrees, averaged over frames:

* ``object_rot_err_deg``: geodesic angle between predicted and true object rotations;
* ``object_trans_err_cm``: distance between predicted and true object translations (centroid positions);
* ``cd_o_cm``: object Chamfer distance (paper Eq. 21) between the posed meshes, on ``n_points`` surface samples
  (the paper uses 2·10⁴; the same samples are used for both poses since the mesh is the same);
* ``contact_dist_cm``: mean distance between each annotated keypoint (body model, predicted human) and its object
  vertex (predicted object), over the ground truth's pairs;
* ``penetration_cm``: per frame, the deepest human vertex inside the object (inside: a vote of the 8 nearest of
  20000 surface samples' outward normals; depth: distance to the nearest sample), then averaged over frames.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree

from hoi_sim.recon.sequence import HOISequence
from hoi_sim.recon.types import SolverInput

METRIC_KEYS = ("object_rot_err_deg", "object_trans_err_cm", "cd_o_cm", "contact_dist_cm", "penetration_cm")


def surface_samples(vertices: np.ndarray, faces: np.ndarray, n: int, seed: int = 0,
                    normals: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """[n,3] area-uniform surface samples (fixed seed), and with ``normals`` their unit face normals [n,3]."""
    rng = np.random.default_rng(seed)
    tri = vertices[faces]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    area = 0.5 * np.linalg.norm(cross, axis=1)
    f = rng.choice(len(faces), size=n, p=area / area.sum())
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    t = tri[f]
    pts = t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])
    if not normals:
        return pts
    return pts, cross[f] / np.maximum(2 * area[f], 1e-30)[:, None]


def winding_number(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, chunk: int = 2_000_000) -> np.ndarray:
    """[P] generalised winding number of each point w.r.t. the triangle mesh (≈1 inside, ≈0 outside)."""
    tri = vertices[faces]
    out = np.zeros(len(points))
    step = max(1, chunk // max(1, len(faces)))
    for s in range(0, len(points), step):
        a = tri[None, :, 0] - points[s:s + step, None]
        b = tri[None, :, 1] - points[s:s + step, None]
        c = tri[None, :, 2] - points[s:s + step, None]
        la, lb, lc = (np.linalg.norm(x, axis=-1) for x in (a, b, c))
        det = np.einsum("pfi,pfi->pf", a, np.cross(b, c))
        den = (la * lb * lc + np.einsum("pfi,pfi->pf", a, b) * lc + np.einsum("pfi,pfi->pf", b, c) * la
               + np.einsum("pfi,pfi->pf", c, a) * lb)
        out[s:s + step] = np.arctan2(det, den).sum(axis=1) / (2 * np.pi)
    return out


def _rot_angle_deg(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
    cos = (np.einsum("tij,tij->t", Ra, Rb) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def sequence_metrics(pred: HOISequence, gt: HOISequence, body_model=None, *, n_points: int = 2000,
                     frames: np.ndarray | None = None) -> dict[str, float]:
    """Compare ``pred`` with ``gt`` over their common absolute frames (or the given absolute ``frames``)."""
    if body_model is None:
        from hoi_sim.body.proxy import ProxyBody

        body_model = ProxyBody()
    common = np.arange(max(pred.start_frame, gt.start_frame),
                       min(pred.start_frame + pred.num_frames, gt.start_frame + gt.num_frames))
    if frames is not None:
        common = np.intersect1d(common, frames)
    if common.size == 0:
        raise ValueError("prediction and ground truth share no frames")
    ip, ig = common - pred.start_frame, common - gt.start_frame
    Rp, Rg, tp, tg = pred.obj_R[ip], gt.obj_R[ig], pred.obj_t[ip], gt.obj_t[ig]
    out = {"object_rot_err_deg": float(_rot_angle_deg(Rp, Rg).mean()),
           "object_trans_err_cm": float(100 * np.linalg.norm(tp - tg, axis=1).mean())}
    pts = surface_samples(gt.obj_vertices, gt.obj_faces, n_points)
    cd = []
    for k in range(len(common)):
        a, b = pts @ Rp[k].T + tp[k], pts @ Rg[k].T + tg[k]
        cd.append(cKDTree(b).query(a)[0].mean() + cKDTree(a).query(b)[0].mean())
    out["cd_o_cm"] = float(100 * np.mean(cd))

    from hoi_sim.body.base import BodyParams

    dtype = getattr(body_model, "dtype", torch.float32)
    with torch.no_grad():
        body = body_model(BodyParams.from_numpy(pred.human.slice(ip), dtype=dtype))
    kps = body.keypoints.double().cpu().numpy()
    hv = body.vertices.double().cpu().numpy()
    contact = gt.contact_vertex[ig]
    dists = []
    for k in range(len(common)):
        rows = np.flatnonzero(contact[k] >= 0)
        if rows.size:
            ov = pred.obj_vertices[contact[k, rows]] @ Rp[k].T + tp[k]
            dists.extend(np.linalg.norm(kps[k, rows] - ov, axis=1).tolist())
    out["contact_dist_cm"] = float(100 * np.mean(dists)) if dists else 0.0
    samples, normals = surface_samples(pred.obj_vertices, pred.obj_faces, 20000, seed=1, normals=True)
    tree = cKDTree(samples)
    out["penetration_cm"] = float(100 * np.mean([
        penetration_depth(hv[k], Rp[k], tp[k], tree, normals) for k in range(len(common))]))
    return out


def penetration_depth(human_vertices: np.ndarray, R: np.ndarray, t: np.ndarray, tree: cKDTree,
                      normals: np.ndarray, votes: int = 8) -> float:
    """Deepest human vertex inside the object posed by (R, t) (m), 0 when none is inside.

    ``tree``: KD-tree of object surface samples (object frame), ``normals`` [S,3] their outward face normals. A point
    is inside when most of its ``votes`` nearest samples see it behind their face ((p − s)·n < 0); its depth is the
    distance to the nearest sample. (Cheap; :func:`winding_number` is the exact but ~1000× slower test.)
    """
    local = (human_vertices - t) @ R  # into the object frame
    d, idx = tree.query(local, k=votes)
    behind = np.einsum("pki,pki->pk", local[:, None, :] - tree.data[idx], normals[idx]) < 0
    inside = behind.mean(axis=1) > 0.5
    return float(d[inside, 0].max()) if inside.any() else 0.0


def sequence_from_input(inp: SolverInput) -> HOISequence:
    """The initialisation of a session as a :class:`HOISequence` (camera frame), to score it like a solution."""
    return HOISequence(human=inp.human_incam.copy(), obj_vertices=inp.object.vertices, obj_faces=inp.object.faces,
                       obj_R=inp.obj_R_init.copy(), obj_t=inp.obj_t_init.copy(), contact_vertex=inp.contact_vertex,
                       K=inp.K, fps=inp.fps, start_frame=inp.start_frame, image_size=inp.image_size,
                       cam_to_world=(np.repeat(inp.cam_to_world[None], inp.num_frames, axis=0)
                                     if inp.cam_to_world is not None else None),
                       meta={"source": "initialisation", "object_file_scale": inp.object.scale})


def metrics_with_init(pred: HOISequence, init: HOISequence, gt: HOISequence, body_model=None,
                      n_points: int = 2000) -> dict[str, float]:
    """``sequence_metrics`` of the solution plus the same keys prefixed ``init_`` for the initialisation."""
    m = sequence_metrics(pred, gt, body_model, n_points=n_points)
    m.update({f"init_{k}": v for k, v in sequence_metrics(init, gt, body_model, n_points=n_points).items()})
    return m
