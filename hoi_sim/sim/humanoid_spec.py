"""MuJoCo model of the 52-body humanoid, built with ``mujoco.MjSpec`` (neutral or on a subject's skeleton).

The model reproduces InterMimic's ``omomo.xml`` humanoid (DESIGN §5.1) with MuJoCo semantics:

- bodies ``skeleton.BODY_NAMES`` in depth-first order, a free joint ``"root"`` on the Pelvis, three hinges per other
  body named ``skeleton.DOF_NAMES`` (axes x, y, z in that order, so R_local = Rx·Ry·Rz), with the reference ranges and
  armature 0.02 and **no** joint stiffness/damping (in Isaac Gym those attributes are PD gains, not springs);
- one ``position`` actuator per DOF, in DOF order, with kp/kv = the reference stiffness/damping (legs 800/80, toes
  500/50, torso 1000/100, neck/head/arms 500/50, wrists 300/30, fingers 100/10), unlimited control and force;
- ``implicitfast`` integration (kv is integrated implicitly), timestep from the caller (default 1/240 s);
- one geom per body with the reference density (mass = density × volume, ≈ 74.1 kg in all), condim 3, margin 1 mm.

Collision filtering. InterMimic runs with self-collision off (Isaac Gym collision filter 1). Here each kind of thing
owns one bit of ``contype`` ("what I am") and sets in ``conaffinity`` the bits of the kinds it touches; MuJoCo
collides two geoms when ``contype₁ & conaffinity₂ or contype₂ & conaffinity₁``. Humanoid geoms have
``contype = HUMANOID_BIT`` and ``conaffinity = GROUND_BIT | OBJECT_BIT``, so humanoid–humanoid pairs never collide
while the ground and any object whose contype has ``OBJECT_BIT`` (or whose conaffinity has ``HUMANOID_BIT``) do.
``self_collision=True`` adds ``HUMANOID_BIT`` to the humanoid's conaffinity (MuJoCo still skips parent–child pairs).

Subject skeletons (``geom_scale="bone"``). Given bone offsets [52, 3] (a motion's skeleton), bodies sit at those
offsets and geoms follow the bones: each geom anchor point (capsule ``fromto`` end, box/sphere centre) of a body with
children lies, in the neutral model, at a fraction α of one child bone (the child whose bone passes closest to the
point; within 4 mm for every geom). The point keeps that fraction: p' = p + α (o'_child − o_child), so capsules
stretch and turn with their bone and the foot box stays centred on the ankle–toe bone. Capsules of leaf bodies
(fingertips) scale with their incoming bone's length ratio; other leaf geoms (head sphere, toe boxes) are kept.
Radii and box half-sizes are kept, so the mass changes with bone lengths only. ``geom_scale="none"`` keeps every
geom as in the neutral model (bodies still move).
"""

from __future__ import annotations

from collections.abc import Sequence

import mujoco
import numpy as np

from hoi_sim.errors import InputError
from hoi_sim.skeleton import BODY_NAMES, DOF_NAMES, NUM_BODIES, PARENTS, GeomSpec, neutral

HUMANOID_BIT = 1
"""contype bit owned by the humanoid's geoms."""
GROUND_BIT = 2
"""contype bit owned by the ground plane."""
OBJECT_BIT = 4
"""contype bit reserved for manipulated objects (set by the object builder)."""

HUMANOID_CONTYPE = HUMANOID_BIT
HUMANOID_CONAFFINITY = GROUND_BIT | OBJECT_BIT
"""Humanoid geoms touch the ground and objects, never each other (InterMimic: self-collision off)."""
GROUND_CONTYPE = GROUND_BIT
GROUND_CONAFFINITY = HUMANOID_BIT | OBJECT_BIT
OBJECT_CONTYPE = OBJECT_BIT
OBJECT_CONAFFINITY = HUMANOID_BIT | GROUND_BIT
"""Suggested bits for object geoms: they touch the humanoid and the ground, not other objects."""

GEOM_CONDIM = 3
GEOM_MARGIN = 0.001
"""Contact margin (m) of every humanoid geom, as in the reference MJCF."""
ROOT_JOINT = "root"
GROUND_GEOM = "floor"
DEFAULT_TIMESTEP = 1.0 / 240.0
DEFAULT_GROUND_FRICTION = (1.0, 0.005, 0.0001)
"""MuJoCo's default (sliding, torsional, rolling) friction."""
GEOM_SCALE_MODES = ("bone", "none")

HUMANOID_ROOT_HEIGHT = 0.9349
"""Pelvis height (m) at which the neutral humanoid in the zero pose touches the floor with its lowest point
(the foot boxes); ``standing_root_height()`` computes it for any skeleton (a test checks the two agree)."""

_ANCHOR_TOL = 0.005  # m: largest distance of a geom anchor from its child bone for it to follow that bone


