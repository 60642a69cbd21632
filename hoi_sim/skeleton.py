"""The 52-body humanoid tree: names, parents, SMPL-X joint ids, DOF names and named body groups.

Body order is InterMimic's MJCF depth-first order (Pelvis, L_Hip … R_Thumb3). DOF order: three hinges (x, y, z) per
non-root body in body order, 153 in all; the DOF index of body b ≥ 1 is 3(b−1)+{0,1,2}.
The neutral geometry (offsets, geoms, gains, ranges) comes from ``hoi_sim/data/humanoid_neutral.json``, generated
from InterMimic's ``omomo.xml`` by ``tools/gen_tables.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

BODY_NAMES: tuple[str, ...] = (
    "Pelvis", "L_Hip", "L_Knee", "L_Ankle", "L_Toe", "R_Hip", "R_Knee", "R_Ankle", "R_Toe",
    "Torso", "Spine", "Chest", "Neck", "Head", "L_Thorax", "L_Shoulder", "L_Elbow", "L_Wrist",
    "L_Index1", "L_Index2", "L_Index3", "L_Middle1", "L_Middle2", "L_Middle3", "L_Pinky1", "L_Pinky2", "L_Pinky3",
    "L_Ring1", "L_Ring2", "L_Ring3", "L_Thumb1", "L_Thumb2", "L_Thumb3",
    "R_Thorax", "R_Shoulder", "R_Elbow", "R_Wrist",
    "R_Index1", "R_Index2", "R_Index3", "R_Middle1", "R_Middle2", "R_Middle3", "R_Pinky1", "R_Pinky2", "R_Pinky3",
    "R_Ring1", "R_Ring2", "R_Ring3", "R_Thumb1", "R_Thumb2", "R_Thumb3",
)
NUM_BODIES = 52
NUM_DOFS = 153
BODY_INDEX: dict[str, int] = {n: i for i, n in enumerate(BODY_NAMES)}

_FINGERS = ("Index", "Middle", "Pinky", "Ring", "Thumb")


def _parents() -> tuple[int, ...]:
    p = {"Pelvis": -1, "L_Hip": "Pelvis", "L_Knee": "L_Hip", "L_Ankle": "L_Knee", "L_Toe": "L_Ankle",
         "R_Hip": "Pelvis", "R_Knee": "R_Hip", "R_Ankle": "R_Knee", "R_Toe": "R_Ankle", "Torso": "Pelvis",
         "Spine": "Torso", "Chest": "Spine", "Neck": "Chest", "Head": "Neck"}
    for s in ("L", "R"):
        p[f"{s}_Thorax"] = "Chest"
        p[f"{s}_Shoulder"] = f"{s}_Thorax"
        p[f"{s}_Elbow"] = f"{s}_Shoulder"
        p[f"{s}_Wrist"] = f"{s}_Elbow"
        for f in _FINGERS:
            p[f"{s}_{f}1"] = f"{s}_Wrist"
            p[f"{s}_{f}2"] = f"{s}_{f}1"
            p[f"{s}_{f}3"] = f"{s}_{f}2"
    return tuple(-1 if p[n] == -1 else BODY_INDEX[p[n]] for n in BODY_NAMES)


PARENTS: tuple[int, ...] = _parents()


NUM_SMPLX_JOINTS = 55
"""SMPL-X joints: 22 body joints, jaw, two eyes and 2 × 15 MANO hand joints (reference/intermimic-notes.md §2)."""
SMPLX_ROOT_JOINT = 0
"""The pelvis, whose rotation is SMPL-X's ``global_orient``."""
SMPLX_BODY_POSE = slice(1, 22)
"""Joints 1–21: SMPL-X's ``body_pose`` (21 × 3 axis-angle)."""
SMPLX_FACE = slice(22, 25)
"""Joints 22–24: jaw, left eye, right eye. The humanoid has no body for them (InterMimic drops them)."""
SMPLX_LEFT_HAND = slice(25, 40)
"""Joints 25–39: ``left_hand_pose``, MANO order index, middle, pinky, ring, thumb × 3 segments."""
SMPLX_RIGHT_HAND = slice(40, 55)
"""Joints 40–54: ``right_hand_pose``, same finger order as the left hand."""


def _smplx_ids() -> tuple[int, ...]:
    body = {"Pelvis": 0, "L_Hip": 1, "R_Hip": 2, "Torso": 3, "L_Knee": 4, "R_Knee": 5, "Spine": 6, "L_Ankle": 7,
            "R_Ankle": 8, "Chest": 9, "L_Toe": 10, "R_Toe": 11, "Neck": 12, "L_Thorax": 13, "R_Thorax": 14,
            "Head": 15, "L_Shoulder": 16, "R_Shoulder": 17, "L_Elbow": 18, "R_Elbow": 19, "L_Wrist": 20,
            "R_Wrist": 21}
    for s, base in (("L", SMPLX_LEFT_HAND.start), ("R", SMPLX_RIGHT_HAND.start)):
        for fi, f in enumerate(_FINGERS):
            for seg in range(3):
                body[f"{s}_{f}{seg + 1}"] = base + 3 * fi + seg
    return tuple(body[n] for n in BODY_NAMES)


SMPLX_JOINT_IDS: tuple[int, ...] = _smplx_ids()
"""SMPL-X joint index (0..54) of each body; jaw (22) and eyes (23, 24) are dropped."""

ROOT_INDEX = 0
"""The root body (Pelvis), which carries the free joint and no DOFs."""
NON_ROOT = slice(ROOT_INDEX + 1, NUM_BODIES)
"""Bodies 1–51 on the body axis: every body but the root, in the order of the DOF triples."""

