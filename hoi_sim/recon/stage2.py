"""Stage 2 of 4DHOISolver (Alg. 1 lines 5–7, Eq. 4): Adam on keyframes over human pose and object pose with the
contact, collision and mask losses.

All keyframes of a batch are optimised together: each keyframe's loss depends only on its own parameters and Adam
is per-coordinate, so one Adam on the summed loss takes exactly the steps that separate per-keyframe runs would.
Human ``global_orient``/``transl`` stay fixed (as the released code); joint rotations get gradient only where the
joint mask allows (``tree``: the kinematic chain of each keyframe's contacts up to ``chain_depth``; ``released``:
each contact's own joint over the whole sequence). The object pose is ``R = exp(δω)·R₁``, ``t = t₁ + δt``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from hoi_sim import keypoints as kp
from hoi_sim.body.base import BODY_TO_SMPLX, BodyModel, BodyParams, axis_angle_to_matrix
from hoi_sim.recon.config import Stage2Config
from hoi_sim.recon.losses import collision_loss, contact_loss, mask_loss, translation_guard
from hoi_sim.recon.render import render_silhouette
from hoi_sim.recon.sdf import SDFGrid
from hoi_sim.skeleton import BODY_INDEX, PARENTS


class Adam:
    """Plain Adam (Kingma & Ba) over parameter groups ``[(tensors, lr), …]``; equivalent to ``torch.optim.Adam``
    with default betas/eps, without importing ``torch.optim`` (whose first use costs seconds of import time)."""

    def __init__(self, groups: list[tuple[list[torch.Tensor], float]], betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.groups = [(ps, lr) for ps, lr in groups if lr > 0]
        self.b1, self.b2, self.eps, self.t = betas[0], betas[1], eps, 0
        self.m = {id(p): torch.zeros_like(p) for ps, _ in self.groups for p in ps}
        self.v = {id(p): torch.zeros_like(p) for ps, _ in self.groups for p in ps}

    def zero_grad(self) -> None:
        for ps, _ in self.groups:
            for p in ps:
                p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for ps, lr in self.groups:
            for p in ps:
                if p.grad is None:
                    continue
                m, v = self.m[id(p)], self.v[id(p)]
                m.mul_(self.b1).add_(p.grad, alpha=1 - self.b1)
                v.mul_(self.b2).addcmul_(p.grad, p.grad, value=1 - self.b2)
                p.sub_(lr * (m / c1) / ((v / c2).sqrt() + self.eps))


@dataclass
class MaskTargets:
    """Ground truth for the mask loss at the keyframes, render resolution: ``gt_h/gt_o [B,h,w]`` in [0,1],
    EDT weights ``w_h/w_o [B,h,w]``, ``valid [B]`` bool, render intrinsics ``K [3,3]``."""

    gt_h: torch.Tensor
    gt_o: torch.Tensor
    w_h: torch.Tensor
    w_o: torch.Tensor
    valid: torch.Tensor
    K: torch.Tensor

    def index(self, idx: torch.Tensor) -> MaskTargets:
        return MaskTargets(self.gt_h[idx], self.gt_o[idx], self.w_h[idx], self.w_o[idx], self.valid[idx], self.K)


@dataclass
class Stage2Batch:
    """One batch of keyframes: ``params`` (B frames, camera frame), object pose ``R1 [B,3,3]``, ``t1 [B,3]``,
    contact pairs ``rows [B,N]`` keypoint rows, ``obj_pts [B,N,3]`` object-frame points, ``pair_mask [B,N]``,
    ``joint_mask [B,55]`` (which joints may move), ``obj_free [B]`` (object optimised), ``masks`` or None."""

    params: BodyParams
    R1: torch.Tensor
    t1: torch.Tensor
    rows: torch.Tensor
    obj_pts: torch.Tensor
    pair_mask: torch.Tensor
    joint_mask: torch.Tensor
    obj_free: torch.Tensor
    masks: MaskTargets | None = None


@dataclass
class Stage2Result:
    """Optimised keyframes: ``params``, object ``R [B,3,3]``, ``t [B,3]``; per-term loss sums at the first and last
    step (``history[name] = [first, last]``)."""

    params: BodyParams
    R: torch.Tensor
    t: torch.Tensor
    history: dict[str, list[float]] = field(default_factory=dict)


def joint_mask_tree(contact_rows: list[np.ndarray], depth: int) -> np.ndarray:
    """[B,55] bool: per keyframe, each contact keypoint's body and its ancestors (``depth`` bodies in all), root
    excluded (global orient is not optimised in stage 2)."""
    body = kp.body_indices()
    out = np.zeros((len(contact_rows), 55), dtype=bool)
    for i, rows in enumerate(contact_rows):
        for r in rows:
            b, n = int(body[r]), 0
            while b > 0 and n < depth:
                out[i, BODY_TO_SMPLX[b]] = True
                b, n = PARENTS[b], n + 1
    return out


def joint_mask_released(all_rows: np.ndarray, num_frames: int) -> np.ndarray:
    """[B,55] bool: the released code's rule: the own joint (``joint_sim.json``) of every contact keypoint seen in
    the sequence, the same for every keyframe; the pelvis unlocks nothing."""
    table = kp._table()["keypoints"]
    m = np.zeros(55, dtype=bool)
    for r in np.asarray(all_rows).tolist():
        b = BODY_INDEX[table[r].get("joint_sim_body", table[r]["body"])]
        if b > 0:
            m[BODY_TO_SMPLX[b]] = True
    return np.repeat(m[None], num_frames, 0)


def optimize_keyframes(body: BodyModel, batch: Stage2Batch, obj_vertices: torch.Tensor, obj_faces: torch.Tensor,
                       obj_sdf: SDFGrid, cfg: Stage2Config, render_hw: tuple[int, int] | None = None
                       ) -> Stage2Result:
    """Run ``cfg.steps`` Adam steps on a batch of keyframes.

    Args:
        body: body model (its ``sample_vertices``/``sample_faces`` are used for collision and silhouettes).
        batch: the keyframes. obj_vertices: [O,3] sampled object vertices (object frame, m); obj_faces: [G,3].
        obj_sdf: the object's SDF grid. render_hw: render (h, w) when ``batch.masks`` is given.
    """
    w = cfg.weights
    p0 = batch.params
    dt = torch.float32
    pose = {k: getattr(p0, k).detach().to(dt).clone().requires_grad_(True)
            for k in ("body_pose", "left_hand_pose", "right_hand_pose")}
    betas = p0.betas.detach().to(dt).clone().requires_grad_(cfg.lr_betas > 0)
    B = p0.batch_size
    d_rot = torch.zeros(B, 3, dtype=dt, requires_grad=True)
    d_t = torch.zeros(B, 3, dtype=dt, requires_grad=True)
    groups = [([pose["body_pose"]], cfg.lr_pose), ([pose["left_hand_pose"], pose["right_hand_pose"]], cfg.lr_hand),
              ([betas], cfg.lr_betas)]
    if cfg.optimize_object and bool(batch.obj_free.any()):
        groups += [([d_rot], cfg.lr_obj_rot), ([d_t], cfg.lr_obj_trans)]
    opt = Adam(groups)
    jm = batch.joint_mask.to(dt)
    grad_masks = {"body_pose": jm[:, 1:22].repeat_interleave(3, 1),
                  "left_hand_pose": jm[:, 25:40].repeat_interleave(3, 1),
                  "right_hand_pose": jm[:, 40:55].repeat_interleave(3, 1)}
    free = batch.obj_free.to(dt)[:, None]
    R1, t1 = batch.R1.to(dt), batch.t1.to(dt)
    obj_pts = batch.obj_pts.to(dt)
    ov = obj_vertices.to(dt)
    go, tr = p0.global_orient.detach().to(dt), p0.transl.detach().to(dt)
    history: dict[str, list[float]] = {}
    bidx = torch.arange(B)[:, None]
    for step in range(cfg.steps + 1):
        params = BodyParams(go, pose["body_pose"], pose["left_hand_pose"], pose["right_hand_pose"], betas, tr)
        out = body(params)
        R = axis_angle_to_matrix(d_rot * free) @ R1
        t = t1 + d_t * free
        terms = {"contact": contact_loss(out.keypoints[bidx, batch.rows], torch.einsum("bij,bnj->bni", R, obj_pts)
                                         + t[:, None], batch.pair_mask.to(dt), w.contact_eps)}
        obj_posed = torch.einsum("bij,nj->bni", R, ov) + t[:, None]
        terms["collision"] = collision_loss(out.sample_vertices, R, t, obj_posed, obj_sdf, out.body_pos,
                                            out.body_rot, w.human_in_object)
        if batch.masks is not None and render_hw is not None and bool(batch.masks.valid.any()):
            m = batch.masks
            h, wd = render_hw
            depth = cfg.render.occlusion == "depth"
            sil_h, z_h = render_silhouette(out.sample_vertices, body.sample_faces, m.K, h, wd, cfg.render.sigma,
                                           with_depth=depth)
            sil_o, z_o = render_silhouette(obj_posed, obj_faces, m.K, h, wd, cfg.render.sigma, with_depth=depth)
            occ_h = occ_o = None
            if depth:
                occ_h = sil_o * (z_o < z_h).to(dt)
                occ_o = sil_h * (z_h < z_o).to(dt)
            terms["mask"] = mask_loss(sil_h, sil_o, m.gt_h, m.gt_o, m.w_h, m.w_o, w, cfg.render.edge_pool,
                                      occ_h, occ_o, m.valid)
        else:
            terms["mask"] = torch.zeros(B, dtype=dt)
        terms["guard"] = translation_guard(d_t * free, w.trans_guard)
        per_frame = w.contact * terms["contact"] + w.collision * terms["collision"] + w.mask * terms["mask"] + \
            terms["guard"]
        for k, v in terms.items():
            history.setdefault(k, []).append(float(v.detach().sum()))
        history.setdefault("total", []).append(float(per_frame.detach().sum()))
        if step == cfg.steps:
            break
        opt.zero_grad()
        per_frame.sum().backward()
        with torch.no_grad():
            for k, gm in grad_masks.items():
                if pose[k].grad is not None:
                    pose[k].grad.mul_(gm)
        opt.step()
    hist = {k: [v[0], v[-1]] for k, v in history.items()}
    final = BodyParams(go, pose["body_pose"].detach(), pose["left_hand_pose"].detach(),
                       pose["right_hand_pose"].detach(), betas.detach(), tr)
    with torch.no_grad():
        R = axis_angle_to_matrix(d_rot * free) @ R1
        t = t1 + d_t * free
    return Stage2Result(final, R.detach(), t.detach(), hist)
