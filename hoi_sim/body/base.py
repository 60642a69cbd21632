"""The body-model interface shared by :class:`~hoi_sim.body.smplx_body.SMPLXBody` and
:class:`~hoi_sim.body.proxy.ProxyBody`.

Both take the same SMPL-X parameters (``docs/contracts.md``) and return the same outputs, in the **frame of the
parameters**: camera frame for ``incam`` params, GVHMR world for global ones. Joint rotations are SMPL-X local
axis-angles in the SMPL-X body frame (y up, z forward, x left); the humanoid's axes are ``v_h = C v_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from hoi_sim.skeleton import (
    NUM_BODIES,
    NUM_SMPLX_JOINTS,
    SMPLX_BODY_POSE,
    SMPLX_FACE,
    SMPLX_JOINT_IDS,
    SMPLX_LEFT_HAND,
    SMPLX_RIGHT_HAND,
    SMPLX_ROOT_JOINT,
)

C_S2H = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
"""SMPL-X axes → humanoid axes: ``v_h = C v_s``, ``R_h = C R_s Cᵀ``."""

SMPLX_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
    20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
    21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53,
)
"""Parent of each of the 55 SMPL-X joints (the kinematic tree of the SMPL-X model file)."""

BODY_TO_SMPLX = np.asarray(SMPLX_JOINT_IDS, dtype=np.int64)
"""[52] SMPL-X joint index of each humanoid body (body order of ``skeleton.BODY_NAMES``)."""


@dataclass
class BodyParams:
    """SMPL-X parameters for a batch of B frames (torch, any float dtype, one device).

    ``global_orient [B,3]``, ``body_pose [B,63]`` (joints 1–21), ``left_hand_pose [B,45]`` (25–39),
    ``right_hand_pose [B,45]`` (40–54): axis-angle (rad), flat hand mean. ``betas [B,10]``; ``transl [B,3]`` (m).
    """

    global_orient: torch.Tensor
    body_pose: torch.Tensor
    left_hand_pose: torch.Tensor
    right_hand_pose: torch.Tensor
    betas: torch.Tensor
    transl: torch.Tensor

    @property
    def batch_size(self) -> int:
        return int(self.global_orient.shape[0])

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def full_pose(self) -> torch.Tensor:
        """[B, 55, 3] axis-angle of every SMPL-X joint (jaw and eyes zero)."""
        B = self.batch_size
        z = self.global_orient.new_zeros(B, 3 * len(range(NUM_SMPLX_JOINTS)[SMPLX_FACE]))
        # joint order: root, body pose (SMPLX_BODY_POSE), face (zero), left hand, right hand
        full = torch.cat([self.global_orient, self.body_pose, z, self.left_hand_pose, self.right_hand_pose], dim=-1)
        return full.reshape(B, NUM_SMPLX_JOINTS, 3)

    @staticmethod
    def from_full_pose(full: torch.Tensor, betas: torch.Tensor, transl: torch.Tensor) -> BodyParams:
        """Inverse of :meth:`full_pose` (jaw/eyes dropped): ``full [B,55,3]``."""
        B = full.shape[0]
        j = full.reshape(B, NUM_SMPLX_JOINTS, 3)
        return BodyParams(j[:, SMPLX_ROOT_JOINT], j[:, SMPLX_BODY_POSE].reshape(B, -1),
                          j[:, SMPLX_LEFT_HAND].reshape(B, -1), j[:, SMPLX_RIGHT_HAND].reshape(B, -1), betas, transl)

    @staticmethod
    def from_numpy(d: dict[str, np.ndarray] | object, dtype: torch.dtype = torch.float32,
                   device: str | torch.device = "cpu") -> BodyParams:
        """From a dict of arrays or any object with the six fields (e.g. ``recon.types.SmplxParams``)."""
        get = d.get if isinstance(d, dict) else (lambda k: getattr(d, k))
        return BodyParams(**{f.name: torch.as_tensor(np.asarray(get(f.name)), dtype=dtype, device=device)
                             for f in fields(BodyParams)})

    def to_numpy(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().astype(np.float64) for k, v in self.as_dict().items()}

    def index(self, idx: torch.Tensor | slice | list[int]) -> BodyParams:
        return BodyParams(**{k: v[idx] for k, v in self.as_dict().items()})

    def detach(self) -> BodyParams:
        return BodyParams(**{k: v.detach().clone() for k, v in self.as_dict().items()})

    @staticmethod
    def zeros(batch: int, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> BodyParams:
        w = {"global_orient": 3, "body_pose": 63, "left_hand_pose": 45, "right_hand_pose": 45, "betas": 10,
             "transl": 3}
        return BodyParams(**{k: torch.zeros(batch, n, dtype=dtype, device=device) for k, n in w.items()})


@dataclass
class BodyOutput:
    """Posed body, in the frame of the parameters (m).

    ``vertices [B,V,3]`` (the model's full mesh), ``joints [B,55,3]`` (SMPL-X joint order), ``keypoints [B,87,3]``
    (the Open4DHOI keypoints, key order of ``hoi_sim.keypoints``), ``body_pos [B,52,3]`` and ``body_rot [B,52,3,3]``
    (origin and global rotation of each humanoid body; the rotation maps SMPL-X-axes body-local vectors to the
    param frame), ``sample_vertices [B,S,3]`` (a small closed-ish mesh for collision and silhouettes).
    """

    vertices: torch.Tensor
    joints: torch.Tensor
    keypoints: torch.Tensor
    body_pos: torch.Tensor
    body_rot: torch.Tensor
    sample_vertices: torch.Tensor


@runtime_checkable
class BodyModel(Protocol):
    """What the solver needs from a body model."""

    name: str
    faces: torch.Tensor
    """[F,3] int64 faces of ``vertices``."""
    sample_faces: torch.Tensor
    """[S_F,3] int64 faces of ``sample_vertices`` (collision and silhouettes)."""

    def __call__(self, params: BodyParams) -> BodyOutput: ...


def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """Rodrigues: [..., 3] axis-angle (rad) → [..., 3, 3], smooth at zero (Taylor terms below 1e-4 rad)."""
    theta2 = (aa * aa).sum(-1, keepdim=True)[..., None]  # [...,1,1]
    theta = theta2.clamp_min(1e-12).sqrt()
    small = theta2 < 1e-8
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / theta2.clamp_min(1e-12))
    x, y, z = aa.unbind(-1)
    o = torch.zeros_like(x)
    k = torch.stack([o, -z, y, z, o, -x, -y, x, o], dim=-1).reshape(aa.shape[:-1] + (3, 3))
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device).expand(k.shape)
    return eye + a * k + b * (k @ k)


def matrix_to_axis_angle(m: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] rotation matrices → [..., 3] axis-angle with angle in [0, π] (via quaternions)."""
    from hoi_sim import rotations as rot

    return rot.quat_to_axis_angle(rot.matrix_to_quat(m))


def chain_rotations(local: torch.Tensor, parents: tuple[int, ...]) -> torch.Tensor:
    """Compose local rotations [B,J,3,3] along ``parents`` (topologically ordered) → global [B,J,3,3]."""
    out: list[torch.Tensor] = []
    for j, p in enumerate(parents):
        out.append(local[:, j] if p < 0 else out[p] @ local[:, j])
    return torch.stack(out, dim=1)


def check_params(params: BodyParams) -> None:
    """Raise ValueError when a field has the wrong width or batch size."""
    widths = {"global_orient": 3, "body_pose": 63, "left_hand_pose": 45, "right_hand_pose": 45, "betas": 10,
              "transl": 3}
    B = params.batch_size
    for k, w in widths.items():
        v = getattr(params, k)
        if v.dim() != 2 or v.shape[1] != w or v.shape[0] != B:
            raise ValueError(f"BodyParams.{k} has shape {tuple(v.shape)}, expected ({B}, {w})")


assert NUM_BODIES == len(BODY_TO_SMPLX)