DOF_NAMES: tuple[str, ...] = tuple(f"{n}_{a}" for n in BODY_NAMES[NON_ROOT] for a in "xyz")

KEY_BODIES: tuple[str, ...] = (
    "L_Hip", "L_Knee", "L_Ankle", "L_Toe", "R_Hip", "R_Knee", "R_Ankle", "R_Toe", "Torso", "Spine", "Chest",
    "Neck", "Head", "L_Thorax", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Thorax", "R_Shoulder", "R_Elbow", "R_Wrist",
)
"""InterMimic's 21 key bodies (the Pelvis is not one)."""

CONTACT_BODIES: tuple[str, ...] = (
    "L_Hip", "L_Knee", "L_Ankle", "L_Toe", "R_Hip", "R_Knee", "R_Ankle", "R_Toe", "Torso", "Spine", "Chest",
    "Neck", "Head", "L_Thorax", "L_Shoulder", "L_Elbow", "L_Wrist",
    "L_Index3", "L_Middle3", "L_Pinky3", "L_Ring3", "L_Thumb3",
    "R_Thorax", "R_Shoulder", "R_Elbow", "R_Wrist",
    "R_Index3", "R_Middle3", "R_Pinky3", "R_Ring3", "R_Thumb3",
)
"""InterMimic's 31 contact bodies in ``omomo_train_new.yaml`` order (left fingertips after L_Wrist)."""

LEFT_HAND: tuple[str, ...] = ("L_Wrist",) + tuple(f"L_{f}{s}" for f in _FINGERS for s in (1, 2, 3))
RIGHT_HAND: tuple[str, ...] = ("R_Wrist",) + tuple(f"R_{f}{s}" for f in _FINGERS for s in (1, 2, 3))
HANDS: tuple[str, ...] = LEFT_HAND + RIGHT_HAND
FINGER_BODIES: tuple[str, ...] = tuple(n for n in HANDS if not n.endswith("_Wrist"))
"""The 30 finger segments (15 per hand, SMPL-X's MANO joints)."""
NO_HAND_BODIES: tuple[str, ...] = tuple(n for n in BODY_NAMES if n not in FINGER_BODIES)
"""InterMimic's 22 "no-hand" bodies of its rotation and angular-velocity observation rows (its body indices 0–17
and 33–36): Pelvis … L_Wrist and R_Thorax … R_Wrist, every body but the finger segments."""
FEET: tuple[str, ...] = ("L_Ankle", "L_Toe", "R_Ankle", "R_Toe")
BODY_JOINTS_22: tuple[str, ...] = tuple(n for n, j in zip(BODY_NAMES, SMPLX_JOINT_IDS) if j < SMPLX_BODY_POSE.stop)
"""The 22 SMPL-X body joints (0–21): the MPJPE subset without fingers."""


def body_ids(names: tuple[str, ...] | list[str]) -> list[int]:
    """Indices of ``names`` in body order; raises KeyError naming the unknown body."""
    out = []
    for n in names:
        if n not in BODY_INDEX:
            raise KeyError(f"unknown humanoid body {n!r}")
        out.append(BODY_INDEX[n])
    return out


@dataclass(frozen=True)
class JointSpec:
    """One hinge: axis in body frame, range (rad), PD gains, armature."""

    name: str
    axis: tuple[float, float, float]
    range: tuple[float, float]
    kp: float
    kd: float
    armature: float


@dataclass(frozen=True)
class GeomSpec:
    """One collision geom in its body's frame (MuJoCo conventions: half sizes, fromto for capsules)."""

    type: str
    size: tuple[float, ...]
    density: float
    pos: tuple[float, float, float] | None = None
    quat: tuple[float, float, float, float] | None = None
    fromto: tuple[float, ...] | None = None


@dataclass(frozen=True)
class NeutralHumanoid:
    """InterMimic's neutral humanoid: per body offsets [52, 3] (m), joints (3 per non-root body) and geoms."""

    offsets: np.ndarray
    joints: tuple[tuple[JointSpec, ...], ...]
    geoms: tuple[tuple[GeomSpec, ...], ...]


@lru_cache(maxsize=1)
def neutral() -> NeutralHumanoid:
    """Load the neutral humanoid tables shipped in ``hoi_sim/data``."""
    data = json.loads(resources.files("hoi_sim.data").joinpath("humanoid_neutral.json").read_text())
    bodies = data["bodies"]
    names = tuple(b["name"] for b in bodies)
    if names != BODY_NAMES:
        raise RuntimeError("humanoid_neutral.json body order differs from skeleton.BODY_NAMES")
    offsets = np.array([b["pos"] for b in bodies], dtype=np.float64)
    joints = tuple(
        tuple(JointSpec(j["name"], tuple(j["axis"]), tuple(np.deg2rad(j["range_deg"]).tolist()), j["kp"], j["kd"],
                        j["armature"]) for j in b["joints"])
        for b in bodies)
    geoms = tuple(
        tuple(GeomSpec(g["type"], tuple(g["size"]), g["density"], tuple(g["pos"]) if "pos" in g else None,
                       tuple(g["quat"]) if "quat" in g else None, tuple(g["fromto"]) if "fromto" in g else None)
              for g in b["geoms"])
        for b in bodies)
    return NeutralHumanoid(offsets=offsets, joints=joints, geoms=geoms)


def neutral_offsets() -> np.ndarray:
    """Bone offsets [52, 3] (m) of the neutral humanoid: body origin in its parent's frame at zero pose."""
    return neutral().offsets.copy()
