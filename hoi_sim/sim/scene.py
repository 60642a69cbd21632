"""The MuJoCo scene: the humanoid (``sim.humanoid_spec``) + one free object made of convex hull meshes + the ground.

Table 7 is applied here (see ``docs/physics.md``): timestep = sim_dt / substeps, margin/gap from the contact and
rest offsets, object friction 0.6 and the restitution → solref rule with geom priority, object density or fixed
mass. ``SceneIndex`` holds the name-based addresses the backend needs (computed once, never by position).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from hoi_sim.errors import InputError
from hoi_sim.objects.hulls import ConvexHull, box_hull
from hoi_sim.objects.mass import ObjectMass, resolve_object_mass
from hoi_sim.sim import humanoid_spec
from hoi_sim.sim.config import SimConfig
from hoi_sim.skeleton import BODY_NAMES, DOF_NAMES

OBJECT_BODY = "object"
OBJECT_JOINT = "object_root"
DEFAULT_OBJECT_HALF_EXTENTS = (0.15, 0.15, 0.15)
"""Object used when a scene is built without hulls: a 30 cm box."""
TORSIONAL_FRICTION = 0.01
ROLLING_FRICTION = 0.01
"""InterMimic's rolling/torsion friction of object shapes (MuJoCo: torsional and rolling coefficients, condim 3
uses only the sliding one)."""


@dataclass(frozen=True)
class SceneIndex:
    """Addresses in the compiled model, found by name.

    body_ids [52]: model body id of each humanoid body (BODY_NAMES order) · dof_qpos [153] / dof_qvel [153]:
    qpos/qvel address of each DOF (DOF_NAMES order) · dof_joint [153]: joint id · ctrl [153]: actuator id of
    each DOF · root_qpos / root_qvel: free-joint addresses of the Pelvis · obj_body, obj_qpos, obj_qvel ·
    body_to_humanoid [nbody]: humanoid index of each model body (−1 for world and object) ·
    geom_is_object [ngeom] bool · floor_geom (−1 without ground).
    """

    body_ids: np.ndarray
    dof_qpos: np.ndarray
    dof_qvel: np.ndarray
    dof_joint: np.ndarray
    ctrl: np.ndarray
    root_qpos: int
    root_qvel: int
    obj_body: int
    obj_qpos: int
    obj_qvel: int
    body_to_humanoid: np.ndarray
    geom_is_object: np.ndarray
    floor_geom: int

    @classmethod
    def from_model(cls, m: mujoco.MjModel) -> SceneIndex:
        def jid(name: str) -> int:
            i = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name)
            if i < 0:
                raise InputError(f"model has no joint {name!r}")
            return i

        body_ids = np.array([mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, n) for n in BODY_NAMES])
        if (body_ids < 0).any():
            raise InputError("model lacks humanoid bodies: " + ", ".join(
                n for n, i in zip(BODY_NAMES, body_ids) if i < 0))
        dof_joint = np.array([jid(n) for n in DOF_NAMES])
        ctrl = np.array([mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, n) for n in DOF_NAMES])
        if (ctrl < 0).any():
            raise InputError("model lacks an actuator per DOF (named as the DOF)")
        root, obj = jid(humanoid_spec.ROOT_JOINT), jid(OBJECT_JOINT)
        b2h = np.full(m.nbody, -1, dtype=np.int64)
        b2h[body_ids] = np.arange(len(BODY_NAMES))
        obj_body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, OBJECT_BODY)
        return cls(body_ids=body_ids, dof_qpos=m.jnt_qposadr[dof_joint].copy(), dof_qvel=m.jnt_dofadr[dof_joint].copy(),
                   dof_joint=dof_joint, ctrl=ctrl, root_qpos=int(m.jnt_qposadr[root]),
                   root_qvel=int(m.jnt_dofadr[root]), obj_body=obj_body, obj_qpos=int(m.jnt_qposadr[obj]),
                   obj_qvel=int(m.jnt_dofadr[obj]), body_to_humanoid=b2h,
                   geom_is_object=np.asarray(m.geom_bodyid == obj_body),
                   floor_geom=mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, humanoid_spec.GROUND_GEOM))


def _contact_params(geom: mujoco.MjsGeom, cfg: SimConfig) -> None:
    """PhysX offsets → MuJoCo 4 margin/gap (measured semantics, docs/physics.md): a pair's margin and gap are the
    sums over its two geoms; the pair is detected when dist < margin + gap and pushed apart when dist < margin.
    So margin = rest offset and gap = contact offset − rest offset, exactly PhysX's per-shape offsets."""
    if cfg.use_contact_offset:
        geom.margin = cfg.rest_offset
        geom.gap = cfg.contact_offset - cfg.rest_offset


