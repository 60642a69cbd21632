"""Actions → PD position targets (``EnvCfg.action``).

Two modes (``ActionCfg.mode``), per controlled DOF d with action a_d ∈ [−1, 1] (clipped; NaN → 0):

* ``absolute`` — InterMimic's rule (intermimic-notes §4.2): target_d = offset_d + scale_d · a_d with
  1. offset = midpoint of the joint range, scale = half the range;
  2. where |offset| > 0.1 rad (the asymmetric fingertip x-axes), offset = 0 and scale = scale of DOF 0 (π for the
     ±180° hip);
  3. InterMimic then sets the scale of its DOFs 5 and 17 to 5. Our DOF order equals InterMimic's, so these are
     ``L_Knee_z`` and ``R_Knee_z``; we address them by name (``knee_scale``; ``None`` leaves them at π).
* ``residual`` — target_d = q̂_d(t+1) + ``residual_scale`` · a_d, with q̂(t+1) the reference's hinge angles at the
  end of the control step (rad). An all-zero action PD-tracks the reference.

``ActionCfg.fingers``: ``policy`` (the policy drives all 153 DOFs: the paper and InterMimic) or ``reference`` (the
90 finger DOFs — 30 finger bodies × 3 — follow q̂(t+1) under PD and leave the action space: 153 → 63 actions).

``ActionCfg.feedforward``: ``none``, or ``gravity``: q̂(t+1) is raised by the PD-target offset that holds the
reference frame still on its stance feet (``hoi_sim.envs.feedforward``), wherever q̂ enters a target (residual mode,
reference fingers). It needs one of those two.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hoi_sim.errors import InputError
from hoi_sim.skeleton import BODY_NAMES, DOF_NAMES

KNEE_Z_DOFS = ("L_Knee_z", "R_Knee_z")
ACTION_MODES = ("absolute", "residual")
FINGER_MODES = ("policy", "reference")
FEEDFORWARD_MODES = ("none", "gravity")
_FINGER_WORDS = ("Index", "Middle", "Pinky", "Ring", "Thumb")
FINGER_DOFS: tuple[int, ...] = tuple(i for i, n in enumerate(DOF_NAMES) if n.split("_")[1][:-1] in _FINGER_WORDS)
"""The 90 finger DOF indices (bodies ``{L,R}_{Index,Middle,Pinky,Ring,Thumb}{1,2,3}``), ascending."""
assert len(FINGER_DOFS) == 90 and all(b in BODY_NAMES for b in {DOF_NAMES[i][:-2] for i in FINGER_DOFS})


@dataclass
class ActionCfg:
    """How actions become PD targets (module docstring).

    Attributes:
        mode: ``absolute`` (InterMimic) or ``residual`` (reference of the next step + residual_scale · action).
        residual_scale: rad per action unit in ``residual`` mode.
        fingers: ``policy`` (153 actions) or ``reference`` (63 actions; fingers PD-track the reference).
        knee_scale: ``absolute`` mode: PD-target scale of ``L_Knee_z``/``R_Knee_z`` (InterMimic's DOFs 5 and 17;
            ``None`` keeps π).
        clip: actions are clipped to [−clip, clip] first.
        feedforward: ``none`` or ``gravity`` (module docstring).
    """

    mode: str = "absolute"
    residual_scale: float = 0.5
    fingers: str = "policy"
    knee_scale: float | None = 5.0
    clip: float = 1.0
    feedforward: str = "none"

    def __post_init__(self) -> None:
        if self.mode not in ACTION_MODES:
            raise InputError(f"env.action.mode must be one of {ACTION_MODES}, got {self.mode!r}")
        if self.fingers not in FINGER_MODES:
            raise InputError(f"env.action.fingers must be one of {FINGER_MODES}, got {self.fingers!r}")
        if not self.residual_scale > 0 or not self.clip > 0:
            raise InputError("env.action.residual_scale and env.action.clip must be > 0")
        if self.feedforward not in FEEDFORWARD_MODES:
            raise InputError(f"env.action.feedforward must be one of {FEEDFORWARD_MODES}, got {self.feedforward!r}")
        if self.feedforward != "none" and self.mode == "absolute" and self.fingers == "policy":
            raise InputError("env.action.feedforward needs mode residual or fingers reference: in absolute mode the "
                             "policy sets every PD target")


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
    """[N, D] actions → [N, D] targets offset + scale · clip(a) (rad); non-finite actions become 0."""
    a = torch.nan_to_num(actions.to(offset.dtype), nan=0.0, posinf=clip, neginf=-clip).clamp(-clip, clip)
    return offset + scale * a


class ActionMap:
    """Maps policy actions [N, num_actions] to PD targets [N, 153] (module docstring).

    Args:
        cfg: the action settings.
        dof_limits: [153, 2] joint limits (rad) of the simulated humanoid.
    """

    def __init__(self, cfg: ActionCfg, dof_limits: torch.Tensor) -> None:
        self.cfg = cfg
        dev = dof_limits.device
        self.offset, self.scale = action_offset_scale(dof_limits, cfg.knee_scale)
        fingers = torch.zeros(len(DOF_NAMES), dtype=torch.bool, device=dev)
        fingers[list(FINGER_DOFS)] = True
        self.controlled = (~fingers if cfg.fingers == "reference" else torch.ones_like(fingers)
                           ).nonzero(as_tuple=False).flatten()
        """[num_actions] long: the DOF each action drives."""
        self.num_actions = int(self.controlled.numel())
        self.needs_reference = cfg.mode == "residual" or cfg.fingers == "reference"

    def targets(self, actions: torch.Tensor, ref_next_dof: torch.Tensor | None = None) -> torch.Tensor:
        """PD targets [N, 153] (rad) from ``actions`` [N, num_actions] and, when ``needs_reference``, the
        reference hinge angles at the end of the step ``ref_next_dof`` [N, 153] (rad)."""
        c = self.controlled
        if actions.shape[-1] != self.num_actions:
            raise InputError(f"expected {self.num_actions} actions per env, got {actions.shape[-1]}")
        if self.needs_reference and ref_next_dof is None:
            raise ValueError("this action mode needs the reference DOFs of the next step")
        if self.cfg.mode == "absolute":
            driven = actions_to_targets(actions, self.offset[c], self.scale[c], self.cfg.clip)
        else:
            assert ref_next_dof is not None
            driven = actions_to_targets(actions, ref_next_dof[:, c], torch.full_like(self.offset[c],
                                        self.cfg.residual_scale), self.cfg.clip)
        if self.num_actions == len(DOF_NAMES):
            return driven
        assert ref_next_dof is not None
        out = ref_next_dof.to(driven.dtype).clone()
        out[:, c] = driven
        return out
