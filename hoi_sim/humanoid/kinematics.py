"""Batched torch forward kinematics of the 52-body humanoid, and the exact inverse for rotations.

Each non-root body rotates relative to its parent by three hinges about local x, y, z declared in that order,
which MuJoCo composes as R_local = Rx(q_x)·Ry(q_y)·Rz(q_z) (intrinsic x-y-z). Bodies carry no rest rotation
(every ``quat`` in the humanoid's MJCF is identity), so R_local is the full joint rotation.
"""

from __future__ import annotations

import numpy as np
import torch

from hoi_sim import rotations as rot
from hoi_sim.skeleton import NUM_BODIES, NUM_DOFS, PARENTS, neutral_offsets


def _as_offsets(offsets: torch.Tensor | np.ndarray | None, ref: torch.Tensor) -> torch.Tensor:
    if offsets is None:
        offsets = neutral_offsets()
    return torch.as_tensor(offsets, dtype=ref.dtype, device=ref.device)


def local_rotations(dof_pos: torch.Tensor) -> torch.Tensor:
    """Hinge angles [B, 153] (rad) → local joint rotation matrices [B, 51, 3, 3] (non-root bodies)."""
    return rot.euler_xyz_to_matrix(dof_pos.reshape(dof_pos.shape[:-1] + (NUM_BODIES - 1, 3)))


def forward_kinematics(
    root_pos: torch.Tensor,
    root_quat: torch.Tensor,
    dof_pos: torch.Tensor,
    offsets: torch.Tensor | np.ndarray | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """World pose of all 52 bodies.

    Args:
        root_pos: [B, 3] pelvis position (m).
        root_quat: [B, 4] pelvis rotation, wxyz.
        dof_pos: [B, 153] hinge angles (rad), DOF order of ``skeleton.DOF_NAMES``.
        offsets: bone offsets [52, 3] or [B, 52, 3] (m), body origin in its parent's frame; default neutral.

    Returns:
        body_pos [B, 52, 3] (m) and body_quat [B, 52, 4] (wxyz, w ≥ 0).
    """
    offs = _as_offsets(offsets, root_pos)
    if offs.dim() == 2:
        offs = offs.expand(root_pos.shape[:-1] + offs.shape)
    local = local_rotations(dof_pos)
    rmats: list[torch.Tensor] = [rot.quat_to_matrix(root_quat)]
    pos: list[torch.Tensor] = [root_pos]
    for b in range(1, NUM_BODIES):
        p = PARENTS[b]
        pos.append(pos[p] + (rmats[p] @ offs[..., b, :, None])[..., 0])
        rmats.append(rmats[p] @ local[..., b - 1, :, :])
    body_pos = torch.stack(pos, dim=-2)
    body_quat = rot.matrix_to_quat(torch.stack(rmats, dim=-3))
    return body_pos, body_quat


def local_from_global(body_quat: torch.Tensor) -> torch.Tensor:
    """World body rotations [B, 52, 4] wxyz → each body's rotation relative to its parent [B, 52, 4] (root: world)."""
    parents = torch.tensor([max(p, 0) for p in PARENTS], device=body_quat.device)
    parent_q = body_quat[..., parents, :]
    local = rot.quat_mul(rot.quat_conj(parent_q), body_quat)
    return torch.cat([body_quat[..., :1, :], local[..., 1:, :]], dim=-2)


def dofs_from_local(local_quat: torch.Tensor) -> torch.Tensor:
    """Local rotations [B, 52, 4] (wxyz; entry 0 ignored) → exact hinge angles [B, 153] (intrinsic x-y-z)."""
    angles = rot.quat_to_euler_xyz(local_quat[..., 1:, :])
    return angles.reshape(angles.shape[:-2] + (NUM_DOFS,))


def dofs_from_global(body_quat: torch.Tensor) -> torch.Tensor:
    """World body rotations [B, 52, 4] wxyz → exact hinge angles [B, 153]."""
    return dofs_from_local(local_from_global(body_quat))


def dofs_to_local_quat(dof_pos: torch.Tensor) -> torch.Tensor:
    """Hinge angles [B, 153] → local rotations [B, 51, 4] wxyz of the non-root bodies."""
    return rot.euler_xyz_to_quat(dof_pos.reshape(dof_pos.shape[:-1] + (NUM_BODIES - 1, 3)))


def infer_offsets(body_pos: torch.Tensor, body_quat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimate constant bone offsets from world body poses over a clip.

    Args:
        body_pos: [T, 52, 3] world positions (m); body_quat: [T, 52, 4] world rotations (wxyz).

    Returns:
        offsets [52, 3] (m): the per-frame offsets ``R_parent^T (p_b − p_parent)`` averaged over frames (row 0 zero),
        and their per-frame deviation [T, 52] (m) from that mean (how far the clip is from a rigid skeleton).
    """
    parents = torch.tensor([max(p, 0) for p in PARENTS], device=body_pos.device)
    rp = rot.quat_to_matrix(body_quat[:, parents])
    d = body_pos - body_pos[:, parents]
    local = (rp.transpose(-1, -2) @ d[..., None])[..., 0]
    local[:, 0] = 0.0
    offsets = local.mean(dim=0)
    dev = (local - offsets).norm(dim=-1)
    return offsets, dev
