"""A hard z-buffer rasteriser (numpy) for synthetic masks: which mesh is visible at each pixel.

Not differentiable (the solver's silhouette renderer is ``recon.render``); used to make ground-truth visible masks
and preview frames. Pixel (i, j) has its centre at (j + 0.5, i + 0.5) (x right, y down), like the solver's renderer
(``recon.render``), so the pixel containing a projected point ``uv`` is ``floor(uv)``.
"""

from __future__ import annotations

import numpy as np

_MAX_CANDIDATES = 2_000_000


def project(points_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """[...,3] camera-frame points (m, OpenCV) → [...,2] pixels (x right, y down)."""
    z = points_cam[..., 2:3]
    uv1 = points_cam @ K.T
    return uv1[..., :2] / np.where(np.abs(z) < 1e-9, 1e-9, z)


def rasterize_labels(meshes: list[tuple[np.ndarray, np.ndarray]], K: np.ndarray, height: int, width: int,
                     near: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffer the meshes ``[(vertices_cam [V,3], faces [F,3]), ...]``.

    Returns ``label [H,W]`` int16 (index of the nearest mesh, −1 background) and ``depth [H,W]`` (m, inf where
    empty). Triangles with a vertex closer than ``near`` are skipped.
    """
    tris, owner = [], []
    for i, (v, f) in enumerate(meshes):
        t = np.asarray(v, np.float64)[np.asarray(f, np.int64)]  # [F,3,3]
        keep = (t[..., 2] > near).all(axis=1)
        tris.append(t[keep])
        owner.append(np.full(int(keep.sum()), i, np.int16))
    tri = np.concatenate(tris) if tris else np.zeros((0, 3, 3))
    own = np.concatenate(owner) if owner else np.zeros(0, np.int16)
    depth = np.full(height * width, np.inf)
    label = np.full(height * width, -1, np.int16)
    if len(tri) == 0:
        return label.reshape(height, width), depth.reshape(height, width)
    uv = project(tri, K)  # [F,3,2]
    z = tri[..., 2]
    x0 = np.clip(np.ceil(uv[..., 0].min(1) - 0.5), 0, width).astype(np.int64)
    x1 = np.clip(np.floor(uv[..., 0].max(1) - 0.5), -1, width - 1).astype(np.int64)
    y0 = np.clip(np.ceil(uv[..., 1].min(1) - 0.5), 0, height).astype(np.int64)
    y1 = np.clip(np.floor(uv[..., 1].max(1) - 0.5), -1, height - 1).astype(np.int64)
    bw, bh = x1 - x0 + 1, y1 - y0 + 1
    ok = (bw > 0) & (bh > 0)
    idx = np.flatnonzero(ok)
    counts = bw[idx] * bh[idx]
    # split into chunks of at most _MAX_CANDIDATES (pixel, triangle) candidates
    bounds = np.searchsorted(np.cumsum(counts), np.arange(_MAX_CANDIDATES, counts.sum() + _MAX_CANDIDATES,
                                                          _MAX_CANDIDATES), side="right")
    lo = 0
    for hi in np.unique(np.append(np.maximum(bounds, 1), len(idx))):
        hi = max(int(hi), lo + 1)
        if lo >= len(idx):
            break
        sel = idx[lo:hi]
        _raster_chunk(sel, uv, z, x0, y0, bw, bh, own, width, depth, label)
        lo = hi
    return label.reshape(height, width), depth.reshape(height, width)


def _raster_chunk(sel: np.ndarray, uv: np.ndarray, z: np.ndarray, x0: np.ndarray, y0: np.ndarray, bw: np.ndarray,
                  bh: np.ndarray, own: np.ndarray, width: int, depth: np.ndarray, label: np.ndarray) -> None:
    n = bw[sel] * bh[sel]
    tri = np.repeat(sel, n)
    start = np.repeat(np.cumsum(n) - n, n)
    k = np.arange(int(n.sum())) - start
    px = x0[tri] + k % bw[tri]
    py = y0[tri] + k // bw[tri]
    a, b, c = uv[tri, 0], uv[tri, 1], uv[tri, 2]
    p = np.stack([px, py], axis=1).astype(np.float64) + 0.5

    def edge(p0: np.ndarray, p1: np.ndarray, q: np.ndarray) -> np.ndarray:
        return (p1[:, 0] - p0[:, 0]) * (q[:, 1] - p0[:, 1]) - (p1[:, 1] - p0[:, 1]) * (q[:, 0] - p0[:, 0])

    area = edge(a, b, c)
    w0, w1, w2 = edge(b, c, p), edge(c, a, p), edge(a, b, p)
    s = np.where(area < 0, -1.0, 1.0)
    inside = (np.abs(area) > 1e-12) & (w0 * s >= 0) & (w1 * s >= 0) & (w2 * s >= 0)
    if not inside.any():
        return
    tri, px, py = tri[inside], px[inside], py[inside]
    w = np.stack([w0[inside], w1[inside], w2[inside]], axis=1) / area[inside][:, None]
    inv_z = (w / z[tri]).sum(axis=1)  # perspective-correct depth
    d = 1.0 / np.maximum(inv_z, 1e-12)
    pix = py * width + px
    order = np.lexsort((d, pix))
    pix, d, tri = pix[order], d[order], tri[order]
    first = np.ones(len(pix), bool)
    first[1:] = pix[1:] != pix[:-1]
    pix, d, tri = pix[first], d[first], tri[first]
    closer = d < depth[pix]
    depth[pix[closer]] = d[closer]
    label[pix[closer]] = own[tri[closer]]