def check_offsets(offsets: np.ndarray | Sequence | None) -> np.ndarray:
    """Validated bone offsets [52, 3] float64 (m); ``None`` gives the neutral ones. Row 0 (Pelvis) is ignored."""
    if offsets is None:
        return neutral().offsets.copy()
    arr = np.asarray(offsets, dtype=np.float64)
    if arr.shape != (NUM_BODIES, 3):
        raise InputError(f"skeleton offsets must have shape ({NUM_BODIES}, 3), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError("skeleton offsets contain NaN or inf")
    return arr


def _children(body: int) -> list[int]:
    return [c for c in range(NUM_BODIES) if PARENTS[c] == body]


def _follow_bone(point: np.ndarray, body: int, ref: np.ndarray, new: np.ndarray) -> np.ndarray | None:
    """Move a body-frame point lying on one of ``body``'s child bones with that bone; None if it lies on none."""
    best: tuple[float, float, int] | None = None
    for c in _children(body):
        o = ref[c]
        alpha = float(point @ o / max(o @ o, 1e-12))
        resid = float(np.linalg.norm(point - alpha * o))
        if best is None or resid < best[0]:
            best = (resid, alpha, c)
    if best is None or best[0] > _ANCHOR_TOL:
        return None
    _, alpha, c = best
    return point + alpha * (new[c] - ref[c])


def scaled_geoms(offsets: np.ndarray | None = None, geom_scale: str = "bone") -> tuple[tuple[GeomSpec, ...], ...]:
    """Per-body geoms for a skeleton, following the rule of the module docstring.

    Args:
        offsets: bone offsets [52, 3] (m); None = neutral (geoms returned unchanged).
        geom_scale: ``"bone"`` (geoms follow bones) or ``"none"`` (neutral geoms).

    Returns:
        52 tuples of ``GeomSpec`` in body order (body-frame positions, m).
    """
    if geom_scale not in GEOM_SCALE_MODES:
        raise InputError(f"geom_scale must be one of {GEOM_SCALE_MODES}, got {geom_scale!r}")
    ref = neutral()
    if offsets is None or geom_scale == "none":
        return ref.geoms
    new = check_offsets(offsets)
    out: list[tuple[GeomSpec, ...]] = []
    for b in range(NUM_BODIES):
        leaf = not _children(b)
        ratio = float(np.linalg.norm(new[b]) / max(np.linalg.norm(ref.offsets[b]), 1e-9)) if b else 1.0
        body_geoms = []
        for g in ref.geoms[b]:
            if g.fromto is not None:
                ends = np.asarray(g.fromto, dtype=np.float64).reshape(2, 3)
                if leaf:
                    moved = ends * ratio
                else:
                    moved = np.stack([
                        m if (m := _follow_bone(e, b, ref.offsets, new)) is not None else e for e in ends])
                body_geoms.append(GeomSpec(g.type, g.size, g.density, g.pos, g.quat,
                                           tuple(float(v) for v in moved.reshape(-1))))
            elif g.pos is not None and not leaf:
                p = _follow_bone(np.asarray(g.pos, dtype=np.float64), b, ref.offsets, new)
                pos = g.pos if p is None else tuple(float(v) for v in p)
                body_geoms.append(GeomSpec(g.type, g.size, g.density, pos, g.quat, g.fromto))
            else:
                body_geoms.append(g)
        out.append(tuple(body_geoms))
    return tuple(out)


_GEOM_TYPES = {"sphere": mujoco.mjtGeom.mjGEOM_SPHERE, "capsule": mujoco.mjtGeom.mjGEOM_CAPSULE,
               "box": mujoco.mjtGeom.mjGEOM_BOX}


def build_humanoid_spec(
    offsets: np.ndarray | None = None,
    *,
    ground: bool = True,
    timestep: float = DEFAULT_TIMESTEP,
    geom_scale: str = "bone",
    ground_friction: float | Sequence[float] = DEFAULT_GROUND_FRICTION,
    self_collision: bool = False,
) -> mujoco.MjSpec:
    """MjSpec of the humanoid (see the module docstring for what it holds).

    Args:
        offsets: bone offsets [52, 3] (m), body origin in its parent's frame at zero pose; None = neutral.
        ground: add a plane named ``"floor"`` at z = 0.
        timestep: physics timestep (s).
        geom_scale: how geoms follow a non-neutral skeleton: ``"bone"`` or ``"none"``.
        ground_friction: the floor's friction, one sliding coefficient or (sliding, torsional, rolling).
        self_collision: let non-adjacent humanoid geoms collide (off in InterMimic).

    Returns:
        An uncompiled ``mujoco.MjSpec``; callers may add bodies (objects) before ``spec.compile()``.
    """
    if not timestep > 0:
        raise InputError(f"timestep must be positive, got {timestep}")
    offs = check_offsets(offsets)
    geoms = scaled_geoms(None if offsets is None else offs, geom_scale)
    ref = neutral()
    spec = mujoco.MjSpec()
    spec.modelname = "hoi_sim_humanoid"
    spec.compiler.degree = False
    spec.compiler.autolimits = True
    spec.option.timestep = float(timestep)
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST

    if ground:
        if np.ndim(ground_friction) == 0:
            fr = np.array([float(ground_friction), *DEFAULT_GROUND_FRICTION[1:]])
        else:
            fr = np.asarray(ground_friction, dtype=np.float64)
        if fr.shape != (3,):
            raise InputError(f"ground_friction must be a number or 3 numbers, got {ground_friction!r}")
        floor = spec.worldbody.add_geom()
        floor.name = GROUND_GEOM
        floor.type = mujoco.mjtGeom.mjGEOM_PLANE
        floor.size = [0.0, 0.0, 0.05]  # infinite plane; 0.05 m grid spacing for rendering
        floor.friction = fr
        floor.contype = GROUND_CONTYPE
        floor.conaffinity = GROUND_CONAFFINITY
        floor.condim = GEOM_CONDIM
        floor.rgba = [0.8, 0.9, 0.8, 1.0]

    conaffinity = HUMANOID_CONAFFINITY | (HUMANOID_BIT if self_collision else 0)
    bodies: list[mujoco.MjsBody] = []
    for b, name in enumerate(BODY_NAMES):
        parent = spec.worldbody if PARENTS[b] < 0 else bodies[PARENTS[b]]
        body = parent.add_body()
        body.name = name
        body.pos = [0.0, 0.0, 0.0] if b == 0 else offs[b].tolist()
        if b == 0:
            root = body.add_freejoint()
            root.name = ROOT_JOINT
        for j in ref.joints[b]:
            joint = body.add_joint()
            joint.name = j.name
            joint.type = mujoco.mjtJoint.mjJNT_HINGE
            joint.axis = list(j.axis)
            joint.range = list(j.range)
            joint.limited = mujoco.mjtLimited.mjLIMITED_TRUE
            joint.armature = j.armature
            joint.stiffness = [0.0, 0.0, 0.0]  # no passive spring: the gains live in the actuators
            joint.damping = [0.0, 0.0, 0.0]
        for k, g in enumerate(geoms[b]):
            geom = body.add_geom()
            geom.name = name if k == 0 else f"{name}_{k}"
            geom.type = _GEOM_TYPES[g.type]
            size = list(g.size) + [0.0] * (3 - len(g.size))
            geom.size = size
            if g.fromto is not None:
                geom.fromto = list(g.fromto)
            if g.pos is not None:
                geom.pos = list(g.pos)
            if g.quat is not None:
                geom.quat = list(g.quat)
            geom.density = g.density
            geom.contype = HUMANOID_CONTYPE
            geom.conaffinity = conaffinity
            geom.condim = GEOM_CONDIM
            geom.margin = GEOM_MARGIN
            geom.rgba = [0.8, 0.6, 0.4, 1.0]
        bodies.append(body)

    gains = {j.name: (j.kp, j.kd) for js in ref.joints for j in js}
    for dof in DOF_NAMES:
        act = spec.add_actuator()
        act.name = dof
        act.target = dof
        act.trntype = mujoco.mjtTrn.mjTRN_JOINT
        kp, kd = gains[dof]
        act.set_to_position(kp=kp, kv=kd)
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_FALSE
    return spec


def humanoid_model(offsets: np.ndarray | None = None, **kwargs) -> mujoco.MjModel:
    """Compiled ``MjModel`` of :func:`build_humanoid_spec` (same arguments)."""
    return build_humanoid_spec(offsets, **kwargs).compile()


def lowest_geom_z(model: mujoco.MjModel, data: mujoco.MjData, body_ids: set[int] | None = None) -> float:
    """Lowest world z (m) over the humanoid's sphere, capsule and box geoms (planes and meshes skipped).

    Needs ``geom_xpos``/``geom_xmat`` up to date (after ``mj_kinematics`` or a step). ``body_ids``: only geoms of
    these MuJoCo bodies (default: all).
    """
    lowest = np.inf
    for g in range(model.ngeom):
        if body_ids is not None and int(model.geom_bodyid[g]) not in body_ids:
            continue
        t = model.geom_type[g]
        size = model.geom_size[g]
        z = data.geom_xpos[g, 2]
        rz = data.geom_xmat[g].reshape(3, 3)[2]  # world z of each geom-frame axis
        if t == mujoco.mjtGeom.mjGEOM_SPHERE:
            low = z - size[0]
        elif t == mujoco.mjtGeom.mjGEOM_CAPSULE:
            low = z - abs(rz[2]) * size[1] - size[0]
        elif t == mujoco.mjtGeom.mjGEOM_BOX:
            low = z - float(np.abs(rz) @ size)
        else:
            continue
        lowest = min(lowest, float(low))
    return lowest


def standing_root_height(offsets: np.ndarray | None = None, *, geom_scale: str = "bone") -> float:
    """Pelvis height (m) at which the humanoid in the zero pose (upright, facing +x) rests its lowest point at z = 0.

    Args:
        offsets: bone offsets [52, 3] (m); None = neutral (gives ``HUMANOID_ROOT_HEIGHT``).
        geom_scale: as in :func:`build_humanoid_spec`.
    """
    model = humanoid_model(offsets, ground=False, geom_scale=geom_scale)
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    return -lowest_geom_z(model, data)
