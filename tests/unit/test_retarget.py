"""Retargeting HOISequence (SMPL-X, camera frame) → HOIMotion (52 bodies, z-up world)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hoi_sim import keypoints as kp
from hoi_sim.body import BodyParams, ProxyBody, SMPLXBody
from hoi_sim.humanoid.kinematics import forward_kinematics
from hoi_sim.motions.retarget import C_S2H, RetargetConfig, retarget_sequence
from hoi_sim.motions.validate import validate_motion
from hoi_sim.recon.sequence import HOISequence
from hoi_sim.recon.types import SmplxParams
from hoi_sim.skeleton import BODY_INDEX, SMPLX_JOINT_IDS
from hoi_sim.testing.smplx_fixture import write_smplx_fixture


def _box_mesh(half: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    import trimesh

    m = trimesh.creation.box(extents=(2 * half,) * 3)
    return np.asarray(m.vertices), np.asarray(m.faces)


def _random_params(T: int, seed: int) -> SmplxParams:
    g = np.random.default_rng(seed)
    p = SmplxParams.zeros(T)
    p.global_orient[:] = g.normal(0, 0.6, (T, 3))
    p.body_pose[:] = g.normal(0, 0.4, (T, 63))
    p.left_hand_pose[:] = g.normal(0, 0.3, (T, 45))
    p.right_hand_pose[:] = g.normal(0, 0.3, (T, 45))
    p.transl[:] = g.normal(0, 0.5, (T, 3))
    return p


def _sequence(params: SmplxParams, vertices, faces, obj_t, contact_vertex=None, cam_to_world=None, meta=None):
    T = params.num_frames
    return HOISequence(human=params, obj_vertices=vertices, obj_faces=faces,
                       obj_R=np.broadcast_to(np.eye(3), (T, 3, 3)).copy(), obj_t=obj_t,
                       contact_vertex=np.full((T, 87), -1, np.int64) if contact_vertex is None else contact_vertex,
                       K=np.eye(3), fps=30.0, cam_to_world=cam_to_world, meta=meta or {"world_up": "y"})


def test_smplx_fixture_joints_equal_humanoid_fk(tmp_path):
    """Random SMPL-X poses: humanoid FK body positions = SMPL-X joints after the frame change, fingers included."""
    body = SMPLXBody(write_smplx_fixture(tmp_path), dtype=torch.float64)
    T = 12
    params = _random_params(T, 0)
    params.betas[:] = np.random.default_rng(1).normal(0, 1.0, (1, 10))  # a non-neutral shape, constant per clip
    v, f = _box_mesh()
    cam_to_world = np.broadcast_to(np.eye(4), (T, 4, 4)).copy()  # GVHMR-style y-up world
    seq = _sequence(params, v, f, np.tile([0.0, 0.0, 3.0], (T, 1)), cam_to_world=cam_to_world)
    motion = retarget_sequence(seq, body_model=body, cfg=RetargetConfig(ground_align=False))
    joints = body(BodyParams.from_numpy(params, dtype=torch.float64)).joints.numpy()  # y-up world
    expected = joints[:, list(SMPLX_JOINT_IDS)] @ C_S2H.T  # → z-up
    fk, _ = forward_kinematics(torch.as_tensor(motion.root_pos, dtype=torch.float64),
                               torch.as_tensor(motion.root_quat, dtype=torch.float64),
                               torch.as_tensor(motion.dof_pos, dtype=torch.float64),
                               torch.as_tensor(motion.skeleton_offsets, dtype=torch.float64))
    err = np.linalg.norm(fk.numpy() - expected, axis=-1)
    assert err.max() < 1e-3, f"max {err.max() * 1000:.3f} mm at body {err.max(0).argmax()}"
    assert validate_motion(motion) == []


def test_camera_frame_without_extrinsics_maps_gravity_and_grounds(tmp_path):
    """OpenCV camera frame, no cam_to_world: the body's up (camera −y) becomes world +z; feet land on z = 0."""
    T = 5
    params = SmplxParams.zeros(T)
    params.global_orient[:] = [np.pi, 0.0, 0.0]  # upright person seen by an OpenCV camera (y down)
    params.transl[:] = [0.0, 0.0, 3.0]
    v, f = _box_mesh()
    seq = _sequence(params, v, f, np.tile([0.5, 0.5, 3.0], (T, 1)), meta={})
    motion = retarget_sequence(seq, body_model=ProxyBody(dtype=torch.float64))
    head, pelvis = motion.body_pos[:, BODY_INDEX["Head"]], motion.body_pos[:, 0]
    assert (head[:, 2] - pelvis[:, 2] > 0.3).all()
    assert 0.85 < pelvis[0, 2] < 1.05  # standing pelvis height of the neutral humanoid
    assert validate_motion(motion) == []


