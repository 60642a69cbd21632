"""Interaction-graph helpers: nearest surface points and a graph built from +1 contact labels.

Rule (documented in docs/motion_format.md): every contiguous run of frames in which body b has label +1 becomes
one edge k. Over the run's frames, the body origin is moved into the object frame and its nearest point on the
object surface is found; ``ig_obj_point[k]`` is the mean of those points (object frame), ``ig_body_offset[k]`` is
the mean of that object point expressed in the body frame, and ``ig_active[:, k]`` is true exactly on the run.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.spatial import cKDTree
from trimesh.triangles import closest_point as closest_point_on_triangles

from hoi_sim import rotations as rot
from hoi_sim.motions.schema import empty_graph


def closest_surface_points(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray,
                           chunk: int = 256) -> np.ndarray:
    """Exact nearest points [N, 3] on a triangle mesh (vertices [V,3], faces [F,3]) to query points [N, 3].

    Candidate triangles for a point are those whose bounding sphere comes within the distance to the nearest
    vertex (an upper bound on the distance to the surface); the nearest point over the candidates is exact.
    """
    vertices = np.asarray(vertices, np.float64)
    points = np.asarray(points, np.float64)
    tri = vertices[np.asarray(faces)]  # [F, 3, 3]
    centre = tri.mean(axis=1)
    radius = np.linalg.norm(tri - centre[:, None], axis=-1).max(axis=1)
    d_vert, _ = cKDTree(vertices).query(points)
    tree = cKDTree(centre)
    r_max = float(radius.max())
    out = np.empty_like(points)
    for s in range(0, len(points), chunk):
        block = points[s:s + chunk]
        cands = tree.query_ball_point(block, d_vert[s:s + chunk] + r_max + 1e-9)
        owner = np.concatenate([np.full(len(c), i) for i, c in enumerate(cands)]).astype(np.int64)
        face = np.concatenate([np.asarray(c, np.int64) for c in cands])
        lower = np.linalg.norm(block[owner] - centre[face], axis=-1) - radius[face]
        keep = lower <= d_vert[s:s + chunk][owner] + 1e-9
        owner, face = owner[keep], face[keep]
        cp = closest_point_on_triangles(tri[face], block[owner])
        dist = np.linalg.norm(cp - block[owner], axis=-1)
        order = np.lexsort((dist, owner))
        first = np.unique(owner[order], return_index=True)[1]
        out[s:s + len(block)] = cp[order[first]]
    return out


def contact_runs(label: np.ndarray) -> list[tuple[int, int, int]]:
    """Contiguous +1 runs of contact_label [T, 52] as (body, first frame, last frame + 1), by body then time."""
    runs = []
    on = np.asarray(label) == 1
    for b in range(on.shape[1]):
        x = np.concatenate([[False], on[:, b], [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(x))
        runs += [(b, int(s), int(e)) for s, e in zip(edges[::2], edges[1::2])]
    return runs


def graph_from_contacts(contact_label: np.ndarray, body_pos: np.ndarray, body_quat: np.ndarray,
                        obj_pos: np.ndarray, obj_quat: np.ndarray, obj_vertices: np.ndarray,
                        obj_faces: np.ndarray) -> dict[str, np.ndarray]:
    """Interaction graph from +1 labels (rule in the module docstring).

    Args: contact_label [T,52] int, body_pos [T,52,3] m, body_quat [T,52,4] wxyz, obj_pos [T,3] m,
    obj_quat [T,4] wxyz, obj_vertices [V,3] (object frame), obj_faces [F,3].
    Returns the ``ig_body`` [K], ``ig_body_offset`` [K,3], ``ig_obj_point`` [K,3], ``ig_active`` [T,K] arrays.
    """
    T = contact_label.shape[0]
    runs = contact_runs(contact_label)
    if not runs:
        return empty_graph(T)
    frames = np.concatenate([np.arange(s, e) for _, s, e in runs])
    bodies = np.concatenate([np.full(e - s, b) for b, s, e in runs])
    f64 = torch.float64
    oq = torch.as_tensor(np.asarray(obj_quat, np.float64)[frames], dtype=f64)
    op = torch.as_tensor(np.asarray(obj_pos, np.float64)[frames], dtype=f64)
    bp = torch.as_tensor(np.asarray(body_pos, np.float64)[frames, bodies], dtype=f64)
    bq = torch.as_tensor(np.asarray(body_quat, np.float64)[frames, bodies], dtype=f64)
    local = rot.quat_rotate(rot.quat_conj(rot.quat_normalize(oq)), bp - op).numpy()
    nearest = closest_surface_points(obj_vertices, obj_faces, local)
    K = len(runs)
    ig_body = np.array([b for b, _, _ in runs], np.int64)
    ig_obj_point = np.zeros((K, 3))
    ig_body_offset = np.zeros((K, 3))
    ig_active = np.zeros((T, K), bool)
    start = 0
    for k, (_, s, e) in enumerate(runs):
        sl = slice(start, start + e - s)
        start += e - s
        point = nearest[sl].mean(axis=0)
        world = rot.quat_rotate(oq[sl], torch.as_tensor(point).expand(e - s, 3)) + op[sl]
        in_body = rot.quat_rotate(rot.quat_conj(rot.quat_normalize(bq[sl])), world - bp[sl])
        ig_obj_point[k] = point
        ig_body_offset[k] = in_body.mean(dim=0).numpy()
        ig_active[s:e, k] = True
    return {"ig_body": ig_body, "ig_body_offset": ig_body_offset.astype(np.float32),
            "ig_obj_point": ig_obj_point.astype(np.float32), "ig_active": ig_active}
