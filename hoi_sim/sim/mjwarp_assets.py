"""Per-env assets on mujoco-warp: one ``mujoco_warp.Model`` whose per-world fields hold each env's asset group.

The groups' scenes come from ``sim.mujoco_assets.build_group_models`` (as on the CPU backend: one ``MjModel`` per
(skeleton, object) group, padded so that every object has the same geom count and every scene the same
``SceneIndex``). mujoco-warp 4.0 declares many ``Model`` fields with a leading ``"*"`` dimension (``body_pos``,
``body_mass``, ``body_inertia``, ``geom_size``, ``geom_pos``, ``geom_aabb``, ``geom_dataid``, ``dof_invweight0`` …):
its kernels read row ``world % rows`` of them, and ``put_model(batch_sizes=…)`` allocates the rows. So:

* every field in which the groups' models differ and which mujoco-warp batches gets one row per world (or one row
  per group when envs hold groups round-robin, env i → group i mod G, which ``world % G`` reproduces);
* meshes are not per world in mujoco-warp (one pool of vertices, faces, convex graphs and polygons), so the groups'
  meshes are **concatenated into one pool**, their addresses shifted (faces, graphs and polygons index their own
  mesh's vertices and polygons, so only the ``*adr`` fields move), and each world's ``geom_dataid`` points at its
  group's meshes;
* the padding geoms (collision-free 1 mm cones that even out the hull counts on the CPU backend) cannot stay
  collision-free per world, since ``geom_contype``/``geom_conaffinity`` are held once for all worlds; instead a geom
  that is a hull in some group and a pad in another takes the hull's collision fields, and the pad's worlds get
  ``geom_dataid = -1`` for it, which mujoco-warp reads as "this mesh geom is absent from this world";
* a difference in any other field (one that mujoco-warp holds once for all worlds) is refused with the field named.

Cost: the extra rows (a few kB per row), the padding geoms' pairs in the broadphase of every world (each is dropped
at once where the geom is absent) and, the first time on a machine, compiling the kernel variants that read
``geom_dataid`` per world (mujoco-warp specialises its broadphase on it). The physics work per world is that of its
own scene.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

import mujoco
import mujoco_warp as mjw
import numpy as np
import warp as wp
from mujoco_warp._src import types as mjw_types
from mujoco_warp._src.warp_util import is_array_spec, mark_batched

from hoi_sim.errors import InputError

MESH_SIZES = ("nmesh", "nmeshvert", "nmeshnormal", "nmeshface", "nmeshgraph", "nmeshpoly", "nmeshpolyvert",
              "nmeshpolymap")
"""Sizes of mujoco-warp's mesh pool: summed over the groups."""
MESH_MAXIMA = ("npolygonmax", "nmeshdegmax")
"""Per-mesh maxima (scratch sizes of the convex collision): the largest over the groups."""
_ADR = {  # pool address field → (the size it indexes into, skipping negative addresses)
    "mesh_vertadr": "nmeshvert", "mesh_faceadr": "nmeshface", "mesh_normaladr": "nmeshnormal",
    "mesh_graphadr": "nmeshgraph", "mesh_polyadr": "nmeshpoly", "mesh_polyvertadr": "nmeshpolyvert",
    "mesh_polymapadr": "nmeshpolymap",
}

SLEEP_ONLY = ("dof_length",)
"""Unbatched fields that only mujoco-warp's sleeping reads (off in these scenes: checked): a difference is harmless."""


def _geom_fields_once() -> list[str]:
    """mujoco-warp's per-geom fields held once for all worlds (leading dimension ``ngeom``)."""
    return [n for n, spec in _model_fields().items() if is_array_spec(spec) and spec.shape and spec.shape[0] == "ngeom"]


def fill_pads(models: Sequence[mujoco.MjModel]) -> tuple[list[mujoco.MjModel], np.ndarray]:
    """(models, [G, ngeom] bool pad mask): a mesh geom that collides in some group and not in group g is a pad of g;
    in a copy of g's model it takes the once-held geom fields (collision bits, condim, priority …) of the first
    group where it collides, so that the models differ only in batched fields. The pad's worlds must get
    ``geom_dataid = -1`` for it (``put_group_models``)."""
    live = np.stack([(m.geom_contype != 0) | (m.geom_conaffinity != 0) for m in models])
    pad = (models[0].geom_type == int(mujoco.mjtGeom.mjGEOM_MESH))[None] & live.any(0)[None] & ~live
    out = []
    for g, m in enumerate(models):
        if pad[g].any():
            m = copy.copy(m)
            for j in np.flatnonzero(pad[g]):
                donor = models[int(np.argmax(live[:, j]))]
                for name in (n for n in _geom_fields_once() if hasattr(m, n)):
                    getattr(m, name)[j] = getattr(donor, name)[j]
        out.append(m)
    return out, pad


def _model_fields() -> dict[str, Any]:
    return {f.name: f.type for f in dataclasses.fields(mjw_types.Model)}


