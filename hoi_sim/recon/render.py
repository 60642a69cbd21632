"""A pure-torch differentiable silhouette renderer (soft rasteriser) for the stage-2 mask loss, on the CPU.

Vertices in the camera frame (OpenCV, m) are projected with a pinhole K. Every face contributes to the pixels of
its screen bounding box (grown by ``4σ``) a coverage ``D = sigmoid(d/σ)``, where ``d`` is the signed distance
(pixels, positive inside) from the pixel centre to the projected triangle: the smallest edge-line distance inside,
minus the distance to the nearest edge segment outside. Faces that contain the pixel combine as ``1 − Π(1 − D)``
(accumulated in log space with ``index_add``); faces that miss it contribute only their largest tail ``max D``
(``scatter_reduce amax``), so that the many grazing faces along a silhouette do not add up into a halo:
``sil = 1 − (1 − max_out D)·Π_in(1 − D)``. Work is done over (face, pixel) pairs inside each face's grown bounding
box, so the cost scales with the faces' screen area rather than faces × pixels. Faces are double-sided (either
winding). A detached per-pixel nearest depth comes along for depth-ordered occlusion. Pixel (i, j) has its
centre at (j + 0.5, i + 0.5) in render pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NEAR = 0.1


def scale_intrinsics(K: torch.Tensor, scale: float) -> torch.Tensor:
    """K [3,3] of the full image → K of an image resized by ``scale`` (pixel edges kept aligned)."""
    S = torch.diag(torch.tensor([scale, scale, 1.0], dtype=K.dtype, device=K.device))
    return S @ K


def render_size(height: int, width: int, scale: float, max_side: int) -> tuple[int, int, float]:
    """(h, w, s): render resolution for a video of ``height × width`` and the scale actually used."""
    s = min(scale, max_side / max(height, width))
    return max(1, round(height * s)), max(1, round(width * s)), s


def project(verts: torch.Tensor, K: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Camera-frame points [...,3] → pixels [...,2] and depth [...] (depth clamped at the near plane)."""
    z = verts[..., 2].clamp_min(NEAR)
    u = (K[0, 0] * verts[..., 0] + K[0, 1] * verts[..., 1]) / z + K[0, 2]
    v = K[1, 1] * verts[..., 1] / z + K[1, 2]
    return torch.stack([u, v], -1), z


