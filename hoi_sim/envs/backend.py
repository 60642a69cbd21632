"""Build the env's backend from the typed env config and the motion library, with per-env assets.

The library groups its clips by asset identity (``library.asset_groups``: skeleton and object by content,
``hoi_sim.motions.assets``). Envs are assigned to asset groups **round-robin** (env i → group i mod G), or, when
the caller fixes each env's clip (``env_clips``, as evaluation does), to the group of that clip. An env keeps its
group for the backend's life; at reset it samples a new clip among its group's clips only (``HOIEnv``), so a body
is never simulated on another clip's skeleton or object. On ``mujoco`` every group gets its own scene
(``sim.mujoco_assets``); on ``mjwarp`` the same scenes share one mujoco-warp model with per-world fields and one mesh
pool (``sim.mjwarp_assets``); the kinematic ``fake`` backend holds one skeleton and refuses several.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from hoi_sim.envs.config import EnvCfg
from hoi_sim.errors import InputError
from hoi_sim.motions.assets import AssetGroup
from hoi_sim.motions.library import MotionLibrary
from hoi_sim.objects.hulls import object_hulls
from hoi_sim.sim import SimBackend, make_backend


def env_groups(library: MotionLibrary, num_envs: int, env_clips: torch.Tensor | None = None) -> torch.Tensor:
    """[num_envs] long asset group of each env (module docstring); ``InputError`` when a group gets no env (its
    clips could never be simulated), naming its clips."""
    g = library.num_groups
    if env_clips is not None:
        clips = torch.as_tensor(env_clips, dtype=torch.long).cpu()
        if clips.shape != (num_envs,) or bool((clips < 0).any()) or bool((clips >= library.num_motions).any()):
            raise InputError(f"env_clips must hold {num_envs} clip indices in [0, {library.num_motions})")
        return library.clip_group.cpu()[clips]
    if num_envs < g:
        missing = [library.names[i] for i in range(library.num_motions) if int(library.clip_group[i]) >= num_envs]
        raise InputError(f"{num_envs} envs cannot hold the library's {g} asset groups (skeleton × object): clips "
                         f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''} would get no env; "
                         f"use num_envs ≥ {g}")
    return torch.arange(num_envs) % g


def refuse_mixed(groups: Sequence[AssetGroup], names: Sequence[str], backend: str) -> None:
    """``InputError`` naming two clips (``names``, by clip index) that need different assets when ``backend``
    holds one of each: the kinematic fake (one skeleton, no object model). ``mujoco`` and ``mjwarp`` simulate
    every group (a mix they cannot hold together is refused when the backend is built, naming the clip)."""
    if backend in ("mujoco", "mjwarp"):
        return
    groups = list(groups)
    if backend == "fake":
        groups = [g for i, g in enumerate(groups) if g.skeleton not in {h.skeleton for h in groups[:i]}]
    if len(groups) <= 1:
        return
    a, b = groups[0], groups[1]
    what = f"backend {backend!r} simulates one skeleton and one object"
    raise InputError(f"clips {names[a.first_clip]!r} ({a.label}) and {names[b.first_clip]!r} "
                     f"({b.label}) need different assets and {what}: use sim=mujoco, or one run per asset group")


def make_env_backend(cfg: EnvCfg, library: MotionLibrary, env_clips: torch.Tensor | None = None,
                     **overrides: Any) -> SimBackend:
    """The backend ``cfg.backend`` for ``cfg.num_envs`` envs, env i simulating the skeleton and object of its asset
    group (module docstring). ``cfg.backend_kwargs`` (and ``overrides``) go to the backend; for MuJoCo backends
    the key ``object_collision`` (coacd | convex_hull | bbox, default coacd) picks how the objects' hulls are made.
    One asset group builds the backend as before (``offsets``, ``hulls``, ``motion_mass_mode``)."""
    kw = {**cfg.backend_kwargs, **overrides}
    kw.setdefault("device", cfg.device)
    collision = kw.pop("object_collision", "coacd")
    first = library.asset_groups[0]
    if library.num_groups > 1 and cfg.backend in ("mujoco", "mjwarp"):
        from hoi_sim.sim.mujoco_assets import SceneAssets

        kw["groups"] = [SceneAssets(g.offsets, object_hulls(*library.group_meshes[i], collision, g.object_name),
                                    g.mass_mode, f"clip {library.names[g.first_clip]!r} ({g.label})")
                        for i, g in enumerate(library.asset_groups)]
        kw["env_group"] = env_groups(library, cfg.num_envs, env_clips)
        return make_backend(cfg.backend, num_envs=cfg.num_envs, **kw)
    refuse_mixed(library.asset_groups, library.names, cfg.backend)
    if cfg.backend in ("mujoco", "mjwarp"):
        kw.setdefault("hulls", object_hulls(*library.group_meshes[0], collision, first.object_name))
        kw.setdefault("motion_mass_mode", first.mass_mode)
    kw.setdefault("offsets", library.skeleton_offsets[0].cpu().numpy())
    return make_backend(cfg.backend, num_envs=cfg.num_envs, **kw)
