"""Stage-1 limb IK: damped least squares pulling annotated limb keypoints onto their (stage-1 posed) object points.

The released code (notes §3.2) pulls the ankle/wrist *joints* toward the sole/palm object points by gradient descent
on the whole body pose. Here the annotated keypoints themselves are the end effectors, only the limb chains move
(shoulder–elbow–wrist, hip–knee–ankle), and each iteration is a Gauss–Newton step with damping:
``Δ = (JᵀJ + λ²I)⁻¹ Jᵀ e`` where Δ are global-frame rotation increments of the chain joints, whose Jacobian columns
are ``−[p − o_j]×`` (p keypoint, o_j joint origin). Increments are turned back into SMPL-X local axis-angles with
``L_j ← exp(G_parentᵀ δ_j) L_j``. All frames are solved together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hoi_sim import keypoints as kp
from hoi_sim.body.base import (
    BODY_TO_SMPLX,
    BodyModel,
    BodyParams,
    axis_angle_to_matrix,
    matrix_to_axis_angle,
)
from hoi_sim.recon.config import IKConfig
from hoi_sim.skeleton import BODY_INDEX, PARENTS

LIMB_JOINTS: tuple[str, ...] = ("L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist",
                                "L_Hip", "L_Knee", "L_Ankle", "R_Hip", "R_Knee", "R_Ankle")


def _ancestors_or_self(b: int) -> set[int]:
    out = set()
    while b >= 0:
        out.add(b)
        b = PARENTS[b]
    return out


@dataclass
class IKResult:
    """IK outcome: new params (same frames), per-frame max keypoint error before/after [T] (m), frames touched."""

    params: BodyParams
    err_before: np.ndarray
    err_after: np.ndarray
    frames: np.ndarray


def ik_dependency(parts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoint rows that drive IK [k], chain joint bodies [n] and the dependency matrix [k,n] (joint moves kp)."""
    kps = [i for i, k in enumerate(kp.keypoints()) if k.part in parts]
    joints = [BODY_INDEX[n] for n in LIMB_JOINTS]
    dep = np.zeros((len(kps), len(joints)), dtype=bool)
    for r, i in enumerate(kps):
        anc = _ancestors_or_self(kp.keypoints()[i].body_index)
        dep[r] = [j in anc for j in joints]
    return np.asarray(kps, dtype=np.int64), np.asarray(joints, dtype=np.int64), dep


def limb_ik(body: BodyModel, params: BodyParams, targets: torch.Tensor, active: torch.Tensor, cfg: IKConfig
            ) -> IKResult:
    """Pull keypoints onto targets.

    Args:
        body: body model; params: [T] frames of SMPL-X params (param frame = the targets' frame).
        targets: [T,87,3] target position per keypoint row (m). active: [T,87] bool, which rows to pull.
        cfg: iterations, damping λ (m), per-iteration step clamp (rad), tolerance (m), driving keypoint parts.
    """
    kps, joints, dep = ik_dependency(cfg.keypoint_parts)
    dev, dt = params.global_orient.device, params.global_orient.dtype
    kps_t = torch.as_tensor(kps, device=dev)
    act = active[:, kps_t].to(dt)  # [T,k]
    frames = torch.nonzero(act.sum(1) > 0).flatten()
    full = params.full_pose().detach().clone()
    with torch.no_grad():
        out = body(params)
        err0 = ((out.keypoints[:, kps_t] - targets[:, kps_t]).norm(dim=-1) * act).amax(1) if len(kps) else \
            torch.zeros(len(act), dtype=dt, device=dev)
    if len(frames) == 0 or not cfg.enabled:
        e = err0.cpu().numpy()
        return IKResult(params.detach(), e, e, frames.cpu().numpy())
    sub = params.index(frames).detach()
    fsub = full[frames]
    tgt, a = targets[frames][:, kps_t], act[frames]
    dep_t = torch.as_tensor(dep, dtype=dt, device=dev)  # [k,n]
    jsmplx = torch.as_tensor(BODY_TO_SMPLX[joints], device=dev)
    jbody = torch.as_tensor(joints, device=dev)
    jparent = torch.as_tensor([PARENTS[j] for j in joints], device=dev)
    k, n = len(kps), len(joints)
    eye = torch.eye(3 * n, dtype=dt, device=dev)
    with torch.no_grad():
        for _ in range(cfg.iterations):
            cur = BodyParams.from_full_pose(fsub, sub.betas, sub.transl)
            o = body(cur)
            p = o.keypoints[:, kps_t]  # [F,k,3]
            e = (tgt - p) * a[..., None]
            if float((e.norm(dim=-1)).max()) < cfg.tol:
                break
            rel = p[:, :, None] - o.body_pos[:, jbody][:, None]  # [F,k,n,3]
            x, y, z = rel.unbind(-1)
            zz = torch.zeros_like(x)
            # d p / d δ_j = δ_j × rel = −[rel]× δ_j
            Jb = -torch.stack([zz, -z, y, z, zz, -x, -y, x, zz], -1).reshape(rel.shape + (3,))  # [F,k,n,3,3]
            Jb = Jb * (dep_t[None, :, :, None, None] * a[:, :, None, None, None])
            J = Jb.permute(0, 1, 3, 2, 4).reshape(len(frames), 3 * k, 3 * n)
            Jt = J.transpose(1, 2)
            delta = torch.linalg.solve(Jt @ J + cfg.damping ** 2 * eye, Jt @ e.reshape(len(frames), -1, 1))[..., 0]
            delta = delta.reshape(len(frames), n, 3)
            ang = delta.norm(dim=-1, keepdim=True)
            delta = delta * (cfg.max_step / ang.clamp_min(cfg.max_step)).clamp(max=1.0)
            Gp = o.body_rot[:, jparent]  # [F,n,3,3]
            dl = torch.einsum("fnji,fnj->fni", Gp, delta)  # parent-frame increment
            L = axis_angle_to_matrix(fsub[:, jsmplx])
            fsub[:, jsmplx] = matrix_to_axis_angle(axis_angle_to_matrix(dl) @ L)
        full[frames] = fsub
        new = BodyParams.from_full_pose(full, params.betas.detach(), params.transl.detach())
        out = body(new)
        err1 = ((out.keypoints[:, kps_t] - targets[:, kps_t]).norm(dim=-1) * act).amax(1)
    return IKResult(new, err0.cpu().numpy(), err1.cpu().numpy(), frames.cpu().numpy())
