"""A small synthetic ``HOIMotion`` (walking humanoid carrying a box) for tests, demos and benchmarks.

Deterministic for a seed. The box (object frame = its centre) follows the left wrist rigidly with the root's
heading, so the interaction-graph edge (L_Wrist joint ↔ a fixed box point) has zero gap in the reference.
"""

from __future__ import annotations

import numpy as np
import torch

from hoi_sim import rotations as rot
from hoi_sim.humanoid.kinematics import forward_kinematics
from hoi_sim.motions.schema import HOIMotion, make_motion
from hoi_sim.skeleton import BODY_INDEX, NUM_BODIES, NUM_DOFS, neutral, neutral_offsets


def box_mesh(half: tuple[float, float, float] = (0.2, 0.15, 0.1)) -> tuple[np.ndarray, np.ndarray]:
    """Vertices [8,3] (m, centred) and outward triangles [12,3] of a box with half-extents ``half``."""
    hx, hy, hz = half
    v = np.array([[x, y, z] for x in (-hx, hx) for y in (-hy, hy) for z in (-hz, hz)], np.float32)
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                  [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]], np.int32)
    return v, f


def toy_motion(num_frames: int = 60, fps: float = 30.0, seed: int = 0, name: str = "toy") -> HOIMotion:
    """A clip of ``num_frames`` frames: the root walks +x at 0.3 m/s while turning slowly, joints oscillate
    (amplitude ≤ 0.3 rad, inside the joint limits), the box rides 0.25 m in front of the left wrist.
    Labels: both wrists +1, the Pelvis −1, the rest 0. One interaction-graph edge (L_Wrist joint ↔ box point),
    active on every frame."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames, dtype=np.float64) / fps
    offsets = neutral_offsets().astype(np.float32)
    yaw = 0.2 * t
    root_pos = np.stack([0.3 * t, 0.05 * np.sin(t), 0.93 + 0.01 * np.sin(4 * t)], -1)
    root_quat = np.stack([np.cos(yaw / 2), 0 * t, 0 * t, np.sin(yaw / 2)], -1)
    lim = np.array([j.range for b in neutral().joints[1:] for j in b])  # [153, 2] rad
    amp = np.minimum(rng.uniform(0.0, 0.3, NUM_DOFS), 0.9 * np.abs(lim).min(-1))  # stay inside the joint limits
    phase = rng.uniform(0, 2 * np.pi, NUM_DOFS)
    dof = amp * np.sin(2.0 * t[:, None] + phase)
    tt = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    bp, bq = forward_kinematics(tt(root_pos), tt(root_quat), tt(dof), tt(offsets))
    lw = BODY_INDEX["L_Wrist"]
    c = torch.tensor([0.25, 0.0, 0.0])
    heading = rot.heading_quat(tt(root_quat))
    obj_pos = bp[:, lw] + rot.quat_rotate(heading, c.expand(num_frames, 3))
    label = np.zeros((num_frames, NUM_BODIES), np.int8)
    label[:, [BODY_INDEX["L_Wrist"], BODY_INDEX["R_Wrist"]]] = 1
    label[:, BODY_INDEX["Pelvis"]] = -1
    v, f = box_mesh()
    graph = {"ig_body": np.array([lw], np.int64), "ig_body_offset": np.zeros((1, 3), np.float32),
             "ig_obj_point": -c.numpy()[None].astype(np.float32), "ig_active": np.ones((num_frames, 1), bool)}
    meta = {"fps": fps, "name": name, "object_name": "box", "mass_mode": "dynamic", "source": "synthetic",
            "action": "carry", "subject": "toy", "provenance": {"generator": "hoi_sim.envs.toy"},
            "skeleton": "neutral"}
    return make_motion(meta, root_pos=root_pos, root_quat=root_quat, dof_pos=dof, body_pos=bp.numpy(),
                       body_quat=bq.numpy(), obj_pos=obj_pos.numpy(), obj_quat=heading.numpy(),
                       contact_label=label, skeleton_offsets=offsets, obj_vertices=v, obj_faces=f, graph=graph)
