"""The objective 4DHOISolver can see (no ground truth), per frame, and the keep-or-revert rule built on it.

``O = reprojection + contact + collision + mask`` per frame, each term in the weighting the solver optimises it
with (``docs/recon_solver.md``, "Weights and units"):

* reprojection: ``½·w2d_eff·Σ|π_K(R p + t) − uv|²`` over the frame's 2D track points (px²; ``w2d_eff`` = 2 with the
  paper's √w convention, the stage-1 weight of a squared pixel residual);
* contact: ``w_contact·Σ w_i d_i²`` over the annotated 3D pairs (Eq. 18–19, m², ``w_contact`` = 50);
* collision: ``w_collision·(λ·Σ φ_obj(human) + Σ φ_body(object))`` (Eq. 20, m, ``w_collision`` = 8);
* mask: ``w_mask·L_mask`` (Eq. 13–17) where the frame has masks and is rendered (stage-2 keyframes only).

A stage's result is kept for a frame (or, for a static object, for the whole clip) only when it lowered ``O``
against the stage's own starting point; otherwise the frame returns to that starting point. Every decision is
logged in ``SolverResult.diagnostics["keep_or_revert"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hoi_sim.body.base import BodyModel, BodyParams
from hoi_sim.recon.config import SolverConfig
from hoi_sim.recon.sdf import SDFGrid
from hoi_sim.recon.stage1 import residual_weights
from hoi_sim.recon.stage2 import MaskTargets, Stage2Batch, evaluate_terms

TERMS = ("reprojection", "contact", "collision", "mask")


def keyframe_pairs(cv: np.ndarray, V: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Contact pairs of some frames (``cv [F,87]`` object vertex per keypoint, −1 none): the keypoint rows of each,
    and padded to N: rows [F,N], pair mask [F,N] and object-frame points [F,N,3]."""
    rows = [np.flatnonzero(r >= 0) for r in cv]
    n = max(1, max((len(r) for r in rows), default=0))
    rows_p = np.zeros((len(cv), n), np.int64)
    pmask = np.zeros((len(cv), n), bool)
    for i, r in enumerate(rows):
        rows_p[i, : len(r)], pmask[i, : len(r)] = r, True
    return rows, rows_p, pmask, V[np.take_along_axis(np.clip(cv, 0, None), rows_p, 1)]


@dataclass
class ObjectiveContext:
    """What the objective needs besides the poses: the body model, the full object mesh ``V [Vn,3]`` (m, object
    frame), its sampled vertices ``obj_v [O,3]`` / faces ``obj_f [G,3]`` (torch), its SDF, the config, the
    session's contact vertices ``cv [T,87]``, tracks ``track_v [T,M]``, ``track_xy [T,M,2]`` (px) and ``K``."""

    body: BodyModel
    V: np.ndarray
    obj_v: torch.Tensor
    obj_f: torch.Tensor
    sdf: SDFGrid
    cfg: SolverConfig
    cv: np.ndarray
    track_v: np.ndarray
    track_xy: np.ndarray
    K: np.ndarray


def reprojection_sq_px(V: np.ndarray, R: np.ndarray, t: np.ndarray, track_v: np.ndarray, track_xy: np.ndarray,
                       K: np.ndarray, min_z: float = 0.1) -> np.ndarray:
    """[F] ``Σ|π_K(R p + t) − uv|²`` (px²) over each frame's valid 2D points (``track_v [F,M]``, −1 pad)."""
    valid = (track_v >= 0) & np.isfinite(track_xy).all(-1)
    X = np.einsum("fij,fmj->fmi", R, V[np.clip(track_v, 0, None)]) + t[:, None]
    Z = np.maximum(X[..., 2], min_z)
    u = (K[0, 0] * X[..., 0] + K[0, 1] * X[..., 1]) / Z + K[0, 2]
    v = K[1, 1] * X[..., 1] / Z + K[1, 2]
    r2 = (u - np.nan_to_num(track_xy[..., 0])) ** 2 + (v - np.nan_to_num(track_xy[..., 1])) ** 2
    return (r2 * valid).sum(1)


