"""Rotation helpers in torch. Quaternions are **wxyz** (MuJoCo order), batch dimensions first.

xyzw appears only at the InterMimic boundary (:func:`xyzw_to_wxyz`, :func:`wxyz_to_xyzw`).
All functions accept any leading batch shape ``[...]``.
"""

from __future__ import annotations

import torch

_EPS = 1e-12


def xyzw_to_wxyz(q: torch.Tensor) -> torch.Tensor:
    """[..., 4] xyzw → [..., 4] wxyz."""
    return torch.cat([q[..., 3:4], q[..., :3]], dim=-1)


def wxyz_to_xyzw(q: torch.Tensor) -> torch.Tensor:
    """[..., 4] wxyz → [..., 4] xyzw."""
    return torch.cat([q[..., 1:4], q[..., 0:1]], dim=-1)


def quat_normalize(q: torch.Tensor) -> torch.Tensor:
    return q / q.norm(dim=-1, keepdim=True).clamp_min(_EPS)


def quat_conj(q: torch.Tensor) -> torch.Tensor:
    return torch.cat([q[..., :1], -q[..., 1:]], dim=-1)


def quat_mul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product a ⊗ b of [..., 4] wxyz quaternions (rotation b first, then a)."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], dim=-1)


def quat_rotate(q: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate vectors v [..., 3] by unit quaternions q [..., 4]."""
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * torch.cross(u, v, dim=-1)
    return v + w * t + torch.cross(u, t, dim=-1)


def quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """[..., 4] wxyz → [..., 3, 3] rotation matrices (q need not be normalised)."""
    q = quat_normalize(q)
    w, x, y, z = q.unbind(-1)
    # 2·(a·b ± c·d) computed as a·(2b) ± c·(2d): the same floats (scaling by 2 is exact), fewer tensor ops
    x2, y2, z2 = x + x, y + y, z + z
    xx, yy, zz, xy, xz, yz = x * x2, y * y2, z * z2, x * y2, x * z2, y * z2
    wx, wy, wz = w * x2, w * y2, w * z2
    return torch.stack([
        1 - (yy + zz), xy - wz, xz + wy,
        xy + wz, 1 - (xx + zz), yz - wx,
        xz - wy, yz + wx, 1 - (xx + yy),
    ], dim=-1).reshape(q.shape[:-1] + (3, 3))


def matrix_to_quat(m: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] rotation matrices → [..., 4] unit wxyz quaternions with w ≥ 0 (numerically stable branch choice)."""
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    cand = torch.stack([
        torch.stack([1 + m00 + m11 + m22, m21 - m12, m02 - m20, m10 - m01], -1),
        torch.stack([m21 - m12, 1 + m00 - m11 - m22, m01 + m10, m02 + m20], -1),
        torch.stack([m02 - m20, m01 + m10, 1 - m00 + m11 - m22, m12 + m21], -1),
        torch.stack([m10 - m01, m02 + m20, m12 + m21, 1 - m00 - m11 + m22], -1),
    ], dim=-2)  # [..., 4 candidates, 4]
    diag = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    best = diag.argmax(dim=-1)
    q = torch.gather(cand, -2, best[..., None, None].expand(best.shape + (1, 4))).squeeze(-2)
    q = quat_normalize(q)
    return torch.where(q[..., :1] < 0, -q, q)


def axis_angle_to_quat(aa: torch.Tensor) -> torch.Tensor:
    """Exponential map [..., 3] (axis × angle, rad) → [..., 4] wxyz."""
    angle = aa.norm(dim=-1, keepdim=True)
    half = 0.5 * angle
    # sin(x/2)/x with its Taylor series near 0 so gradients stay finite
    small = angle < 1e-6
    k = torch.where(small, 0.5 - angle * angle / 48.0, torch.sin(half) / angle.clamp_min(1e-6))
    return torch.cat([torch.cos(half), aa * k], dim=-1)


def quat_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """[..., 4] wxyz → exponential map [..., 3] with angle in [0, π]."""
    q = quat_normalize(q)
    q = torch.where(q[..., :1] < 0, -q, q)
    s = q[..., 1:].norm(dim=-1, keepdim=True)
    angle = 2.0 * torch.atan2(s, q[..., :1])
    k = torch.where(s < 1e-7, 2.0 + angle * 0.0, angle / s.clamp_min(1e-7))
    return q[..., 1:] * k


def quat_angle(q: torch.Tensor) -> torch.Tensor:
    """Rotation angle in [0, π] of [..., 4] unit quaternions (the positive angle; no sign quirk)."""
    return 2.0 * torch.atan2(q[..., 1:].norm(dim=-1), q[..., 0].abs())


def quat_diff_angle(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle (rad, [0, π]) of the rotation taking b to a, [...]."""
    return quat_angle(quat_mul(a, quat_conj(b)))


def _rot_axis(angle: torch.Tensor, axis: int) -> torch.Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    o, z = torch.ones_like(angle), torch.zeros_like(angle)
    if axis == 0:
        rows = [o, z, z, z, c, -s, z, s, c]
    elif axis == 1:
        rows = [c, z, s, z, o, z, -s, z, c]
    else:
        rows = [c, -s, z, s, c, z, z, z, o]
    return torch.stack(rows, -1).reshape(angle.shape + (3, 3))


def euler_xyz_to_matrix(angles: torch.Tensor) -> torch.Tensor:
    """Intrinsic x-y-z angles [..., 3] (rad) → R = Rx(a)·Ry(b)·Rz(c), [..., 3, 3].

    This is how MuJoCo composes three hinges about local x, y, z declared in that order inside one body.
    """
    return _rot_axis(angles[..., 0], 0) @ _rot_axis(angles[..., 1], 1) @ _rot_axis(angles[..., 2], 2)


def matrix_to_euler_xyz(m: torch.Tensor) -> torch.Tensor:
    """Exact inverse of :func:`euler_xyz_to_matrix`: [..., 3, 3] → [..., 3] with b ∈ [−π/2, π/2].

    R = Rx(a)Ry(b)Rz(c) has R[0,2] = sin b, R[1,2] = −sin a cos b, R[2,2] = cos a cos b,
    R[0,1] = −cos b sin c, R[0,0] = cos b cos c. At gimbal lock (cos b ≈ 0) only a ± c is defined; c is set to 0.
    """
    sb = m[..., 0, 2].clamp(-1.0, 1.0)
    cb = torch.sqrt(m[..., 0, 0] ** 2 + m[..., 0, 1] ** 2)
    b = torch.atan2(sb, cb)
    lock = cb < 1e-6
    a = torch.atan2(-m[..., 1, 2], m[..., 2, 2])
    c = torch.atan2(-m[..., 0, 1], m[..., 0, 0])
    # gimbal lock (sin b = ±1): R[1,0] = ±sin(a ± c), R[1,1] = cos(a ± c); put everything into a, c = 0.
    a_lock = torch.atan2(torch.sign(sb) * m[..., 1, 0], m[..., 1, 1])
    a = torch.where(lock, a_lock, a)
    c = torch.where(lock, torch.zeros_like(c), c)
    return torch.stack([a, b, c], dim=-1)


def quat_to_euler_xyz(q: torch.Tensor) -> torch.Tensor:
    return matrix_to_euler_xyz(quat_to_matrix(q))


def euler_xyz_to_quat(angles: torch.Tensor) -> torch.Tensor:
    half = 0.5 * angles
    c, s = torch.cos(half), torch.sin(half)
    z = torch.zeros_like(c[..., 0])
    qx = torch.stack([c[..., 0], s[..., 0], z, z], -1)
    qy = torch.stack([c[..., 1], z, s[..., 1], z], -1)
    qz = torch.stack([c[..., 2], z, z, s[..., 2]], -1)
    return quat_mul(quat_mul(qx, qy), qz)


def slerp(q0: torch.Tensor, q1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of [..., 4] wxyz quaternions; t broadcastable to [..., 1] in [0, 1]."""
    if t.dim() < q0.dim():
        t = t[..., None]
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    theta = torch.acos(dot)
    sin_t = torch.sin(theta)
    lin = sin_t < 1e-6
    w0 = torch.where(lin, 1 - t, torch.sin((1 - t) * theta) / sin_t.clamp_min(1e-6))
    w1 = torch.where(lin, t, torch.sin(t * theta) / sin_t.clamp_min(1e-6))
    return quat_normalize(w0 * q0 + w1 * q1)


def heading_quat(q: torch.Tensor) -> torch.Tensor:
    """Yaw-only part of [..., 4] wxyz rotations (rotation about world z that best matches the x axis)."""
    fwd = quat_rotate(q, torch.tensor([1.0, 0.0, 0.0], dtype=q.dtype, device=q.device).expand(q.shape[:-1] + (3,)))
    yaw = torch.atan2(fwd[..., 1], fwd[..., 0])
    z = torch.zeros_like(yaw)
    return torch.stack([torch.cos(0.5 * yaw), z, z, torch.sin(0.5 * yaw)], dim=-1)