def test_contact_labels_and_graph_follow_annotations():
    """A keypoint on leftHand_palm marks L_Wrist +1 exactly in its active frames; graph points follow the keypoint."""
    T = 20
    body = ProxyBody(dtype=torch.float64)
    params = SmplxParams.zeros(T)
    params.global_orient[:] = [np.pi, 0.0, 0.0]
    t = np.linspace(0, 1, T)
    params.transl[:] = np.stack([0.3 * t, 0 * t, 3.0 + 0 * t], -1)
    out = body(BodyParams.from_numpy(params, dtype=torch.float64))
    k = kp.index("leftHand_palm")
    palm = out.keypoints[:, k].numpy()
    v, f = _box_mesh(0.05)
    # the object moves with the palm (held): its centre sits 5 cm from the palm
    obj_t = palm + np.array([0.0, 0.05, 0.0])
    contact = np.full((T, 87), -1, np.int64)
    active = np.zeros(T, bool)
    active[4:15] = True
    contact[active, k] = 3
    seq = _sequence(params, v, f, obj_t, contact_vertex=contact, meta={})
    motion = retarget_sequence(seq, body_model=body)
    wrist = BODY_INDEX["L_Wrist"]
    assert (motion.contact_label[active, wrist] == 1).all()
    assert (motion.contact_label[~active, wrist] != 1).all()
    assert set(np.unique(motion.contact_label)) <= {-1, 0, 1}
    assert motion.contact_label[:, BODY_INDEX["L_Toe"]].max() < 1
    assert motion.ig_body.tolist() == [wrist]
    assert (motion.ig_active[:, 0] == active).all()
    # graph object point moved by the object pose = the keypoint on the reference humanoid, in annotated frames
    from hoi_sim import rotations as rot

    oq = torch.as_tensor(motion.obj_quat[active], dtype=torch.float64)
    world_pt = rot.quat_rotate(oq, torch.as_tensor(motion.ig_obj_point[0], dtype=torch.float64).expand(len(oq), 3))
    world_pt = world_pt.numpy() + motion.obj_pos[active]
    bq = torch.as_tensor(motion.body_quat[active, wrist], dtype=torch.float64)
    kp_ref = rot.quat_rotate(bq, torch.as_tensor(motion.ig_body_offset[0], dtype=torch.float64).expand(len(bq), 3))
    kp_ref = kp_ref.numpy() + motion.body_pos[active, wrist]
    assert np.linalg.norm(world_pt - kp_ref, axis=-1).max() < 0.01
    # and that keypoint position is the body model's palm keypoint (after the frame change)
    assert validate_motion(motion) == []


def test_bad_graph_mode_is_a_clear_error():
    from hoi_sim.errors import InputError

    T = 3
    params = SmplxParams.zeros(T)
    v, f = _box_mesh()
    contact = np.full((T, 87), -1, np.int64)
    contact[:, 0] = 0
    seq = _sequence(params, v, f, np.tile([0.0, 0.0, 3.0], (T, 1)), contact_vertex=contact, meta={})
    with pytest.raises(InputError, match="graph_points"):
        retarget_sequence(seq, body_model=ProxyBody(dtype=torch.float64), cfg=RetargetConfig(graph_points="x"))
