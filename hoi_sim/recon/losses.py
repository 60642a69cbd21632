"""Stage-2 loss terms (paper Eq. 13–20), each returning one value per frame [B] so that a batch of keyframes is a
sum of independent problems (Adam is per-coordinate, so optimising the sum equals optimising each keyframe alone).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import distance_transform_edt

from hoi_sim.body.mesh import primitives_sdf
from hoi_sim.recon.config import LossWeights
from hoi_sim.recon.sdf import SDFGrid


def contact_loss(body_pts: torch.Tensor, obj_pts: torch.Tensor, mask: torch.Tensor, eps: float = 0.1
                 ) -> torch.Tensor:
    """Eq. 18–19: ``Σ w_i d_i²`` with ``w_i = (d_i+ε)²/Σ_j(d_j+ε)²`` (not detached, as the released code).

    body_pts, obj_pts: [B,N,3] paired points (m); mask: [B,N] valid pairs. Returns [B] (m²); 0 without pairs.
    """
    diff = body_pts - obj_pts
    d = ((diff * diff).sum(-1) + 1e-12).sqrt()
    w = ((d + eps) ** 2) * mask
    w = w / w.sum(1, keepdim=True).clamp_min(1e-12)
    return (w * d * d * mask).sum(1)


def collision_loss(human_verts: torch.Tensor, obj_R: torch.Tensor, obj_t: torch.Tensor, obj_verts: torch.Tensor,
                   obj_sdf: SDFGrid, body_pos: torch.Tensor, body_rot: torch.Tensor, human_in_object: float = 10.0,
                   margin: float = 0.0) -> torch.Tensor:
    """Eq. 20, both directions: ``λ·Σ phi_obj(human vertices) + Σ phi_body(object vertices)`` per frame [B] (m).

    human_verts: [B,S,3] sampled body vertices; obj_R [B,3,3], obj_t [B,3]: object pose; obj_verts: [B,O,3] posed
    sampled object vertices (same frame); body_pos/body_rot: the body frames for the analytic primitive SDF.
    margin: depths up to this (m) are free (each depth counts as ``max(φ − margin, 0)``).
    """
    local = torch.einsum("bji,bnj->bni", obj_R, human_verts - obj_t[:, None])
    h_in_o = (obj_sdf.query(local) - margin).clamp_min(0.0).sum(1)
    o_in_h = (-primitives_sdf(obj_verts, body_pos, body_rot) - margin).clamp_min(0.0).sum(1)
    return human_in_object * h_in_o + o_in_h


def edge_map(mask: torch.Tensor, pool: int = 7) -> torch.Tensor:
    """Eq. 15: ``maxpool(m) − m`` (an outer band about pool/2 pixels wide), [B,H,W] → [B,H,W]."""
    return F.max_pool2d(mask[:, None], pool, stride=1, padding=pool // 2)[:, 0] - mask


def edge_weights(gt: np.ndarray, pool: int = 7) -> np.ndarray:
    """Distance-transform weights of Eq. 16: distance (render pixels) to the GT edge band, [B,H,W] → [B,H,W]."""
    g = torch.as_tensor(gt, dtype=torch.float32)
    band = edge_map(g, pool).numpy() > 0.5
    out = np.zeros(gt.shape, dtype=np.float32)
    for i in range(len(gt)):
        out[i] = distance_transform_edt(~band[i]) if band[i].any() else 0.0
    return out


def mask_loss(sil_h: torch.Tensor, sil_o: torch.Tensor, gt_h: torch.Tensor, gt_o: torch.Tensor,
              w_edge_h: torch.Tensor, w_edge_o: torch.Tensor, weights: LossWeights, pool: int = 7,
              occ_h: torch.Tensor | None = None, occ_o: torch.Tensor | None = None, valid: torch.Tensor | None = None
              ) -> torch.Tensor:
    """Eq. 13–17 per frame [B]: occlusion-masked MSE plus edge term, human and object weighted.

    sil_*: rendered silhouettes [B,H,W]; gt_*: ground-truth masks [B,H,W] in [0,1]; w_edge_*: EDT weights [B,H,W].
    occ_h/occ_o: what hides each silhouette (default: the other's GT mask, Eq. 13; the depth mode passes the
    other's rendered silhouette where it is in front). valid: [B] frames that have masks (others get 0).
    """
    occ_h = gt_o if occ_h is None else occ_h
    occ_o = gt_h if occ_o is None else occ_o
    mh = sil_h * (1.0 - occ_h)
    mo = sil_o * (1.0 - occ_o)
    mse_h = ((mh - gt_h) ** 2).mean((1, 2))
    mse_o = ((mo - gt_o) ** 2).mean((1, 2))
    edge_h = (edge_map(mh, pool) * w_edge_h).sum((1, 2))
    edge_o = (edge_map(mo, pool) * w_edge_o).sum((1, 2))
    out = weights.mask_human * (weights.mask_mse * mse_h + weights.mask_edge * edge_h) + \
        weights.mask_object * (weights.mask_mse * mse_o + weights.mask_edge * edge_o)
    return out if valid is None else out * valid.to(out.dtype)


def translation_guard(dt: torch.Tensor, limit: float = 0.1) -> torch.Tensor:
    """1e6 · squared excess of any |δt| component beyond ``limit`` (m), per frame [B] (the released code's guard)."""
    return 1e6 * ((dt.abs() - limit).clamp_min(0.0) ** 2).sum(-1)


def downsample_masks(masks: np.ndarray, h: int, w: int) -> np.ndarray:
    """[B,H,W] bool/float masks → [B,h,w] float32 coverage by area averaging (no square padding; notes open q. 2)."""
    t = torch.as_tensor(np.asarray(masks), dtype=torch.float32)[:, None]
    return F.interpolate(t, size=(h, w), mode="area")[:, 0].numpy()
