"""Convex decomposition of object meshes with coacd (Table 7: at most 64 hulls), cached on disk by mesh hash.

MuJoCo collides a mesh geom as its convex hull, so a concave object (a table, a chair) needs one mesh geom per
convex part. ``convex_hulls`` runs ``coacd`` once per (mesh, parameters) and stores the result in

    $HOI_SIM_CACHE/hulls/<sha256>.npz       (default $HOI_SIM_CACHE = ~/.cache/hoi_sim)

where the hash covers the centred vertices, the faces and the decomposition parameters. coacd takes ~30 s per
mesh on 2 cores, so it never runs inside a unit test: tests build hulls by hand (``box_hull``) or pre-fill the cache.
A cache file holds ``schema_version``, ``vertices`` [ΣV,3] float64, ``faces`` [ΣF,3] int32 (indices local to each
hull), ``vertex_counts`` [H] and ``face_counts`` [H].
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hoi_sim.errors import InputError
from hoi_sim.io_utils import atomic_path

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_HULLS = 64
"""Table 7 "Object max convex hulls"."""
DEFAULT_THRESHOLD = 0.05
"""coacd concavity threshold (its default)."""
MAX_HULL_VERTICES = 64
"""Vertices per hull, as InterMimic's V-HACD setting ``max_num_vertices_per_ch``."""


@dataclass(frozen=True)
class ConvexHull:
    """One convex part in the object frame: vertices [V,3] float64 (m), faces [F,3] int32 (outward, CCW)."""

    vertices: np.ndarray
    faces: np.ndarray


def cache_dir() -> Path:
    """Directory of cached hulls: ``$HOI_SIM_CACHE/hulls`` (default ``~/.cache/hoi_sim/hulls``)."""
    root = os.environ.get("HOI_SIM_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "hoi_sim") / "hulls"


def hull_key(vertices: np.ndarray, faces: np.ndarray, max_hulls: int = MAX_HULLS,
             threshold: float = DEFAULT_THRESHOLD, max_hull_vertices: int = MAX_HULL_VERTICES, seed: int = 0) -> str:
    """sha256 of the mesh (vertices as float64, faces as int64) and the decomposition parameters."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(vertices, dtype=np.float64).tobytes())
    h.update(np.ascontiguousarray(faces, dtype=np.int64).tobytes())
    h.update(f"coacd|{max_hulls}|{threshold}|{max_hull_vertices}|{seed}|v{SCHEMA_VERSION}".encode())
    return h.hexdigest()


def box_hull(half_extents: tuple[float, float, float] | np.ndarray,
             center: tuple[float, float, float] | np.ndarray = (0.0, 0.0, 0.0)) -> ConvexHull:
    """An axis-aligned box as a convex hull (8 vertices, 12 outward triangles); for tests and simple assets."""
    hx, hy, hz = np.asarray(half_extents, dtype=np.float64)
    s = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=np.float64)
    v = s * [hx, hy, hz] + np.asarray(center, dtype=np.float64)
    # vertex index = 4*(x>0) + 2*(y>0) + (z>0)
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5],   # -x, +x
                  [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],   # -y, +y
                  [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]],  # -z, +z
                 dtype=np.int32)
    return ConvexHull(v, f)


def hulls_to_mesh(hulls: list[ConvexHull]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate hulls into one triangle soup (vertices [ΣV,3], faces [ΣF,3] with global indices)."""
    verts, faces, off = [], [], 0
    for h in hulls:
        verts.append(h.vertices)
        faces.append(h.faces + off)
        off += len(h.vertices)
    return np.concatenate(verts), np.concatenate(faces).astype(np.int32)


def save_hulls(hulls: list[ConvexHull], path: str | os.PathLike) -> Path:
    """Write hulls to ``path`` (.npz, atomic)."""
    if not hulls:
        raise InputError("no hulls to save")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, schema_version=np.int64(SCHEMA_VERSION),
                 vertices=np.concatenate([h.vertices for h in hulls]).astype(np.float64),
                 faces=np.concatenate([h.faces for h in hulls]).astype(np.int32),
                 vertex_counts=np.array([len(h.vertices) for h in hulls], dtype=np.int64),
                 face_counts=np.array([len(h.faces) for h in hulls], dtype=np.int64))
    return path


