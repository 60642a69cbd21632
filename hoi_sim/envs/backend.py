"""Build the env's backend (one object model per backend) from the typed env config and the motion library."""

from __future__ import annotations

from typing import Any

import numpy as np

from hoi_sim.envs.config import EnvCfg
from hoi_sim.errors import InputError
from hoi_sim.motions.library import MotionLibrary
from hoi_sim.sim import SimBackend, make_backend

OBJECT_COLLISION = ("coacd", "convex_hull", "bbox")


def object_hulls(vertices: np.ndarray, faces: np.ndarray, mode: str = "coacd", name: str = "object") -> list:
    """Collision parts of an object mesh (object frame).

    mode: ``coacd`` (cached convex decomposition, Table 7; ~30 s the first time), ``convex_hull`` (one hull of the
    whole mesh, trimesh; instant, for tests and quick runs) or ``bbox`` (its axis-aligned bounding box).
    """
    from hoi_sim.objects.hulls import ConvexHull, box_hull, convex_hulls

    if mode == "coacd":
        return convex_hulls(vertices, faces, name=name)
    if mode == "convex_hull":
        import trimesh

        hull = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces), process=False).convex_hull
        return [ConvexHull(np.asarray(hull.vertices, np.float64), np.asarray(hull.faces, np.int32))]
    if mode == "bbox":
        v = np.asarray(vertices, np.float64)
        hull = box_hull(0.5 * (v.max(0) - v.min(0)))
        centre = 0.5 * (v.max(0) + v.min(0))
        return [ConvexHull(np.asarray(hull.vertices) + centre, np.asarray(hull.faces))]
    raise InputError(f"object_collision must be one of {OBJECT_COLLISION}, got {mode!r}")


def make_env_backend(cfg: EnvCfg, library: MotionLibrary, **overrides: Any) -> SimBackend:
    """The backend ``cfg.backend`` for ``cfg.num_envs`` envs holding the library's (single) object and the first
    clip's skeleton. ``cfg.backend_kwargs`` (and ``overrides``) go to the backend; for MuJoCo backends the key
    ``object_collision`` (coacd | convex_hull | bbox, default coacd) picks how the object's hulls are made."""
    kw = {**cfg.backend_kwargs, **overrides}
    kw.setdefault("device", cfg.device)
    collision = kw.pop("object_collision", "coacd")
    if cfg.backend in ("mujoco", "mjwarp"):
        objects = sorted(set(library.object_names))
        if len(objects) != 1:
            raise InputError(f"one backend holds one object model; the library has objects {objects}")
        v, f = library.object_meshes[objects[0]]
        kw.setdefault("hulls", object_hulls(v, f, collision, objects[0]))
        kw.setdefault("offsets", library.skeleton_offsets[0].cpu().numpy())
        kw.setdefault("motion_mass_mode", library.mass_modes[0])
    else:
        kw.setdefault("offsets", library.skeleton_offsets[0].cpu().numpy())
    return make_backend(cfg.backend, num_envs=cfg.num_envs, **kw)