def build_scene_spec(offsets: np.ndarray | None = None, hulls: list[ConvexHull] | None = None,
                     cfg: SimConfig | None = None, *, motion_mass_mode: str = "dynamic",
                     ground: bool = True) -> tuple[mujoco.MjSpec, ObjectMass]:
    """MjSpec of humanoid + object + ground with Table 7 applied.

    Args:
        offsets: skeleton bone offsets [52,3] (m); None = neutral humanoid.
        hulls: the object's convex parts in its object frame (origin = vertex centroid); None = a 30 cm box.
        cfg: physics settings (default: Table 7 + cfg/sim/mujoco.yaml).
        motion_mass_mode: the motion's ``meta["mass_mode"]`` (``static`` / ``dynamic``), used when
            ``cfg.mass_mode == "fixed"``.
        ground: add the ground plane.

    Returns:
        (spec, resolved object mass).
    """
    cfg = cfg or SimConfig.for_backend("mujoco")
    if cfg.physics_dt * 2 > cfg.contact_timeconst:
        raise InputError(f"contact_timeconst {cfg.contact_timeconst} s must be ≥ 2 × physics dt {cfg.physics_dt} s")
    spec = humanoid_spec.build_humanoid_spec(offsets, ground=ground, timestep=cfg.physics_dt,
                                       ground_friction=cfg.ground_friction, self_collision=cfg.self_collision)
    spec.modelname = "hoi_sim_scene"
    spec.option.iterations = int(cfg.solver_iterations)
    obj_ratio = SimConfig.restitution_to_dampratio(cfg.object_restitution)
    ground_ratio = SimConfig.restitution_to_dampratio(cfg.ground_restitution)
    for geom in spec.geoms:
        _contact_params(geom, cfg)
        if geom.name == humanoid_spec.GROUND_GEOM:
            geom.solref = [cfg.contact_timeconst, ground_ratio]
            geom.priority = 1

    hulls = hulls if hulls else [box_hull(DEFAULT_OBJECT_HALF_EXTENTS)]
    mass = resolve_object_mass(hulls, mass_mode=cfg.mass_mode, motion_mass_mode=motion_mass_mode,
                               density=cfg.object_density, static_mass=cfg.object_static_mass,
                               dynamic_mass=cfg.object_dynamic_mass)
    body = spec.worldbody.add_body()
    body.name = OBJECT_BODY
    body.pos = [1.5, 0.0, 0.5]
    joint = body.add_freejoint()
    joint.name = OBJECT_JOINT
    for i, h in enumerate(hulls):
        mesh = spec.add_mesh()
        mesh.name = f"object_hull_{i}"
        mesh.uservert = np.asarray(h.vertices, np.float64).reshape(-1).tolist()
        mesh.userface = np.asarray(h.faces, np.int32).reshape(-1).tolist()
        mesh.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_CONVEX
        geom = body.add_geom()
        geom.name = f"object_hull_{i}"
        geom.type = mujoco.mjtGeom.mjGEOM_MESH
        geom.meshname = mesh.name
        geom.density = mass.density
        geom.friction = [cfg.object_friction, TORSIONAL_FRICTION, ROLLING_FRICTION]
        geom.solref = [cfg.contact_timeconst, obj_ratio]
        geom.priority = 1
        geom.condim = humanoid_spec.GEOM_CONDIM
        geom.contype = humanoid_spec.OBJECT_CONTYPE
        geom.conaffinity = humanoid_spec.OBJECT_CONAFFINITY
        geom.rgba = [0.4, 0.55, 0.8, 1.0]
        _contact_params(geom, cfg)
    return spec, mass


def build_scene(offsets: np.ndarray | None = None, hulls: list[ConvexHull] | None = None,
                cfg: SimConfig | None = None, *, motion_mass_mode: str = "dynamic",
                ground: bool = True) -> tuple[mujoco.MjModel, SceneIndex, ObjectMass]:
    """Compiled scene (arguments as :func:`build_scene_spec`): ``(model, index, object mass)``."""
    spec, mass = build_scene_spec(offsets, hulls, cfg, motion_mass_mode=motion_mass_mode, ground=ground)
    try:
        model = spec.compile()
    except ValueError as e:
        raise InputError(f"cannot compile the scene: {e}") from e
    return model, SceneIndex.from_model(model), mass
