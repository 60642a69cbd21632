"""Torch forward kinematics against MuJoCo's own kinematics of the built humanoid."""

import mujoco
import numpy as np
import pytest
import torch

from hoi_sim import skeleton as sk
from hoi_sim.humanoid.kinematics import dofs_from_global, forward_kinematics
from hoi_sim.sim import humanoid_spec

N_POSES = 1000


def _random_poses(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    root_pos = rng.uniform(-2.0, 2.0, (n, 3))
    root_quat = rng.normal(size=(n, 4))
    root_quat /= np.linalg.norm(root_quat, axis=1, keepdims=True)
    dof = rng.uniform(-np.pi, np.pi, (n, sk.NUM_DOFS))
    dof[n // 2:] = rng.uniform(-1.5, 1.5, (n - n // 2, sk.NUM_DOFS))  # half of them in a milder range
    return root_pos, root_quat, dof


def _mujoco_fk(model: mujoco.MjModel, root_pos, root_quat, dof) -> tuple[np.ndarray, np.ndarray]:
    data = mujoco.MjData(model)
    pos = np.empty((len(dof), sk.NUM_BODIES, 3))
    quat = np.empty((len(dof), sk.NUM_BODIES, 4))
    for i in range(len(dof)):
        data.qpos[:3] = root_pos[i]
        data.qpos[3:7] = root_quat[i]
        data.qpos[7:] = dof[i]
        mujoco.mj_kinematics(model, data)
        pos[i] = data.xpos[1:]
        quat[i] = data.xquat[1:]
    return pos, quat


def _angle_between(q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Rotation angle (rad) between unit wxyz quaternions [..., 4] (sign-invariant, accurate near zero)."""
    w1, v1 = q1[..., :1], q1[..., 1:]
    w2, v2 = q2[..., :1], q2[..., 1:]
    w = (w1 * w2 + (v1 * v2).sum(-1, keepdims=True))[..., 0]
    v = w1 * v2 - w2 * v1 - np.cross(v1, v2)  # vector part of conj(q1) ⊗ q2
    return 2.0 * np.arctan2(np.linalg.norm(v, axis=-1), np.abs(w))


def _subject_offsets(seed: int = 3) -> np.ndarray:
    offs = sk.neutral_offsets()
    offs[1:] += np.random.default_rng(seed).uniform(-0.06, 0.06, (sk.NUM_BODIES - 1, 3))
    return offs


@pytest.mark.parametrize("skeleton", ["neutral", "subject"])
def test_torch_fk_matches_mujoco(skeleton):
    offsets = None if skeleton == "neutral" else _subject_offsets()
    model = humanoid_spec.humanoid_model(offsets, ground=False)
    rng = np.random.default_rng(0)
    root_pos, root_quat, dof = _random_poses(rng, N_POSES)
    mj_pos, mj_quat = _mujoco_fk(model, root_pos, root_quat, dof)

    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    body_pos, body_quat = forward_kinematics(t(root_pos), t(root_quat), t(dof), offsets)
    pos_err = np.abs(body_pos.numpy() - mj_pos).max()
    ang_err = _angle_between(body_quat.numpy(), mj_quat).max()
    assert pos_err < 1e-5, f"max body position error {pos_err:.2e} m"
    assert ang_err < 1e-5, f"max body rotation error {ang_err:.2e} rad"


def test_dofs_from_global_inverts_mujoco_rotations():
    """Exact hinge decomposition of MuJoCo's body rotations (middle angle within ±π/2, where it is unique)."""
    model = humanoid_spec.humanoid_model(ground=False)
    rng = np.random.default_rng(1)
    root_pos, root_quat, dof = _random_poses(rng, 200)
    dof[:, 1::3] = rng.uniform(-1.5, 1.5, (200, sk.NUM_BODIES - 1))
    _, mj_quat = _mujoco_fk(model, root_pos, root_quat, dof)
    rec = dofs_from_global(torch.as_tensor(mj_quat, dtype=torch.float64)).numpy()
    err = np.abs(np.angle(np.exp(1j * (rec - dof)))).max()
    assert err < 1e-6
