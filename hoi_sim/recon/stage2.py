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


_POSE_KEYS = ("body_pose", "left_hand_pose", "right_hand_pose")
_POSE_JOINTS = {"body_pose": slice(1, 22), "left_hand_pose": slice(25, 40), "right_hand_pose": slice(40, 55)}
"""SMPL-X joints [55] of each pose parameter."""


@dataclass
class _Variables:
    """What Adam moves (float32): joint rotations, betas and the object's rotation/translation deltas ``[B,3]``;
    ``go``/``tr``: the fixed global orient and translation; ``free [B,1]``: 1 where the object is optimised."""

    pose: dict[str, torch.Tensor]
    betas: torch.Tensor
    d_rot: torch.Tensor
    d_t: torch.Tensor
    go: torch.Tensor
    tr: torch.Tensor
    free: torch.Tensor

    @staticmethod
    def start(batch: Stage2Batch, cfg: Stage2Config) -> _Variables:
        p0, dt = batch.params, torch.float32
        B = p0.batch_size
        return _Variables(
            pose={k: getattr(p0, k).detach().to(dt).clone().requires_grad_(True) for k in _POSE_KEYS},
            betas=p0.betas.detach().to(dt).clone().requires_grad_(cfg.lr_betas > 0),
            d_rot=torch.zeros(B, 3, dtype=dt, requires_grad=True), d_t=torch.zeros(B, 3, dtype=dt, requires_grad=True),
            go=p0.global_orient.detach().to(dt), tr=p0.transl.detach().to(dt), free=batch.obj_free.to(dt)[:, None])

    def optimizer(self, batch: Stage2Batch, cfg: Stage2Config) -> Adam:
        hands = [self.pose["left_hand_pose"], self.pose["right_hand_pose"]]
        groups = [([self.pose["body_pose"]], cfg.lr_pose), (hands, cfg.lr_hand), ([self.betas], cfg.lr_betas)]
        if cfg.optimize_object and bool(batch.obj_free.any()):
            groups += [([self.d_rot], cfg.lr_obj_rot), ([self.d_t], cfg.lr_obj_trans)]
        return Adam(groups)

    def params(self, detach: bool = False) -> BodyParams:
        pose = {k: v.detach() if detach else v for k, v in self.pose.items()}
        return BodyParams(self.go, pose["body_pose"], pose["left_hand_pose"], pose["right_hand_pose"],
                          self.betas.detach() if detach else self.betas, self.tr)

    def object_pose(self, R1: torch.Tensor, t1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``R = exp(δω·free)·R₁``, ``t = t₁ + δt·free``."""
        return axis_angle_to_matrix(self.d_rot * self.free) @ R1, t1 + self.d_t * self.free

    def mask_gradients(self, grad_masks: dict[str, torch.Tensor]) -> None:
        """Zero the gradient of the joints that may not move (:func:`_grad_masks`)."""
        with torch.no_grad():
            for k, gm in grad_masks.items():
                if self.pose[k].grad is not None:
                    self.pose[k].grad.mul_(gm)


def _grad_masks(joint_mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per pose parameter, [B, 3·joints] 1 where the joint may move (``joint_mask [B,55]`` bool)."""
    jm = joint_mask.to(torch.float32)
    return {k: jm[:, joints].repeat_interleave(3, 1) for k, joints in _POSE_JOINTS.items()}


def _mask_term(body: BodyModel, out, obj_posed: torch.Tensor, obj_faces: torch.Tensor, masks: MaskTargets,
               render_hw: tuple[int, int], cfg: Stage2Config) -> torch.Tensor:
    """[B] silhouette loss of the posed human and object against the keyframes' masks (``depth`` occlusion: each
    silhouette is masked where the other lies in front)."""
    h, wd = render_hw
    depth = cfg.render.occlusion == "depth"
    sil_h, z_h = render_silhouette(out.sample_vertices, body.sample_faces, masks.K, h, wd, cfg.render.sigma,
                                   with_depth=depth)
    sil_o, z_o = render_silhouette(obj_posed, obj_faces, masks.K, h, wd, cfg.render.sigma, with_depth=depth)
    occ_h = occ_o = None
    if depth:
        occ_h = sil_o * (z_o < z_h).to(torch.float32)
        occ_o = sil_h * (z_h < z_o).to(torch.float32)
    return mask_loss(sil_h, sil_o, masks.gt_h, masks.gt_o, masks.w_h, masks.w_o, cfg.weights, cfg.render.edge_pool,
                     occ_h, occ_o, masks.valid)


def _terms(body: BodyModel, var: _Variables, batch: Stage2Batch, obj_v: torch.Tensor, obj_faces: torch.Tensor,
           obj_sdf: SDFGrid, cfg: Stage2Config, render_hw: tuple[int, int] | None) -> dict[str, torch.Tensor]:
    """Per-keyframe [B] loss terms (contact, collision, mask, guard) at the current variables."""
    dt, w = torch.float32, cfg.weights
    out = body(var.params())
    R, t = var.object_pose(batch.R1.to(dt), batch.t1.to(dt))
    bidx = torch.arange(batch.params.batch_size)[:, None]
    terms = {"contact": contact_loss(out.keypoints[bidx, batch.rows], torch.einsum("bij,bnj->bni", R,
                                     batch.obj_pts.to(dt)) + t[:, None], batch.pair_mask.to(dt), w.contact_eps)}
    obj_posed = torch.einsum("bij,nj->bni", R, obj_v) + t[:, None]
    terms["collision"] = collision_loss(out.sample_vertices, R, t, obj_posed, obj_sdf, out.body_pos, out.body_rot,
                                        w.human_in_object, w.collision_margin)
    if batch.masks is not None and render_hw is not None and bool(batch.masks.valid.any()):
        terms["mask"] = _mask_term(body, out, obj_posed, obj_faces, batch.masks, render_hw, cfg)
    else:
        terms["mask"] = torch.zeros(batch.params.batch_size, dtype=dt)
    terms["guard"] = translation_guard(var.d_t * var.free, w.trans_guard)
    return terms


def evaluate_terms(body: BodyModel, batch: Stage2Batch, obj_v: torch.Tensor, obj_faces: torch.Tensor,
                   obj_sdf: SDFGrid, cfg: Stage2Config, render_hw: tuple[int, int] | None = None
                   ) -> dict[str, torch.Tensor]:
    """Unweighted per-keyframe [B] loss terms (contact m², collision m, mask, guard) at the batch's own poses
    (``params``, ``R1``, ``t1``), without gradient."""
    with torch.no_grad():
        return _terms(body, _Variables.start(batch, cfg), batch, obj_v.to(torch.float32), obj_faces, obj_sdf, cfg,
                      render_hw)


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
    var = _Variables.start(batch, cfg)
    opt = var.optimizer(batch, cfg)
    grad_masks = _grad_masks(batch.joint_mask)
    ov = obj_vertices.to(torch.float32)
    history: dict[str, list[float]] = {}
    for step in range(cfg.steps + 1):
        terms = _terms(body, var, batch, ov, obj_faces, obj_sdf, cfg, render_hw)
        per_frame = w.contact * terms["contact"] + w.collision * terms["collision"] + w.mask * terms["mask"] + \
            terms["guard"]
        for k, v in terms.items():
            history.setdefault(k, []).append(float(v.detach().sum()))
        history.setdefault("total", []).append(float(per_frame.detach().sum()))
        if step == cfg.steps:
            break
        opt.zero_grad()
        per_frame.sum().backward()
        var.mask_gradients(grad_masks)
        opt.step()
    with torch.no_grad():
        R, t = var.object_pose(batch.R1.to(torch.float32), batch.t1.to(torch.float32))
    return Stage2Result(var.params(detach=True), R.detach(), t.detach(), {k: [v[0], v[-1]] for k, v in history.items()})
