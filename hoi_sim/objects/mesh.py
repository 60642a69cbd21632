"""Object meshes: loading with trimesh, centring on the vertex centroid, and an even surface point cloud.

The object frame of the package (and of InterMimic) has its origin at the mesh's vertex centroid; object poses in
motion files place that frame in the world.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import trimesh

from hoi_sim.errors import InputError

SURFACE_POINTS = 1024
SURFACE_SEED = 2024
"""InterMimic draws ``sample_surface_even(count=1024, seed=2024)``; we keep the same count and seed."""


@dataclass(frozen=True)
class ObjectMesh:
    """A triangle mesh in its object frame.

    vertices [V, 3] float64 (m, origin = vertex centroid), faces [F, 3] int32, name (file stem),
    centroid [3] (m): the vertex centroid that was subtracted from the file's coordinates, sha256 of the file.
    """

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    centroid: np.ndarray
    sha256: str

    def trimesh(self) -> trimesh.Trimesh:
        return trimesh.Trimesh(self.vertices, self.faces, process=False)


def load_mesh(path: str | os.PathLike) -> ObjectMesh:
    """Load a mesh file (any format trimesh reads, e.g. ``.obj``) and centre it on its vertex centroid.

    Raises ``InputError`` naming the file when it is missing, unreadable or has no triangles. Results are cached
    per (file, size, mtime); the returned arrays are read-only.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: object mesh not found")
    st = path.stat()
    return _load_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=16)
def _load_cached(path_str: str, size: int, mtime_ns: int) -> ObjectMesh:
    path = Path(path_str)
    try:
        mesh = trimesh.load(path, force="mesh")
    except Exception as exc:  # noqa: BLE001 - trimesh raises many kinds; report one line
        raise InputError(f"{path}: cannot read mesh ({type(exc).__name__}: {exc})") from None
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise InputError(f"{path}: no triangles in mesh")
    vertices = np.asarray(mesh.vertices, np.float64)
    centroid = vertices.mean(axis=0)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    vertices = vertices - centroid
    faces = np.asarray(mesh.faces, np.int32)
    for a in (vertices, faces, centroid):
        a.flags.writeable = False
    return ObjectMesh(name=path.stem, vertices=vertices, faces=faces, centroid=centroid, sha256=sha)


def find_mesh(objects_dir: str | os.PathLike, name: str) -> Path:
    """``objects_dir/<name>.obj`` or ``objects_dir/<name>/<name>.obj`` (InterMimic's asset layout)."""
    root = Path(objects_dir)
    for cand in (root / f"{name}.obj", root / name / f"{name}.obj"):
        if cand.is_file():
            return cand
    raise InputError(f"{root}: no mesh for object {name!r} (looked for {name}.obj and {name}/{name}.obj)")


def surface_points(vertices: np.ndarray, faces: np.ndarray, count: int = SURFACE_POINTS,
                   seed: int = SURFACE_SEED) -> np.ndarray:
    """``count`` evenly spread surface samples [count, 3] (float32, object frame), deterministic for a seed.

    Uses trimesh's ``sample_surface_even`` (Poisson-disk-like rejection); if it returns fewer points, they are
    repeated cyclically to fill ``count`` (as InterMimic does).
    """
    mesh = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces), process=False)
    pts, _ = trimesh.sample.sample_surface_even(mesh, count=count, seed=seed)
    pts = np.asarray(pts, np.float64)
    if len(pts) == 0:
        raise InputError("cannot sample points on an empty mesh surface")
    if len(pts) < count:
        pts = pts[np.arange(count) % len(pts)]
    return pts[:count].astype(np.float32)
