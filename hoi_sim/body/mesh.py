"""Small mesh tools for the body models and the solver: primitive tessellation, vertex-clustering decimation and
an analytic signed distance to the humanoid's collision primitives (capsules, boxes, spheres).

Primitives are expressed in each humanoid body's frame with **SMPL-X axes** (``g_s = Cᵀ g_h``), so that a point is
placed in the param frame with ``body_pos[b] + body_rot[b] @ g_s`` for either body model.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from hoi_sim.body.base import C_S2H
from hoi_sim.skeleton import neutral


def uv_capsule(p0: np.ndarray, p1: np.ndarray, radius: float, segments: int = 8, rings: int = 3
               ) -> tuple[np.ndarray, np.ndarray]:
    """Closed capsule mesh between points ``p0``/``p1`` [3] (m): vertices [V,3], faces [F,3] (outward, CCW).

    ``rings`` latitude rings per hemisphere (≥ 1); a zero-length capsule is a sphere.
    """
    axis = p1 - p0
    length = float(np.linalg.norm(axis))
    z = axis / length if length > 1e-9 else np.array([0.0, 0.0, 1.0])
    tmp = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(tmp, z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    lat = np.concatenate([np.linspace(np.pi / 2, 0.0, rings + 1)[1:], -np.linspace(0.0, np.pi / 2, rings + 1)[:-1]])
    shift = np.concatenate([np.full(rings, length / 2), np.full(rings, -length / 2)])
    phi = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    verts = [np.array([0.0, 0.0, radius + length / 2])]
    for la, sh in zip(lat, shift):
        for ph in phi:
            verts.append(np.array([radius * np.cos(la) * np.cos(ph), radius * np.cos(la) * np.sin(ph),
                                   radius * np.sin(la) + sh]))
    verts.append(np.array([0.0, 0.0, -radius - length / 2]))
    v = np.stack(verts)
    n_r = 2 * rings
    faces = []
    for s in range(segments):
        faces.append([0, 1 + s, 1 + (s + 1) % segments])
    for r in range(n_r - 1):
        a, b = 1 + r * segments, 1 + (r + 1) * segments
        for s in range(segments):
            s1 = (s + 1) % segments
            faces.append([a + s, b + s, b + s1])
            faces.append([a + s, b + s1, a + s1])
    last = 1 + (n_r - 1) * segments
    bottom = len(v) - 1
    for s in range(segments):
        faces.append([bottom, last + (s + 1) % segments, last + s])
    center = (p0 + p1) / 2
    world = center + v @ np.stack([x, y, z])
    return world, np.asarray(faces, dtype=np.int64)


def box_mesh(center: np.ndarray, half: np.ndarray, rot: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Closed box: center [3], half sizes [3], optional rotation [3,3] → vertices [8,3], faces [12,3] (outward)."""
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
    v = signs * half
    if rot is not None:
        v = v @ rot.T
    faces = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                      [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]], dtype=np.int64)
    return v + center, faces


