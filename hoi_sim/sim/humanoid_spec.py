"""MuJoCo model of the 52-body humanoid, built with ``mujoco.MjSpec`` (neutral or on a subject's skeleton).

The humanoid itself is engine-free data (:mod:`hoi_sim.skeleton`, :mod:`hoi_sim.humanoid`); this module is where
MuJoCo meets it.

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

Subject skeletons. Bodies sit at the given bone offsets and the geoms follow the bones by the engine-free rule of
:func:`hoi_sim.humanoid.geoms.scaled_geoms` (``geom_scale="bone"``; ``"none"`` keeps the neutral geoms).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import mujoco
import numpy as np

from hoi_sim.errors import InputError
from hoi_sim.humanoid.geoms import check_offsets, scaled_geoms
from hoi_sim.humanoid.smplx_shape import offsets_from_smplx
from hoi_sim.skeleton import BODY_NAMES, DOF_NAMES, PARENTS, GeomSpec, JointSpec, neutral

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

HUMANOID_ROOT_HEIGHT = 0.9349
"""Pelvis height (m) at which the neutral humanoid in the zero pose touches the floor with its lowest point
(the foot boxes); ``standing_root_height()`` computes it for any skeleton (a test checks the two agree)."""

_GEOM_TYPES = {"sphere": mujoco.mjtGeom.mjGEOM_SPHERE, "capsule": mujoco.mjtGeom.mjGEOM_CAPSULE,
               "box": mujoco.mjtGeom.mjGEOM_BOX}


def _new_spec(timestep: float) -> mujoco.MjSpec:
    """An empty spec with the humanoid's compiler and physics options (radians, implicitfast, ``timestep`` s)."""
    if not timestep > 0:
        raise InputError(f"timestep must be positive, got {timestep}")
    spec = mujoco.MjSpec()
    spec.modelname = "hoi_sim_humanoid"
    spec.compiler.degree = False
    spec.compiler.autolimits = True
    spec.option.timestep = float(timestep)
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    return spec


def _add_ground(spec: mujoco.MjSpec, ground_friction: float | Sequence[float]) -> None:
    """The floor: an infinite plane named ``GROUND_GEOM`` at z = 0 with ``ground_friction`` (1 or 3 numbers)."""
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


def _add_joints(body: mujoco.MjsBody, joints: Sequence[JointSpec]) -> None:
    """The body's hinges with their axes, ranges and armature, and no passive spring (gains are in actuators)."""
    for j in joints:
        joint = body.add_joint()
        joint.name = j.name
        joint.type = mujoco.mjtJoint.mjJNT_HINGE
        joint.axis = list(j.axis)
        joint.range = list(j.range)
        joint.limited = mujoco.mjtLimited.mjLIMITED_TRUE
        joint.armature = j.armature
        joint.stiffness = [0.0, 0.0, 0.0]  # no passive spring: the gains live in the actuators
        joint.damping = [0.0, 0.0, 0.0]


def _add_geoms(body: mujoco.MjsBody, name: str, geoms: Sequence[GeomSpec], conaffinity: int) -> None:
    """The body's collision geoms (the first named as the body, the others ``<name>_<k>``)."""
    for k, g in enumerate(geoms):
        geom = body.add_geom()
        geom.name = name if k == 0 else f"{name}_{k}"
        geom.type = _GEOM_TYPES[g.type]
        geom.size = list(g.size) + [0.0] * (3 - len(g.size))
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


def _add_bodies(spec: mujoco.MjSpec, offsets: np.ndarray, geoms: Sequence[Sequence[GeomSpec]],
                conaffinity: int) -> None:
    """The 52 bodies in depth-first order at ``offsets`` [52, 3] (m), a free joint on the Pelvis, hinges, geoms."""
    ref = neutral()
    bodies: list[mujoco.MjsBody] = []
    for b, name in enumerate(BODY_NAMES):
        parent = spec.worldbody if PARENTS[b] < 0 else bodies[PARENTS[b]]
        body = parent.add_body()
        body.name = name
        body.pos = [0.0, 0.0, 0.0] if b == 0 else offsets[b].tolist()
        if b == 0:
            root = body.add_freejoint()
            root.name = ROOT_JOINT
        _add_joints(body, ref.joints[b])
        _add_geoms(body, name, geoms[b], conaffinity)
        bodies.append(body)


def _add_actuators(spec: mujoco.MjSpec) -> None:
    """One ``position`` actuator per DOF, in DOF order, with the reference kp/kv and no control or force limits."""
    gains = {j.name: (j.kp, j.kd) for js in neutral().joints for j in js}
    for dof in DOF_NAMES:
        act = spec.add_actuator()
        act.name = dof
        act.target = dof
        act.trntype = mujoco.mjtTrn.mjTRN_JOINT
        kp, kd = gains[dof]
        act.set_to_position(kp=kp, kv=kd)
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_FALSE
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_FALSE


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
    spec = _new_spec(timestep)
    offs = check_offsets(offsets)
    geoms = scaled_geoms(None if offsets is None else offs, geom_scale)
    if ground:
        _add_ground(spec, ground_friction)
    _add_bodies(spec, offs, geoms, HUMANOID_CONAFFINITY | (HUMANOID_BIT if self_collision else 0))
    _add_actuators(spec)
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


def humanoid_spec_from_betas(
    betas: np.ndarray | Sequence[float],
    model_path: str | os.PathLike | None = None,
    gender: str = "neutral",
    **kwargs,
) -> mujoco.MjSpec:
    """MjSpec of the humanoid on the SMPL-X rest skeleton of ``betas`` (geoms follow the bones).

    ``model_path`` / ``gender``: as :func:`hoi_sim.humanoid.smplx_shape.offsets_from_smplx`; ``kwargs`` go to
    :func:`build_humanoid_spec`.
    """
    return build_humanoid_spec(offsets_from_smplx(model_path, betas, gender), **kwargs)
