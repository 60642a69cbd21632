"""Merge release A's ``motion/hand_pose.json`` (HaMeR-like hands, left mirrored) into SMPL-X incam params.

Notes §1.1 "Hand merge": the elbow global rotation is composed along the SMPL-X body chain from the incam
``global_orient`` and ``body_pose``; the wrist local rotation becomes inv(R_elbow_global)·R_hand_global (written to
``body_pose`` joints 20/21); finger rotations become 45-value axis-angle hand poses. The left hand is mirrored by
conjugating with diag(−1, 1, 1) first. Frames without an entry get zero hand poses.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from hoi_sim.errors import InputError
from hoi_sim.recon.types import SmplxParams
from hoi_sim.skeleton import PARENTS, SMPLX_JOINT_IDS

_MIRROR = np.diag([-1.0, 1.0, 1.0])


@lru_cache(maxsize=1)
def smplx_body_parents() -> tuple[int, ...]:
    """Parent SMPL-X joint of each SMPL-X body joint 0–21 (−1 for the pelvis), from :mod:`hoi_sim.skeleton`."""
    par = [-1] * 22
    for b, j in enumerate(SMPLX_JOINT_IDS):
        if j < 22 and PARENTS[b] >= 0:
            par[j] = SMPLX_JOINT_IDS[PARENTS[b]]
    return tuple(par)


def _chain(joint: int) -> list[int]:
    par = smplx_body_parents()
    out = []
    while joint >= 0:
        out.append(joint)
        joint = par[joint]
    return out[::-1]


def joint_global_rotation(global_orient: np.ndarray, body_pose: np.ndarray, joint: int) -> np.ndarray:
    """[3,3] global rotation of SMPL-X body joint ``joint`` (0–21) from one frame's axis-angle params."""
    R = np.eye(3)
    for j in _chain(joint):
        aa = global_orient if j == 0 else body_pose[3 * (j - 1): 3 * j]
        R = R @ Rotation.from_rotvec(aa).as_matrix()
    return R


def _rotmats(value: Any, n: int, where: str) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: not a numeric array") from None
    if a.shape != (n, 3, 3) and not (n == 1 and a.shape == (3, 3)):
        raise InputError(f"{where}: shape {a.shape}, expected {(n, 3, 3) if n > 1 else (3, 3)}")
    if not np.isfinite(a).all():
        raise InputError(f"{where}: non-finite values")
    return a.reshape(n, 3, 3)


def merge_hand_pose_json(params: SmplxParams, hand_json: dict, path: Path) -> SmplxParams:
    """Return a copy of incam ``params`` (all video frames) with the hands of ``hand_json`` merged in.

    ``hand_json``: ``{"<frame>": {"left_hand": 15×3×3, "left_global_orient": 3×3, "right_hand": …,
    "right_global_orient": …}}`` with unpadded frame keys.
    """
    if not isinstance(hand_json, dict):
        raise InputError(f"{path}: expected an object keyed by frame")
    out = params.copy()
    out.left_hand_pose[:] = 0.0
    out.right_hand_pose[:] = 0.0
    for key, entry in hand_json.items():
        try:
            f = int(key)
        except ValueError:
            raise InputError(f"{path}: key {key!r} is not a frame number") from None
        if not 0 <= f < out.num_frames:
            raise InputError(f"{path}: frame {f} outside the motion's {out.num_frames} frames")
        if not isinstance(entry, dict):
            raise InputError(f"{path}: frame {f}: expected an object")
        for side, elbow, wrist_slot in (("left", 18, 19), ("right", 19, 20)):
            hand_field = "left_hand_pose" if side == "left" else "right_hand_pose"
            if f"{side}_hand" in entry:
                fingers = _rotmats(entry[f"{side}_hand"], 15, f"{path}: frame {f} field '{side}_hand'")
                if side == "left":
                    fingers = _MIRROR @ fingers @ _MIRROR
                getattr(out, hand_field)[f] = Rotation.from_matrix(fingers).as_rotvec().reshape(45)
            if f"{side}_global_orient" in entry:
                Rh = _rotmats(entry[f"{side}_global_orient"], 1, f"{path}: frame {f} field '{side}_global_orient'")[0]
                if side == "left":
                    Rh = _MIRROR @ Rh @ _MIRROR
                Re = joint_global_rotation(out.global_orient[f], out.body_pose[f], elbow)
                local = Re.T @ Rh
                out.body_pose[f, 3 * wrist_slot: 3 * wrist_slot + 3] = Rotation.from_matrix(local).as_rotvec()
    return out