def cluster_decimate(vertices: np.ndarray, faces: np.ndarray, target_vertices: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vertex-clustering decimation on a voxel grid sized to keep about ``target_vertices`` vertices.

    Returns (kept vertex indices [S] into ``vertices``, faces [F',3] into the kept set, cluster id [V] of every
    original vertex). Each cluster is represented by its original vertex nearest the cluster mean (so a decimated
    mesh can be posed by indexing the full one). Degenerate and duplicate faces are dropped.
    """
    V = vertices.shape[0]
    if V <= target_vertices:
        return np.arange(V), faces.copy(), np.arange(V)
    lo, hi = vertices.min(0), vertices.max(0)
    extent = float((hi - lo).max())
    cell = extent / max(2.0, target_vertices ** (1 / 2.2))
    lo_c, hi_c = 0.0, np.inf  # bisection on the cell size: ≤ target, as close to it as 30 tries get
    best = None
    for _ in range(30):
        keys = np.floor((vertices - lo) / cell).astype(np.int64)
        _, cid = np.unique(keys, axis=0, return_inverse=True)
        n = int(cid.max()) + 1
        if n <= target_vertices:
            best = (cid, n)
            hi_c = cell
            if n >= 0.9 * target_vertices:
                break
        else:
            lo_c = cell
        cell = 0.5 * (lo_c + hi_c) if np.isfinite(hi_c) else cell * 1.5
    cid, n = best if best is not None else (cid, n)
    cid = cid.reshape(-1)
    sums = np.zeros((n, 3))
    np.add.at(sums, cid, vertices)
    means = sums / np.bincount(cid, minlength=n)[:, None]
    d = np.linalg.norm(vertices - means[cid], axis=1)
    order = np.lexsort((d, cid))
    first = np.ones(V, dtype=bool)
    first[1:] = cid[order][1:] != cid[order][:-1]
    rep = order[first]  # representative per cluster, cluster order
    f = cid[faces]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    first_idx = np.unique(np.sort(f, axis=1), axis=0, return_index=True)[1]
    return rep, f[np.sort(first_idx)].astype(np.int64), cid


@dataclass(frozen=True)
class Primitives:
    """The humanoid's collision geoms as analytic primitives in SMPL-X-axes body frames (m).

    Capsules: ``cap_body [Nc]``, ``cap_a/cap_b [Nc,3]`` segment ends, ``cap_r [Nc]``. Boxes: ``box_body [Nb]``,
    ``box_center [Nb,3]``, ``box_half [Nb,3]`` (axis-aligned in the body frame). Spheres are zero-length capsules.
    """

    cap_body: np.ndarray
    cap_a: np.ndarray
    cap_b: np.ndarray
    cap_r: np.ndarray
    box_body: np.ndarray
    box_center: np.ndarray
    box_half: np.ndarray


@lru_cache(maxsize=1)
def humanoid_primitives() -> Primitives:
    """Collect the neutral humanoid's geoms (``skeleton.neutral().geoms``) converted to SMPL-X axes."""
    cap_body, cap_a, cap_b, cap_r, box_body, box_c, box_h = [], [], [], [], [], [], []
    ct = C_S2H.T
    for b, geoms in enumerate(neutral().geoms):
        for g in geoms:
            if g.type == "capsule":
                ft = np.asarray(g.fromto, dtype=np.float64)
                cap_body.append(b)
                cap_a.append(ct @ ft[:3])
                cap_b.append(ct @ ft[3:])
                cap_r.append(g.size[0])
            elif g.type == "sphere":
                p = ct @ np.asarray(g.pos or (0.0, 0.0, 0.0))
                cap_body.append(b)
                cap_a.append(p)
                cap_b.append(p)
                cap_r.append(g.size[0])
            elif g.type == "box":
                if g.quat is not None and not np.allclose(g.quat, (1, 0, 0, 0)):
                    raise ValueError("rotated box geoms are not supported by the proxy body")
                box_body.append(b)
                box_c.append(ct @ np.asarray(g.pos))
                box_h.append(np.abs(ct @ np.asarray(g.size)))
            else:
                raise ValueError(f"unsupported humanoid geom type {g.type!r}")
    return Primitives(np.asarray(cap_body), np.asarray(cap_a), np.asarray(cap_b), np.asarray(cap_r),
                      np.asarray(box_body), np.asarray(box_c), np.asarray(box_h))


def primitives_sdf(points: torch.Tensor, body_pos: torch.Tensor, body_rot: torch.Tensor,
                   prims: Primitives | None = None) -> torch.Tensor:
    """Signed distance (m, negative inside) from points to the union of the body's primitives.

    Args:
        points: [B,N,3] query points in the param frame.
        body_pos: [B,52,3], body_rot: [B,52,3,3] from :class:`~hoi_sim.body.base.BodyOutput`.

    Returns:
        [B,N] signed distance to the nearest primitive (differentiable in the points and the body pose).
    """
    prims = prims or humanoid_primitives()
    dt, dev = points.dtype, points.device
    out = []
    cb = torch.as_tensor(prims.cap_body, device=dev)
    if len(cb):
        R, o = body_rot[:, cb], body_pos[:, cb]  # [B,Nc,3,3], [B,Nc,3]
        a = o + (R @ torch.as_tensor(prims.cap_a, dtype=dt, device=dev)[None, :, :, None])[..., 0]
        b = o + (R @ torch.as_tensor(prims.cap_b, dtype=dt, device=dev)[None, :, :, None])[..., 0]
        ab = b - a
        ap = points[:, :, None, :] - a[:, None]  # [B,N,Nc,3]
        denom = (ab * ab).sum(-1).clamp_min(1e-12)[:, None]
        t = ((ap * ab[:, None]).sum(-1) / denom).clamp(0.0, 1.0)
        diff = ap - t[..., None] * ab[:, None]
        d = ((diff * diff).sum(-1) + 1e-12).sqrt()
        out.append(d - torch.as_tensor(prims.cap_r, dtype=dt, device=dev))
    bb = torch.as_tensor(prims.box_body, device=dev)
    if len(bb):
        R, o = body_rot[:, bb], body_pos[:, bb]
        c = o + (R @ torch.as_tensor(prims.box_center, dtype=dt, device=dev)[None, :, :, None])[..., 0]
        rel = points[:, :, None, :] - c[:, None]  # [B,N,Nb,3]
        local = torch.einsum("bkji,bnkj->bnki", R, rel)
        q = local.abs() - torch.as_tensor(prims.box_half, dtype=dt, device=dev)
        qo = q.clamp_min(0.0)
        outside = ((qo * qo).sum(-1) + 1e-12).sqrt()
        inside = q.max(dim=-1).values.clamp_max(0.0)
        out.append(outside + inside)
    return torch.cat(out, dim=-1).min(dim=-1).values
