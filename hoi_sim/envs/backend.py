"""Build the env's backend (one object model per backend) from the typed env config and the motion library."""

from __future__ import annotations

from typing import Any

from hoi_sim.envs.config import EnvCfg
from hoi_sim.errors import InputError
from hoi_sim.motions.library import MotionLibrary
from hoi_sim.objects.hulls import object_hulls
from hoi_sim.sim import SimBackend, make_backend


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
