"""A small synthetic ``HOIMotion`` for tests and demos (a walking humanoid carrying a box, hands in contact)."""

from __future__ import annotations

import numpy as np
import torch
import trimesh

from hoi_sim import rotations as rot
from hoi_sim.humanoid.kinematics import forward_kinematics
from hoi_sim.motions.graph import graph_from_contacts
from hoi_sim.motions.schema import HOIMotion, make_motion
from hoi_sim.skeleton import BODY_INDEX, HANDS, NUM_BODIES, NUM_DOFS, neutral_offsets


def synthetic_motion(num_frames: int = 40, fps: float = 30.0, seed: int = 0) -> HOIMotion:
    """A small valid motion for tests and demos: smooth sinusoidal hinge angles on the neutral skeleton, a walking
    root, a 0.4 m box carried in front of the pelvis, both hands labelled +1 in the middle third, and the
    interaction graph built from those labels. Deterministic for a seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)[:, None] / fps
    amp, freq, phase = rng.uniform(0.05, 0.4, NUM_DOFS), rng.uniform(0.2, 1.0, NUM_DOFS), rng.uniform(0, 6, NUM_DOFS)
    dof_pos = amp * np.sin(2 * np.pi * freq * t + phase)
    root_pos = np.concatenate([0.8 * t, 0.1 * np.sin(t), 0.9 + 0.02 * np.cos(3 * t)], axis=1)
    yaw = 0.3 * t[:, 0]
    root_quat = np.stack([np.cos(yaw / 2), 0 * yaw, 0 * yaw, np.sin(yaw / 2)], axis=1)
    offsets = neutral_offsets()
    f64 = torch.float64
    bp, bq = forward_kinematics(torch.as_tensor(root_pos, dtype=f64), torch.as_tensor(root_quat, dtype=f64),
                                torch.as_tensor(dof_pos, dtype=f64), offsets)
    obj_quat = torch.as_tensor(root_quat, dtype=f64)
    obj_pos = torch.as_tensor(root_pos, dtype=f64) + rot.quat_rotate(
        obj_quat, torch.tensor([0.45, 0.0, 0.1], dtype=f64).expand(num_frames, 3))
    box = trimesh.creation.box(extents=(0.4, 0.4, 0.4))
    label = np.zeros((num_frames, NUM_BODIES), np.int8)
    label[:, 0] = -1
    third = num_frames // 3
    label[third:2 * third, [BODY_INDEX[n] for n in HANDS]] = 1
    vertices = np.asarray(box.vertices) - np.asarray(box.vertices).mean(axis=0)
    graph = graph_from_contacts(label, bp.numpy(), bq.numpy(), obj_pos.numpy(), obj_quat.numpy(), vertices,
                                np.asarray(box.faces))
    meta = {"fps": float(fps), "name": f"synthetic_{seed}", "object_name": "box", "mass_mode": "dynamic",
            "source": "synthetic", "action": "carry", "subject": "neutral", "provenance": {"seed": seed},
            "skeleton": {"source": "neutral"}}
    return make_motion(meta, root_pos=root_pos, root_quat=root_quat, dof_pos=dof_pos, body_pos=bp.numpy(),
                       body_quat=bq.numpy(), obj_pos=obj_pos.numpy(), obj_quat=obj_quat.numpy(), contact_label=label,
                       skeleton_offsets=offsets, obj_vertices=vertices, obj_faces=np.asarray(box.faces),
                       graph=graph)
