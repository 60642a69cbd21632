"""A MuJoCo scene for viewing: the simulated humanoid and object, plus a *ghost* copy of both (semi-transparent,
non-colliding) that shows the reference. Poses are set kinematically (no physics is stepped here), so recorded
rollouts of any backend can be replayed.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from hoi_sim.sim.humanoid_spec import ROOT_JOINT, build_humanoid_spec
from hoi_sim.skeleton import NUM_DOFS

SIM_RGBA = (0.90, 0.50, 0.20, 1.0)
"""Simulated humanoid: orange."""
GHOST_RGBA = (0.25, 0.55, 1.0, 0.35)
"""Reference ghost: translucent blue."""
OBJECT_RGBA = (0.55, 0.55, 0.60, 1.0)
GHOST_OBJECT_RGBA = (0.25, 0.55, 1.0, 0.30)
GHOST_PREFIX = "ghost_"


@dataclass
class Pose:
    """One frame of humanoid + object pose (world, m, rad, wxyz): root_pos [3], root_quat [4], dof_pos [153],
    obj_pos [3], obj_quat [4]."""

    root_pos: np.ndarray
    root_quat: np.ndarray
    dof_pos: np.ndarray
    obj_pos: np.ndarray
    obj_quat: np.ndarray


def _style_geoms(body: mujoco.MjsBody, rgba: tuple[float, ...], collide: bool) -> None:
    for g in body.geoms:
        g.rgba = list(rgba)
        if not collide:
            g.contype = 0
            g.conaffinity = 0
    for child in body.bodies:
        _style_geoms(child, rgba, collide)


def _add_object(spec: mujoco.MjSpec, name: str, vertices: np.ndarray, faces: np.ndarray,
                rgba: tuple[float, ...]) -> None:
    mesh = spec.add_mesh()
    mesh.name = f"{name}_mesh"
    mesh.uservert = np.asarray(vertices, np.float64).reshape(-1).tolist()
    mesh.userface = np.asarray(faces, np.int64).reshape(-1).tolist()
    body = spec.worldbody.add_body()
    body.name = name
    j = body.add_freejoint()
    j.name = f"{name}_root"
    geom = body.add_geom()
    geom.type = mujoco.mjtGeom.mjGEOM_MESH
    geom.meshname = mesh.name
    geom.rgba = list(rgba)
    geom.contype = 0
    geom.conaffinity = 0
    geom.density = 100.0


class GhostScene:
    """Compiled scene with a simulated humanoid (+ object) and a reference ghost (+ ghost object).

    Args:
        sim_offsets, ref_offsets: bone offsets [52, 3] (m) of each humanoid (None = neutral).
        obj_vertices, obj_faces: object mesh in its frame ([V,3] m, [F,3]); None = no object.
        ghost: include the ghost copy.
    """

    def __init__(self, sim_offsets: np.ndarray | None = None, ref_offsets: np.ndarray | None = None,
                 obj_vertices: np.ndarray | None = None, obj_faces: np.ndarray | None = None,
                 ghost: bool = True) -> None:
        spec = build_humanoid_spec(sim_offsets, ground=True)
        spec.visual.global_.offwidth = 1920
        spec.visual.global_.offheight = 1080
        spec.visual.headlight.ambient = [0.45, 0.45, 0.45]
        spec.visual.headlight.diffuse = [0.55, 0.55, 0.55]
        root = spec.worldbody.bodies[0]
        _style_geoms(root, SIM_RGBA, collide=True)
        has_obj = obj_vertices is not None and obj_faces is not None and len(obj_faces) > 0
        if has_obj:
            _add_object(spec, "object", obj_vertices, obj_faces, OBJECT_RGBA)
        if ghost:
            gspec = build_humanoid_spec(ref_offsets, ground=False)
            _style_geoms(gspec.worldbody.bodies[0], GHOST_RGBA, collide=False)
            spec.attach(gspec, prefix=GHOST_PREFIX, frame=spec.worldbody.add_frame())
            if has_obj:
                _add_object(spec, f"{GHOST_PREFIX}object", obj_vertices, obj_faces, GHOST_OBJECT_RGBA)
        light = spec.worldbody.add_light()
        light.pos = [0.0, 0.0, 6.0]
        light.dir = [0.0, 0.0, -1.0]
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        self.ghost = ghost
        self.has_object = has_obj
        self._root = self._qadr(ROOT_JOINT)
        self._ghost_root = self._qadr(GHOST_PREFIX + ROOT_JOINT) if ghost else None
        self._obj = self._qadr("object_root") if has_obj else None
        self._ghost_obj = self._qadr(f"{GHOST_PREFIX}object_root") if (ghost and has_obj) else None
        self.sim_geoms = self._geoms_of(lambda n: not n.startswith(GHOST_PREFIX) and n != "object")
        self.ghost_geoms = self._geoms_of(lambda n: n.startswith(GHOST_PREFIX) and n != f"{GHOST_PREFIX}object")

    def _qadr(self, joint: str) -> int:
        return int(self.model.jnt_qposadr[mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, joint)])

    def _geoms_of(self, keep) -> np.ndarray:
        """Geom ids of humanoid bodies whose name passes ``keep`` (the floor and world excluded)."""
        ids = []
        for g in range(self.model.ngeom):
            b = int(self.model.geom_bodyid[g])
            if b == 0:
                continue
            name = mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_BODY, b) or ""
            if keep(name):
                ids.append(g)
        return np.asarray(ids, np.int64)

    def _set(self, adr: int, pose: Pose, obj_adr: int | None, shift: np.ndarray) -> None:
        q = self.data.qpos
        q[adr:adr + 3] = np.asarray(pose.root_pos) + shift
        q[adr + 3:adr + 7] = pose.root_quat
        q[adr + 7:adr + 7 + NUM_DOFS] = pose.dof_pos
        if obj_adr is not None:
            q[obj_adr:obj_adr + 3] = np.asarray(pose.obj_pos) + shift
            q[obj_adr + 3:obj_adr + 7] = pose.obj_quat

    def set_poses(self, sim: Pose, ref: Pose | None = None, ghost_offset: np.ndarray | None = None) -> None:
        """Place the simulated humanoid at ``sim`` and the ghost at ``ref`` (+ ``ghost_offset`` [3] m), then run
        forward kinematics."""
        self._set(self._root, sim, self._obj, np.zeros(3))
        if self.ghost:
            shift = np.zeros(3) if ghost_offset is None else np.asarray(ghost_offset, np.float64)
            self._set(self._ghost_root, ref if ref is not None else sim, self._ghost_obj, shift)
        mujoco.mj_kinematics(self.model, self.data)
