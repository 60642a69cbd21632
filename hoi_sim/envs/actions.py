"""Actions in [−1, 1]^153 → PD position targets by InterMimic's offset/scale rule (intermimic-notes §4.2).

target = offset + scale · clip(a, −1, 1), with, per DOF:

1. offset = midpoint of the joint range, scale = half the range;
2. where |offset| > 0.1 rad (the asymmetric fingertip x-axes), offset = 0 and scale = scale of DOF 0 (π for the
   ±180° hip);
3. InterMimic then sets the scale of its DOFs 5 and 17 to 5. Our DOF order equals InterMimic's, so these are
   ``L_Knee_z`` and ``R_Knee_z``; we address them by name (``knee_scale``; ``None`` leaves them at π).
"""

from __future__ import annotations

import torch

from hoi_sim.skeleton import DOF_NAMES

KNEE_Z_DOFS = ("L_Knee_z", "R_Knee_z")


def action_offset_scale(dof_limits: torch.Tensor, knee_scale: float | None = 5.0,
                        asym_threshold: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Offset and scale [153] (rad) from joint limits [153, 2] (rad), in ``skeleton.DOF_NAMES`` order."""
    lo, hi = dof_limits[:, 0].to(torch.float32), dof_limits[:, 1].to(torch.float32)
    offset = 0.5 * (lo + hi)
    scale = 0.5 * (hi - lo)
    asym = offset.abs() > asym_threshold
    scale = torch.where(asym, scale[0].expand_as(scale), scale)
    offset = torch.where(asym, torch.zeros_like(offset), offset)
    if knee_scale is not None:
        for name in KNEE_Z_DOFS:
            scale[DOF_NAMES.index(name)] = float(knee_scale)
    return offset, scale


def actions_to_targets(actions: torch.Tensor, offset: torch.Tensor, scale: torch.Tensor,
                       clip: float = 1.0) -> torch.Tensor:
    """[N, 153] actions → [N, 153] PD targets (rad); non-finite actions become 0 (the range midpoint)."""
    a = torch.nan_to_num(actions.to(offset.dtype), nan=0.0, posinf=clip, neginf=-clip).clamp(-clip, clip)
    return offset + scale * a