def frame_objective(ctx: ObjectiveContext, params: BodyParams, R: np.ndarray, t: np.ndarray, frames: np.ndarray,
                    masks: MaskTargets | None = None, render_hw: tuple[int, int] | None = None
                    ) -> dict[str, np.ndarray]:
    """Per-frame terms of ``O`` (module doc) and their sum ``total``, each [F], for the human ``params`` (F frames),
    object pose ``R [F,3,3]``, ``t [F,3]`` at local ``frames [F]``; ``masks`` adds the mask term."""
    s2, w = ctx.cfg.stage2, ctx.cfg.stage2.weights
    _, rows_p, pmask, pts = keyframe_pairs(ctx.cv[frames], ctx.V)
    f32 = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    batch = Stage2Batch(params=params, R1=f32(R), t1=f32(t), rows=torch.as_tensor(rows_p), obj_pts=f32(pts),
                        pair_mask=torch.as_tensor(pmask), joint_mask=torch.zeros(len(frames), 55, dtype=torch.bool),
                        obj_free=torch.zeros(len(frames), dtype=torch.bool), masks=masks)
    terms = evaluate_terms(ctx.body, batch, ctx.obj_v, ctx.obj_f, ctx.sdf, s2, render_hw if masks is not None else None)
    w2d = residual_weights(ctx.cfg.stage1)[1] ** 2
    out = {"reprojection": 0.5 * w2d * reprojection_sq_px(ctx.V, np.asarray(R, np.float64), np.asarray(t, np.float64),
                                                           ctx.track_v[frames], ctx.track_xy[frames], ctx.K,
                                                           ctx.cfg.stage1.min_z),
           "contact": w.contact * terms["contact"].double().numpy(),
           "collision": w.collision * terms["collision"].double().numpy(),
           "mask": w.mask * terms["mask"].double().numpy()}
    out["total"] = sum(out[k] for k in TERMS)
    return out


def keep_mask(before: np.ndarray, after: np.ndarray, joint: bool) -> np.ndarray:
    """[F] bool: frames whose stage result is kept: ``after < before`` per frame, or (``joint``: a static object,
    one pose for the clip) for all frames together by the sums. Ties keep the start (a stage must earn its change).
    """
    before, after = np.asarray(before, np.float64), np.asarray(after, np.float64)
    if joint:
        return np.full(before.shape, bool(after.sum() < before.sum()))
    return after < before


def log_decision(stage: str, before: dict[str, np.ndarray], after: dict[str, np.ndarray], kept: np.ndarray,
                 joint: bool) -> dict[str, Any]:
    """One stage's entry of ``diagnostics["keep_or_revert"]``: objective sums before/after (after the decision),
    frames kept and reverted, and the reason in words."""
    final = np.where(kept, after["total"], before["total"])
    n_rev = int((~kept).sum())
    rule = "all frames together (static object)" if joint else "per frame"
    reason = (f"{stage}: kept {int(kept.sum())}/{len(kept)} frames, reverted {n_rev} where the objective rose "
              f"({rule}); objective {before['total'].sum():.4g} -> {after['total'].sum():.4g} if all kept, "
              f"{final.sum():.4g} as kept")
    return {"frames": len(kept), "kept": int(kept.sum()), "reverted": n_rev, "rule": rule,
            "objective_before": float(before["total"].sum()), "objective_after_all": float(after["total"].sum()),
            "objective_final": float(final.sum()),
            "terms_before": {k: float(before[k].sum()) for k in TERMS},
            "terms_after": {k: float(after[k].sum()) for k in TERMS},
            "reverted_frames": np.flatnonzero(~kept).tolist()[:50], "reason": reason}