def _pairs(tri: torch.Tensor, keep: torch.Tensor, h: int, w: int, margin: float
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(face, pixel) pairs inside grown bounding boxes: flat face id [P], pixel x [P], pixel y [P] (no grad).

    Faces with (near) zero screen area are skipped: they cover nothing and their edge distances are undefined."""
    with torch.no_grad():
        e1, e2 = tri[..., 1, :] - tri[..., 0, :], tri[..., 2, :] - tri[..., 0, :]
        keep = keep & ((e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]).abs() > 1e-6)
        lo = tri.amin(-2) - margin - 0.5
        hi = tri.amax(-2) + margin - 0.5
        x0 = lo[..., 0].ceil().clamp(0, w).long()
        y0 = lo[..., 1].ceil().clamp(0, h).long()
        x1 = hi[..., 0].floor().clamp(-1, w - 1).long()
        y1 = hi[..., 1].floor().clamp(-1, h - 1).long()
        nx = (x1 - x0 + 1).clamp_min(0)
        ny = (y1 - y0 + 1).clamp_min(0)
        cnt = (nx * ny * keep).reshape(-1)
        fid = torch.repeat_interleave(torch.arange(cnt.numel(), device=tri.device), cnt)
        start = torch.cumsum(cnt, 0) - cnt
        k = torch.arange(fid.numel(), device=tri.device) - start[fid]
        nxf = nx.reshape(-1)[fid]
        px = x0.reshape(-1)[fid] + k % nxf.clamp_min(1)
        py = y0.reshape(-1)[fid] + k // nxf.clamp_min(1)
    return fid, px, py


def _signed_distance(tri: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Signed distance (positive inside) of points p [P,2] to triangles tri [P,3,2] of either winding."""
    a, b, c = tri.unbind(-2)
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    sgn = torch.where(area >= 0, 1.0, -1.0).to(tri.dtype)
    line, seg = [], []
    for e0, e1 in ((a, b), (b, c), (c, a)):
        ed = e1 - e0
        ex, ey = ed[:, 0], ed[:, 1]
        L2 = (ex * ex + ey * ey).clamp_min(1e-18)
        rx, ry = p[:, 0] - e0[:, 0], p[:, 1] - e0[:, 1]
        line.append(sgn * (ex * ry - ey * rx) / L2.sqrt())
        t = ((rx * ex + ry * ey) / L2).clamp(0.0, 1.0)
        dx, dy = rx - t * ex, ry - t * ey
        seg.append((dx * dx + dy * dy + 1e-12).sqrt())
    lines = torch.stack(line, -1)
    d_in = lines.amin(-1)
    d_out = torch.stack(seg, -1).amin(-1)
    return torch.where(d_in >= 0, d_in, -d_out)


def render_silhouette(verts: torch.Tensor, faces: torch.Tensor, K: torch.Tensor, height: int, width: int,
                      sigma: float = 0.5, max_pairs: int = 4_000_000, with_depth: bool = False
                      ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Soft silhouettes (and, on request, the depth of the nearest face — its mean vertex depth — per pixel).

    Args:
        verts: [B,V,3] camera-frame vertices (m). faces: [F,3] int64. K: [3,3] intrinsics of the render
            (see :func:`scale_intrinsics`). height, width: render size (pixels). sigma: edge softness (pixels).
        max_pairs: (face, pixel) pairs processed per chunk (memory bound).
        with_depth: also return the nearest covering depth per pixel (detached; +inf where empty).

    Returns:
        silhouette [B,H,W] in [0,1] (differentiable in ``verts``) and depth [B,H,W] or None.
    """
    B = verts.shape[0]
    uv, z = project(verts, K)
    tri = uv[:, faces]  # [B,F,3,2]
    ztri = z[:, faces]
    keep = (verts[:, faces][..., 2] > NEAR).all(-1)
    fid, px, py = _pairs(tri, keep, height, width, 4.0 * sigma)
    tri_flat = tri.reshape(-1, 3, 2)
    F_ = faces.shape[0]
    S = verts.new_zeros(B * height * width)
    T = verts.new_zeros(B * height * width)
    depth = None
    if with_depth:
        depth = torch.full((B * height * width,), float("inf"), dtype=verts.dtype, device=verts.device)
    for s in range(0, fid.numel(), max_pairs):
        f, x, y = fid[s:s + max_pairs], px[s:s + max_pairs], py[s:s + max_pairs]
        pc = torch.stack([x, y], -1).to(verts.dtype) + 0.5
        d = _signed_distance(tri_flat[f], pc)
        pix = (f // F_) * (height * width) + y * width + x
        inside_f = (d >= 0).to(d.dtype)
        S = S.index_add(0, pix, F.softplus(d / sigma) * inside_f)
        T = T.scatter_reduce(0, pix, torch.sigmoid(d / sigma) * (1 - inside_f), reduce="amax")
        if with_depth:
            with torch.no_grad():
                inside = d > 0
                zf = ztri.reshape(-1, 3)[f[inside]].detach().mean(-1)
                depth.scatter_reduce_(0, pix[inside], zf, reduce="amin")
    sil = 1.0 - (1.0 - T) * torch.exp(-S)
    sil = sil.reshape(B, height, width)
    return sil, (depth.reshape(B, height, width) if with_depth else None)


def hard_silhouette(verts: torch.Tensor, faces: torch.Tensor, K: torch.Tensor, height: int, width: int
                    ) -> torch.Tensor:
    """Reference rasterisation: a pixel is on when its centre lies in a projected face. [B,H,W] bool (no grad)."""
    with torch.no_grad():
        uv, _ = project(verts, K)
        tri = uv[:, faces]
        keep = (verts[:, faces][..., 2] > NEAR).all(-1)
        fid, px, py = _pairs(tri, keep, height, width, 0.0)
        pc = torch.stack([px, py], -1).to(verts.dtype) + 0.5
        inside = _signed_distance(tri.reshape(-1, 3, 2)[fid], pc) >= 0
        out = torch.zeros(verts.shape[0] * height * width, dtype=torch.bool, device=verts.device)
        pix = (fid // faces.shape[0]) * (height * width) + py * width + px
        out[pix[inside]] = True
    return out.reshape(verts.shape[0], height, width)
