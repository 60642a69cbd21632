"""Velocities of a motion, computed in one place (:func:`compute_velocities`).

Rule, for a clip sampled at ``fps`` (h = 1/fps), at every frame t:

* positions: central difference (x[t+1] − x[t−1]) / 2h; second-order one-sided at both ends
  ((−3x0 + 4x1 − x2) / 2h), so a quadratic trajectory is differentiated exactly everywhere;
* rotations: the **world-frame angular velocity** ω (rad/s) from relative rotations, not from differences of
  exponential maps: with r(a, b) = log(q[b] ⊗ q[a]⁻¹) (rotation vector), ω[t] = r(t−1, t+1) / 2h inside the clip
  and ω[0] = (4·r(0,1) − r(0,2)) / 2h (mirrored at the end). A constant angular velocity is reproduced exactly;
* hinge angles: the same stencils on angle differences wrapped to (−π, π], so a joint passing ±π is no jump.

Clips of two frames use first-order differences; a single frame has zero velocity.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from hoi_sim import rotations as rot


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + math.pi) % (2.0 * math.pi) - math.pi


def _diff(x: np.ndarray, fps: float, wrap: bool) -> np.ndarray:
    """d/dt of [T, ...] samples with the stencils of the module docstring."""
    T = x.shape[0]
    out = np.zeros_like(x, dtype=np.float64)
    if T < 2:
        return out
    w = _wrap if wrap else (lambda a: a)
    if T == 2:
        out[:] = w(x[1] - x[0]) * fps
        return out
    out[1:-1] = w(x[2:] - x[:-2]) * (0.5 * fps)
    out[0] = (4.0 * w(x[1] - x[0]) - w(x[2] - x[0])) * (0.5 * fps)
    out[-1] = -(4.0 * w(x[-2] - x[-1]) - w(x[-3] - x[-1])) * (0.5 * fps)
    return out


def _rotvec(q_from: torch.Tensor, q_to: torch.Tensor) -> torch.Tensor:
    """World-frame rotation vector of q_to ⊗ q_from⁻¹ (the rotation taking q_from to q_to)."""
    return rot.quat_to_axis_angle(rot.quat_mul(q_to, rot.quat_conj(q_from)))


def angular_velocity(quat: np.ndarray, fps: float) -> np.ndarray:
    """World-frame angular velocity [T, ..., 3] (rad/s) of rotations quat [T, ..., 4] (wxyz, any sign)."""
    q = rot.quat_normalize(torch.as_tensor(np.asarray(quat, np.float64)))
    T = q.shape[0]
    out = torch.zeros(q.shape[:-1] + (3,), dtype=torch.float64)
    if T < 2:
        return out.numpy()
    if T == 2:
        out[:] = _rotvec(q[0], q[1]) * fps
        return out.numpy()
    out[1:-1] = _rotvec(q[:-2], q[2:]) * (0.5 * fps)
    out[0] = (4.0 * _rotvec(q[0], q[1]) - _rotvec(q[0], q[2])) * (0.5 * fps)
    out[-1] = -(4.0 * _rotvec(q[-1], q[-2]) - _rotvec(q[-1], q[-3])) * (0.5 * fps)
    return out.numpy()


def compute_velocities(fps: float, *, root_pos: np.ndarray, root_quat: np.ndarray, dof_pos: np.ndarray,
                       body_pos: np.ndarray, body_quat: np.ndarray, obj_pos: np.ndarray,
                       obj_quat: np.ndarray) -> dict[str, np.ndarray]:
    """All velocities of a motion (float32), keyed by their ``HOIMotion`` field names.

    Args:
        fps: frames per second (> 0).
        root_pos [T,3] m, root_quat [T,4] wxyz, dof_pos [T,153] rad, body_pos [T,52,3] m, body_quat [T,52,4] wxyz,
        obj_pos [T,3] m, obj_quat [T,4] wxyz.

    Returns:
        ``root_lin_vel`` [T,3] m/s, ``root_ang_vel`` [T,3] rad/s, ``dof_vel`` [T,153] rad/s, ``body_lin_vel``
        [T,52,3], ``body_ang_vel`` [T,52,3], ``obj_lin_vel`` [T,3], ``obj_ang_vel`` [T,3]; angular velocities are
        world-frame (see the module docstring for the finite-difference rule).
    """
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")

    def lin(x: np.ndarray) -> np.ndarray:
        return _diff(np.asarray(x, np.float64), fps, wrap=False).astype(np.float32)

    def ang(q: np.ndarray) -> np.ndarray:
        return angular_velocity(q, fps).astype(np.float32)

    return {
        "root_lin_vel": lin(root_pos),
        "root_ang_vel": ang(root_quat),
        "dof_vel": _diff(np.asarray(dof_pos, np.float64), fps, wrap=True).astype(np.float32),
        "body_lin_vel": lin(body_pos),
        "body_ang_vel": ang(body_quat),
        "obj_lin_vel": lin(obj_pos),
        "obj_ang_vel": ang(obj_quat),
    }