def _is_mesh_field(name: str) -> bool:
    return name.startswith("mesh_") or name in MESH_SIZES or name in MESH_MAXIMA


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, wp.array) and isinstance(b, wp.array):
        return a.shape == b.shape and np.array_equal(a.numpy(), b.numpy())
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    if dataclasses.is_dataclass(a):
        return True  # opt, block_dim, callback: from the shared physics settings
    return bool(a == b)


def per_world_fields(models: Sequence[mjw_types.Model], labels: Sequence[str]) -> list[str]:
    """Names of the ``Model`` fields (not meshes) in which the groups' models differ; ``InputError`` naming the
    field and the groups when one of them is held once for all worlds by mujoco-warp."""
    out = []
    sleeping = bool(int(models[0].opt.enableflags) & int(mjw_types.EnableBit.SLEEP))
    for name, spec in _model_fields().items():
        if _is_mesh_field(name) or (name in SLEEP_ONLY and not sleeping):
            continue
        first = getattr(models[0], name, None)
        odd = next((k for k, m in enumerate(models[1:], 1) if not _same(first, getattr(m, name, None))), None)
        if odd is None:
            continue
        if not (is_array_spec(spec) and spec.shape and spec.shape[0] == "*"):
            raise InputError(f"{labels[odd]} cannot share a mujoco-warp model with {labels[0]}: their scenes differ "
                             f"in {name!r}, which mujoco-warp holds once for all worlds; use sim=mujoco")
        out.append(name)
    return out


def mesh_pool(models: Sequence[mujoco.MjModel]) -> tuple[dict[str, Any], np.ndarray]:
    """The groups' meshes as one pool: ``{field: array or size}`` for every mesh field of mujoco-warp's ``Model``
    and [G] the id of each group's first mesh in the pool. Octree meshes (SDF) are refused."""
    if any(m.noct for m in models):
        raise InputError("per-env assets on mujoco-warp do not support octree (SDF) meshes; use sim=mujoco")
    names = [n for n, spec in _model_fields().items() if n.startswith("mesh_") and is_array_spec(spec)
             and hasattr(models[0], n)]
    pool: dict[str, Any] = {n: [] for n in names}
    first = np.zeros(len(models), np.int64)
    offset = dict.fromkeys(MESH_SIZES, 0)
    for g, m in enumerate(models):
        first[g] = offset["nmesh"]
        for n in names:
            a = np.array(getattr(m, n))
            if n in _ADR:
                a = np.where(a >= 0, a + offset[_ADR[n]], a)
            pool[n].append(a)
        for s in MESH_SIZES:
            offset[s] += int(getattr(m, s))
    out: dict[str, Any] = {n: np.concatenate(parts) for n, parts in pool.items()}
    out.update(offset)
    out.update({s: max(int(getattr(m, s)) for m in models) for s in MESH_MAXIMA})
    return out, first


def _rows(field: wp.array, per_group: Sequence[np.ndarray], row_group: np.ndarray) -> wp.array:
    """A batched field with row r = group ``row_group[r]``'s row (each group's array has one row)."""
    data = np.stack([per_group[g][0] for g in row_group])
    arr = wp.array(data, dtype=field.dtype, shape=(len(row_group), *field.shape[1:]), device=field.device)
    return arr


def put_group_models(models: Sequence[mujoco.MjModel], env_group: np.ndarray,
                     labels: Sequence[str]) -> tuple[mjw_types.Model, list[str], int]:
    """One mujoco-warp ``Model`` for worlds on the groups' scenes (``models``, one ``SceneIndex``): world i runs
    ``models[env_group[i]]`` (module docstring). Returns (model, names of the per-world fields, rows per field:
    G when ``env_group`` is round-robin, else the number of worlds). Run under the target ``wp.ScopedDevice``."""
    env_group = np.asarray(env_group, np.int64)
    n, g = len(env_group), len(models)
    models, pad = fill_pads(models)
    put = [mjw.put_model(m) for m in models]
    fields = per_world_fields(put, labels)
    row_group = np.arange(g) if np.array_equal(env_group, np.arange(n) % g) else env_group
    out = put[0]
    for name in fields:
        setattr(out, name, _rows(getattr(out, name), [getattr(p, name).numpy() for p in put], row_group))
    pool, first = mesh_pool(models)
    for name, value in pool.items():
        old = getattr(out, name)
        setattr(out, name, wp.array(value, dtype=old.dtype, device=old.device) if isinstance(old, wp.array)
                else type(old)(value))
    dataid = [np.where((p.geom_dataid.numpy() >= 0) & ~pad[k], p.geom_dataid.numpy() + first[k], -1)
              for k, p in enumerate(put)]
    out.geom_dataid = _rows(out.geom_dataid, dataid, row_group)
    mark_batched(out)
    return out, [*fields, "geom_dataid"], len(row_group)


__all__ = ["MESH_MAXIMA", "MESH_SIZES", "fill_pads", "mesh_pool", "per_world_fields", "put_group_models"]
