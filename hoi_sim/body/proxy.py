"""A licence-free body model with SMPL-X's parameters: the neutral humanoid's geoms, rigidly skinned.

The rest pelvis sits at the SMPL-X template's pelvis (``keypoints._table()["pelvis_anchor_humanoid_axes"]``, moved
to SMPL-X axes with Cᵀ), so ``global_orient``/``transl`` mean what they mean for SMPL-X: the pelvis is at
``anchor + transl`` and the body rotates about it. Joint rotations are SMPL-X local axis-angles in SMPL-X axes; the
humanoid's local rotation is ``R_h = C R_s Cᵀ``. Forward kinematics runs directly in SMPL-X axes with bone offsets
``Cᵀ o_h`` (identical to ``humanoid.kinematics.forward_kinematics`` followed by ``Cᵀ``, without an Euler detour).
``betas`` are accepted and ignored (one neutral shape).
"""

from __future__ import annotations

import numpy as np
import torch

from hoi_sim import keypoints as kp
from hoi_sim.body.base import (
    BODY_TO_SMPLX,
    C_S2H,
    NUM_SMPLX_JOINTS,
    BodyOutput,
    BodyParams,
    axis_angle_to_matrix,
    check_params,
)
from hoi_sim.body.mesh import box_mesh, humanoid_primitives, uv_capsule
from hoi_sim.skeleton import BODY_INDEX, FINGER_BODIES, NUM_BODIES, PARENTS, SMPLX_FACE, neutral_offsets

# Jaw and eyes (SMPL-X joints 22–24, skeleton.SMPLX_FACE) have no humanoid body; they ride on the head at these
# offsets (humanoid axes, m; the same as hoi_sim.testing.smplx_fixture's), in joint order jaw, left eye, right eye.
_FACE_JOINT_OFFSETS = dict(zip(range(NUM_SMPLX_JOINTS)[SMPLX_FACE],
                               ((0.03, 0.0, -0.03), (0.08, 0.03, 0.06), (0.08, -0.03, 0.06)), strict=True))
_FINGER_BODIES = {BODY_INDEX[n] for n in FINGER_BODIES}


def pelvis_anchor_smplx() -> np.ndarray:
    """[3] rest pelvis of the SMPL-X template (m, SMPL-X axes)."""
    return C_S2H.T @ np.asarray(kp._table()["pelvis_anchor_humanoid_axes"], dtype=np.float64)


def _tessellate(coarse: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closed mesh per geom in its body frame (SMPL-X axes): vertices [V,3], faces [F,3], vertex body [V].

    ``coarse``: the small mesh used for silhouettes and collision (about 1700 faces instead of 3400)."""
    prims = humanoid_primitives()
    vs, fs, bs = [], [], []
    n = 0
    for i, b in enumerate(prims.cap_body):
        fine = int(b) not in _FINGER_BODIES
        seg, rings = ((10, 3) if fine else (6, 2)) if not coarse else ((8, 2) if fine else (4, 1))
        v, f = uv_capsule(prims.cap_a[i], prims.cap_b[i], float(prims.cap_r[i]), segments=seg, rings=rings)
        vs.append(v)
        fs.append(f + n)
        bs.append(np.full(len(v), b))
        n += len(v)
    for i, b in enumerate(prims.box_body):
        v, f = box_mesh(prims.box_center[i], prims.box_half[i])
        vs.append(v)
        fs.append(f + n)
        bs.append(np.full(len(v), b))
        n += len(v)
    return np.concatenate(vs), np.concatenate(fs), np.concatenate(bs)


class ProxyBody:
    """Rigidly skinned humanoid geoms behind the SMPL-X parameter interface (see module doc).

    Args:
        dtype, device: of the constant tensors (parameters are cast to ``dtype``).
    """

    name = "proxy"

    def __init__(self, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> None:
        self.dtype, self.device = dtype, torch.device(device)
        t = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype, device=self.device)  # noqa: E731
        self.offsets = t(neutral_offsets() @ C_S2H)  # rows: Cᵀ o_h
        self.anchor = t(pelvis_anchor_smplx())
        v, f, vb = _tessellate()
        self.local_vertices = t(v)
        self.vertex_body = torch.as_tensor(vb, dtype=torch.long, device=self.device)
        self.faces = torch.as_tensor(f, dtype=torch.long, device=self.device)
        vs, fs, vbs = _tessellate(coarse=True)
        self.sample_local_vertices = t(vs)
        self.sample_vertex_body = torch.as_tensor(vbs, dtype=torch.long, device=self.device)
        self.sample_faces = torch.as_tensor(fs, dtype=torch.long, device=self.device)
        self.kp_body = torch.as_tensor(kp.body_indices(), dtype=torch.long, device=self.device)
        self.kp_offset = t(kp.body_offsets() @ C_S2H)
        self.smplx_ids = torch.as_tensor(BODY_TO_SMPLX, dtype=torch.long, device=self.device)
        self.head = BODY_INDEX["Head"]
        self.face_ids = torch.tensor(list(_FACE_JOINT_OFFSETS), dtype=torch.long, device=self.device)
        self.face_offsets = t(np.asarray(list(_FACE_JOINT_OFFSETS.values())) @ C_S2H)

    @property
    def num_vertices(self) -> int:
        return int(self.local_vertices.shape[0])

    def body_frames(self, params: BodyParams) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward kinematics: body_pos [B,52,3] (m) and body_rot [B,52,3,3] in the param frame."""
        full = params.full_pose().to(self.dtype)
        local = axis_angle_to_matrix(full[:, self.smplx_ids])  # [B,52,3,3]
        rots: list[torch.Tensor] = [local[:, 0]]
        pos: list[torch.Tensor] = [self.anchor + params.transl.to(self.dtype)]
        for b in range(1, NUM_BODIES):
            p = PARENTS[b]
            pos.append(pos[p] + rots[p] @ self.offsets[b])
            rots.append(rots[p] @ local[:, b])
        return torch.stack(pos, dim=1), torch.stack(rots, dim=1)

    def __call__(self, params: BodyParams) -> BodyOutput:
        check_params(params)
        body_pos, body_rot = self.body_frames(params)
        B = body_pos.shape[0]
        vb = self.vertex_body
        verts = body_pos[:, vb] + (body_rot[:, vb] @ self.local_vertices[None, :, :, None])[..., 0]
        joints = body_pos.new_zeros(B, NUM_SMPLX_JOINTS, 3)
        joints = joints.index_copy(1, self.smplx_ids, body_pos)
        head_rot = body_rot[:, self.head, None]
        face = body_pos[:, self.head, None] + (head_rot @ self.face_offsets[None, :, :, None])[..., 0]
        joints = joints.index_copy(1, self.face_ids, face)
        kb = self.kp_body
        kps = body_pos[:, kb] + (body_rot[:, kb] @ self.kp_offset[None, :, :, None])[..., 0]
        sb = self.sample_vertex_body
        sample = body_pos[:, sb] + (body_rot[:, sb] @ self.sample_local_vertices[None, :, :, None])[..., 0]
        return BodyOutput(vertices=verts, joints=joints, keypoints=kps, body_pos=body_pos, body_rot=body_rot,
                          sample_vertices=sample)
