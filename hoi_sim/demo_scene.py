"""The demo's own small scene: the neutral humanoid puts both palms on the top of a static box (a low cabinet).

Nothing here needs ``../shared`` or a licensed file. The motion is scripted in hinge angles: the arms start at the
sides and swing forward and down until the palms rest on the box top, then hold. The box is sized and placed from
the final pose so that the ``leftHand_palm``/``rightHand_palm`` keypoints touch its top face.
"""

from __future__ import annotations

import numpy as np
import torch

from hoi_sim import keypoints as kp
from hoi_sim import rotations as rot
from hoi_sim.humanoid.kinematics import forward_kinematics
from hoi_sim.motions.retarget import lowest_foot_z
from hoi_sim.motions.schema import HOIMotion, make_motion
from hoi_sim.skeleton import BODY_INDEX, NUM_BODIES, NUM_DOFS, neutral_offsets


def _dof(body: str, axis: str) -> int:
    return 3 * (BODY_INDEX[body] - 1) + "xyz".index(axis)


def box_mesh(size: tuple[float, float, float], max_edge: float = 0.04) -> tuple[np.ndarray, np.ndarray]:
    """Closed box mesh centred on the origin, subdivided to edges ≤ ``max_edge`` (m) so that annotations can pick
    object vertices near any contact: vertices [V,3] (m), faces [F,3] (outward)."""
    import trimesh

    m = trimesh.creation.box(extents=size)
    v, f = trimesh.remesh.subdivide_to_size(m.vertices, m.faces, max_edge=max_edge)
    m = trimesh.Trimesh(v, f, process=True)  # merge the duplicated edge vertices
    return np.asarray(m.vertices, np.float64), np.asarray(m.faces, np.int64)


def _arm_angles(s: np.ndarray) -> np.ndarray:
    """Hinge angles [T,153] for reach phase ``s`` [T] in [0,1] (0: arms down at the sides, 1: palms on the box)."""
    T = s.shape[0]
    dof = np.zeros((T, NUM_DOFS))
    # left arm rests along +y: Rx(-1.3) drops it to the side; Ry(0.45)·Rz(-π/2) points it forward and down
    dof[:, _dof("L_Shoulder", "x")] = -1.3 * (1 - s)
    dof[:, _dof("L_Shoulder", "y")] = 0.45 * s
    dof[:, _dof("L_Shoulder", "z")] = -1.5 * s
    dof[:, _dof("R_Shoulder", "x")] = 1.3 * (1 - s)
    dof[:, _dof("R_Shoulder", "y")] = 0.45 * s
    dof[:, _dof("R_Shoulder", "z")] = 1.5 * s
    # the wrists undo the arms' downward pitch so that the hands lie flat on the box top
    dof[:, _dof("L_Wrist", "x")] = 0.7 * s
    dof[:, _dof("R_Wrist", "x")] = -0.7 * s
    # a slight forward lean and knee flex make the pose less stiff
    dof[:, _dof("Spine", "y")] = 0.10 * s
    for side in ("L", "R"):
        dof[:, _dof(f"{side}_Knee", "y")] = 0.05 * s
        dof[:, _dof(f"{side}_Hip", "y")] = -0.03 * s
    return dof


def _lowest_hand_point(root_pos: np.ndarray, dof: np.ndarray, offsets: np.ndarray) -> float:
    """Lowest z (m) of the hand geoms (wrists and fingers) of the humanoid at one pose (root upright)."""
    import mujoco

    from hoi_sim.sim.humanoid_spec import ROOT_JOINT, humanoid_model, lowest_geom_z
    from hoi_sim.skeleton import DOF_NAMES, HANDS, body_ids

    model = humanoid_model(offsets, ground=False)
    data = mujoco.MjData(model)
    adr = lambda joint: int(model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, joint)])  # noqa: E731
    root = adr(ROOT_JOINT)  # free joint: position (3), then quaternion wxyz (4)
    data.qpos[root:root + 3] = root_pos
    data.qpos[root + 3:root + 7] = (1.0, 0.0, 0.0, 0.0)
    data.qpos[[adr(n) for n in DOF_NAMES]] = dof
    mujoco.mj_kinematics(model, data)
    return lowest_geom_z(model, data, {i + 1 for i in body_ids(HANDS)})  # MuJoCo body 0 is the world


def scripted_reach_motion(num_frames: int = 60, fps: float = 30.0, reach_fraction: float = 0.6) -> HOIMotion:
    """A ``num_frames`` clip: reach during the first ``reach_fraction`` of the clip, then hold; static box.

    Returns a valid :class:`HOIMotion` (neutral skeleton, z-up, feet on the floor) with the box mesh embedded,
    ``mass_mode='static'``, contact labels +1 on both wrists while the palms touch the box and −1 elsewhere, and
    an empty interaction graph (the solver's annotations define it after reconstruction).
    """
    t = np.arange(num_frames) / max(num_frames - 1, 1)
    u = np.clip(t / reach_fraction, 0.0, 1.0)
    s = u * u * (3 - 2 * u)  # smoothstep
    dof = _arm_angles(s)
    offsets = neutral_offsets()
    f64 = torch.float64
    root_pos = np.zeros((num_frames, 3))
    root_quat = np.tile([1.0, 0.0, 0.0, 0.0], (num_frames, 1))
    pos, quat = forward_kinematics(torch.as_tensor(root_pos, dtype=f64), torch.as_tensor(root_quat, dtype=f64),
                                   torch.as_tensor(dof, dtype=f64), offsets)
    root_pos[:, 2] = -lowest_foot_z(pos, quat, offsets)
    pos = pos + torch.as_tensor(root_pos, dtype=f64)[:, None]

    # the palms' keypoints at the final pose define where the box is; its top sits just under the lowest point of
    # the hands' geoms (fingers hang below the palm), so the reference touches the box without sinking into it
    palms = []
    for name in ("leftHand_palm", "rightHand_palm"):
        k = kp.get(name)
        off = torch.as_tensor(k.body_offset, dtype=f64)
        palms.append((pos[-1, k.body_index] + rot.quat_rotate(quat[-1, k.body_index], off)).numpy())
    palms = np.stack(palms)
    top = _lowest_hand_point(root_pos[-1], dof[-1], offsets) - 0.002
    size = (0.40, max(0.5, float(abs(palms[0, 1] - palms[1, 1])) + 0.25), top)
    centre = np.array([float(palms[:, 0].mean()), 0.0, top / 2])
    verts, faces = box_mesh(size)

    label = np.full((num_frames, NUM_BODIES), -1, np.int8)
    touching = s > 0.98
    for wrist in ("L_Wrist", "R_Wrist"):
        label[touching, BODY_INDEX[wrist]] = 1
    meta = {"fps": fps, "name": "demo_reach", "object_name": "demo_box", "mass_mode": "static",
            "source": "hoi_sim demo scene", "action": "touch", "subject": "neutral",
            "skeleton": "neutral humanoid (omomo.xml)"}
    return make_motion(meta, root_pos=root_pos, root_quat=root_quat, dof_pos=dof, body_pos=pos.numpy(),
                       body_quat=quat.numpy(), obj_pos=np.tile(centre, (num_frames, 1)),
                       obj_quat=np.tile([1.0, 0.0, 0.0, 0.0], (num_frames, 1)), contact_label=label,
                       skeleton_offsets=offsets, obj_vertices=verts, obj_faces=faces)
