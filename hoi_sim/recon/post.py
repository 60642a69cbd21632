"""After the keyframe loop (notes §3.7; paper Alg. 1 lines 8–12): camera↔world mapping for static objects and
pre-contact frames, interpolation between keyframes, and low-pass smoothing.

Rotations are handled as wxyz quaternions (``hoi_sim.rotations``) made sign-continuous along time before any
filtering; translations and betas as plain vectors.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.signal import butter, filtfilt

from hoi_sim import rotations as rot
from hoi_sim.body.base import BodyModel, BodyParams, axis_angle_to_matrix
from hoi_sim.recon.config import PostConfig


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


def mat_to_quat(R: np.ndarray) -> np.ndarray:
    """[...,3,3] → [...,4] wxyz."""
    return rot.matrix_to_quat(_t(R)).numpy()


def quat_to_mat(q: np.ndarray) -> np.ndarray:
    return rot.quat_to_matrix(_t(q)).numpy()


def aa_to_quat(aa: np.ndarray) -> np.ndarray:
    return rot.axis_angle_to_quat(_t(aa)).numpy()


def quat_to_aa(q: np.ndarray) -> np.ndarray:
    return rot.quat_to_axis_angle(_t(q)).numpy()


def camera_to_world(body: BodyModel, human_incam: object, human_global: object | None,
                    cam_to_world: np.ndarray | None, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame camera→world rotation [T,3,3] and translation [T,3].

    A known static camera (``cam_to_world [4,4]``) wins; else the pelvis-based mapping of the released code from
    the incam and global SMPL-X params (R_d = R(go_g)·R(go_c)ᵀ, t_d = pelvis_g − R_d·pelvis_c, same pose and betas,
    hands zero); else identity (object "static" means static in the camera frame).
    """
    if cam_to_world is not None:
        T4 = np.asarray(cam_to_world, dtype=np.float64)
        return np.repeat(T4[None, :3, :3], num_frames, 0), np.repeat(T4[None, :3, 3], num_frames, 0)
    if human_global is None:
        return np.repeat(np.eye(3)[None], num_frames, 0), np.zeros((num_frames, 3))
    pc = BodyParams.from_numpy(human_incam, torch.float64)
    pg = BodyParams.from_numpy(human_global, torch.float64)
    pg.body_pose, pg.betas = pc.body_pose, pc.betas
    for p in (pc, pg):
        p.left_hand_pose = torch.zeros_like(p.left_hand_pose)
        p.right_hand_pose = torch.zeros_like(p.right_hand_pose)
    with torch.no_grad():
        jc = body(pc).joints[:, 0].double()
        jg = body(pg).joints[:, 0].double()
    Rd = axis_angle_to_matrix(pg.global_orient) @ axis_angle_to_matrix(pc.global_orient).transpose(1, 2)
    td = jg - torch.einsum("tij,tj->ti", Rd, jc)
    return Rd.numpy(), td.numpy()


def hold_in_world(R: np.ndarray, t: np.ndarray, src: int, frames: np.ndarray, Rd: np.ndarray, td: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Give ``frames`` the pose of frame ``src`` held fixed in the world. R [T,3,3], t [T,3] (copies returned)."""
    R, t = R.copy(), t.copy()
    Rw = Rd[src] @ R[src]
    tw = Rd[src] @ t[src] + td[src]
    for f in np.asarray(frames).tolist():
        R[f] = Rd[f].T @ Rw
        t[f] = Rd[f].T @ (tw - td[f])
    return R, t


def _bracket(keys: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each frame: left key index, right key index (into ``keys``) and blend weight in [0,1]."""
    keys = np.asarray(keys)
    f = np.arange(T)
    j = np.clip(np.searchsorted(keys, f, side="right") - 1, 0, len(keys) - 1)
    j1 = np.clip(j + 1, 0, len(keys) - 1)
    span = np.maximum(keys[j1] - keys[j], 1)
    w = np.clip((f - keys[j]) / span, 0.0, 1.0)
    w[j1 == j] = 0.0
    return j, j1, w


def interp_quats(keys: np.ndarray, q: np.ndarray, T: int) -> np.ndarray:
    """Slerp [K,...,4] keyframe quaternions at sorted frames ``keys`` to all T frames (held beyond the ends)."""
    j, j1, w = _bracket(keys, T)
    wt = _t(w).reshape((T,) + (1,) * (q.ndim - 1))
    return rot.slerp(_t(q[j]), _t(q[j1]), wt).numpy()


def interp_vectors(keys: np.ndarray, x: np.ndarray, T: int) -> np.ndarray:
    """Lerp [K,...] keyframe values to all T frames (held beyond the ends)."""
    j, j1, w = _bracket(keys, T)
    w = w.reshape((T,) + (1,) * (x.ndim - 1))
    return (1 - w) * x[j] + w * x[j1]


def continuous(q: np.ndarray) -> np.ndarray:
    """Flip quaternion signs [T,...,4] so consecutive frames lie in the same hemisphere."""
    q = q.copy()
    for i in range(1, len(q)):
        flip = (q[i] * q[i - 1]).sum(-1, keepdims=True) < 0
        q[i] = np.where(flip, -q[i], q[i])
    return q


def butterworth(x: np.ndarray, fps: float, cutoff: float, order: int) -> np.ndarray:
    """Zero-phase low-pass (``filtfilt``) along axis 0; returned unchanged when too short or cutoff ≥ Nyquist."""
    T = len(x)
    wn = cutoff / (0.5 * fps)
    if T < 4 or wn >= 1.0:
        return x
    b, a = butter(order, wn)
    return np.ascontiguousarray(filtfilt(b, a, x, axis=0, padlen=min(3 * max(len(a), len(b)), T - 1)))


def ema_box(x: np.ndarray, alpha: float, window: int, passes: int) -> np.ndarray:
    """The released code's smoother: bidirectional EMA (``passes`` times, forward and backward averaged), then a
    centred ``window``-frame box mean truncated at the ends. Along axis 0."""
    y = x.astype(np.float64).copy()
    for _ in range(passes):
        f, b = y.copy(), y.copy()
        for i in range(1, len(y)):
            f[i] = alpha * y[i] + (1 - alpha) * f[i - 1]
        for i in range(len(y) - 2, -1, -1):
            b[i] = alpha * y[i] + (1 - alpha) * b[i + 1]
        y = 0.5 * (f + b)
    h = window // 2
    cs = np.concatenate([np.zeros((1,) + y.shape[1:]), np.cumsum(y, 0)])
    lo = np.clip(np.arange(len(y)) - h, 0, len(y))
    hi = np.clip(np.arange(len(y)) + h + 1, 0, len(y))
    return (cs[hi] - cs[lo]) / (hi - lo).reshape((-1,) + (1,) * (y.ndim - 1))


def smooth(x: np.ndarray, fps: float, cfg: PostConfig, is_quat: bool = False) -> np.ndarray:
    """Low-pass [T,...] values (``is_quat``: [T,...,4] quaternions, renormalised after filtering)."""
    if cfg.smoothing == "none" or len(x) < 3:
        return x
    y = continuous(x) if is_quat else x
    y = butterworth(y, fps, cfg.cutoff_hz, cfg.butter_order) if cfg.smoothing == "butterworth" else \
        ema_box(y, cfg.ema_alpha, cfg.box_window, cfg.ema_passes)
    if is_quat:
        y = y / np.maximum(np.linalg.norm(y, axis=-1, keepdims=True), 1e-12)
    return y
