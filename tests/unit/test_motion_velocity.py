"""compute_velocities against analytic motions: quadratic translation, constant angular velocity, wrapped hinges."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hoi_sim import rotations as rot
from hoi_sim.motions.velocity import angular_velocity, compute_velocities

FPS = 30.0


def _quat_exp(rotvec: np.ndarray) -> np.ndarray:
    return rot.axis_angle_to_quat(torch.as_tensor(rotvec, dtype=torch.float64)).numpy()


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return rot.quat_mul(torch.as_tensor(a), torch.as_tensor(b)).numpy()


def _pose(T: int, **over: np.ndarray) -> dict[str, np.ndarray]:
    ident = np.tile([1.0, 0, 0, 0], (T, 1))
    base = {"root_pos": np.zeros((T, 3)), "root_quat": ident, "dof_pos": np.zeros((T, 153)),
            "body_pos": np.zeros((T, 52, 3)), "body_quat": np.tile(ident[:, None], (1, 52, 1)),
            "obj_pos": np.zeros((T, 3)), "obj_quat": ident}
    base.update(over)
    return base


def test_quadratic_translation_is_exact_at_every_frame():
    T = 12
    t = np.arange(T)[:, None] / FPS
    a, b, c = np.array([0.1, -2.0, 0.5]), np.array([1.0, 0.3, -0.7]), np.array([-0.4, 2.0, 0.25])
    pos = a + b * t + c * t * t
    vel = compute_velocities(FPS, **_pose(T, root_pos=pos, obj_pos=pos,
                                          body_pos=np.repeat(pos[:, None], 52, axis=1)))
    want = b + 2 * c * t
    for key in ("root_lin_vel", "obj_lin_vel"):
        np.testing.assert_allclose(vel[key], want, atol=2e-5)
    np.testing.assert_allclose(vel["body_lin_vel"][:, 17], want, atol=2e-5)
    assert vel["root_lin_vel"].dtype == np.float32


def test_constant_angular_velocity_is_world_frame_and_exact():
    T = 15
    omega = np.array([0.7, -1.9, 2.4])  # rad/s, world frame
    q0 = _quat_exp(np.array([0.3, 0.2, -1.0]))
    t = np.arange(T)[:, None] / FPS
    q = _qmul(_quat_exp(omega * t), np.tile(q0, (T, 1)))  # world-frame spin applied after q0
    q[::3] *= -1.0  # quaternion sign must not matter
    vel = compute_velocities(FPS, **_pose(T, root_quat=q, obj_quat=q, body_quat=np.repeat(q[:, None], 52, 1)))
    for key in ("root_ang_vel", "obj_ang_vel"):
        np.testing.assert_allclose(vel[key], np.broadcast_to(omega, (T, 3)), atol=1e-4)
    np.testing.assert_allclose(vel["body_ang_vel"][:, 30], np.broadcast_to(omega, (T, 3)), atol=1e-4)
    # not the body-frame rate: that would be R0ᵀω
    body_frame = rot.quat_rotate(rot.quat_conj(torch.as_tensor(q0)), torch.as_tensor(omega)).numpy()
    assert np.abs(vel["root_ang_vel"][0] - body_frame).max() > 0.1


def test_hinge_velocity_unwraps_across_pi():
    T = 10
    rate = 3.0  # rad/s
    angle = math.pi - 0.2 + rate * np.arange(T) / FPS
    wrapped = (angle + math.pi) % (2 * math.pi) - math.pi  # jumps from +π to −π inside the clip
    assert np.any(np.diff(wrapped) < 0)
    dof = np.zeros((T, 153))
    dof[:, 4] = wrapped
    vel = compute_velocities(FPS, **_pose(T, dof_pos=dof))
    np.testing.assert_allclose(vel["dof_vel"][:, 4], rate, atol=1e-4)
    assert np.all(vel["dof_vel"][:, :4] == 0)


@pytest.mark.parametrize("T", [1, 2])
def test_short_clips(T):
    pos = np.arange(T, dtype=float)[:, None] * np.array([[1.0, 0, 0]])
    vel = compute_velocities(FPS, **_pose(T, root_pos=pos))
    assert vel["root_lin_vel"].shape == (T, 3)
    np.testing.assert_allclose(vel["root_lin_vel"][:, 0], 0.0 if T == 1 else FPS)


def test_angular_velocity_batched_shapes_and_bad_fps():
    q = np.tile([1.0, 0, 0, 0], (5, 7, 4, 1))
    assert angular_velocity(q, FPS).shape == (5, 7, 4, 3)
    with pytest.raises(ValueError):
        compute_velocities(0.0, **_pose(3))