def load_hulls(path: str | os.PathLike) -> list[ConvexHull]:
    """Read hulls written by ``save_hulls``; ``InputError`` on a malformed file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["schema_version"]) != SCHEMA_VERSION:
                raise InputError(f"{path}: hull cache schema {int(z['schema_version'])} != {SCHEMA_VERSION}")
            v, f = z["vertices"], z["faces"]
            vc, fc = z["vertex_counts"], z["face_counts"]
    except (OSError, KeyError, ValueError) as e:
        raise InputError(f"{path}: unreadable hull cache ({e})") from e
    if vc.sum() != len(v) or fc.sum() != len(f):
        raise InputError(f"{path}: hull counts do not add up")
    out, vo, fo = [], 0, 0
    for nv, nf in zip(vc.tolist(), fc.tolist()):
        out.append(ConvexHull(v[vo:vo + nv], f[fo:fo + nf]))
        vo, fo = vo + nv, fo + nf
    return out


def _run_coacd(vertices: np.ndarray, faces: np.ndarray, max_hulls: int, threshold: float,
               max_hull_vertices: int, seed: int) -> list[ConvexHull]:
    import coacd  # heavy import, only when a decomposition really runs

    coacd.set_log_level("error")
    parts = coacd.run_coacd(coacd.Mesh(np.asarray(vertices, np.float64), np.asarray(faces, np.int32)),
                            threshold=threshold, max_convex_hull=max_hulls, max_ch_vertex=max_hull_vertices,
                            decimate=True, seed=seed)
    return [ConvexHull(np.asarray(v, np.float64), np.asarray(f, np.int32)) for v, f in parts]


def convex_hulls(vertices: np.ndarray, faces: np.ndarray, *, max_hulls: int = MAX_HULLS,
                 threshold: float = DEFAULT_THRESHOLD, max_hull_vertices: int = MAX_HULL_VERTICES, seed: int = 0,
                 cache: bool = True, name: str = "mesh") -> list[ConvexHull]:
    """Convex parts (≤ ``max_hulls``) of a mesh in its own frame, from the cache or from coacd.

    Args:
        vertices: [V,3] (m), object frame. faces: [F,3] int.
        max_hulls: coacd ``max_convex_hull`` (Table 7: 64).
        threshold: coacd concavity threshold. max_hull_vertices: coacd ``max_ch_vertex`` (with decimation).
        seed: coacd seed (deterministic output for a fixed seed).
        cache: read/write ``cache_dir()``.
        name: used in log messages only.
    """
    key = hull_key(vertices, faces, max_hulls, threshold, max_hull_vertices, seed)
    path = cache_dir() / f"{key}.npz"
    if cache and path.is_file():
        return load_hulls(path)
    log.info("coacd: decomposing %s (%d vertices), ~30 s; cached at %s", name, len(vertices), path)
    t0 = time.perf_counter()
    hulls = _run_coacd(vertices, faces, max_hulls, threshold, max_hull_vertices, seed)
    if not hulls:
        raise InputError(f"coacd returned no hulls for {name}")
    log.info("coacd: %s → %d hulls in %.1f s", name, len(hulls), time.perf_counter() - t0)
    if cache:
        save_hulls(hulls, path)
    return hulls


OBJECT_COLLISION = ("coacd", "convex_hull", "bbox")
"""How an object becomes collision parts (:func:`object_hulls`)."""


def object_hulls(vertices: np.ndarray, faces: np.ndarray, mode: str = "coacd", name: str = "object",
                 max_hulls: int = MAX_HULLS) -> list[ConvexHull]:
    """Collision parts of an object mesh (object frame), as the simulator builds them.

    mode: ``coacd`` (:func:`convex_hulls`: cached convex decomposition into ≤ ``max_hulls`` parts, Table 7; ~30 s
    the first time), ``convex_hull`` (one hull of the whole mesh, trimesh; instant, for tests and quick runs) or
    ``bbox`` (its axis-aligned bounding box). ``name`` is for log messages.
    """
    if mode == "coacd":
        return convex_hulls(vertices, faces, max_hulls=max_hulls, name=name)
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


def cached_hulls_path(vertices: np.ndarray, faces: np.ndarray, **params: float) -> Path:
    """Where ``convex_hulls`` with these parameters caches its result (exists or not)."""
    return cache_dir() / f"{hull_key(vertices, faces, **params)}.npz"  # type: ignore[arg-type]
