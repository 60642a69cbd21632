"""Shapes and depths of the penetration fix (:mod:`hoi_sim.motions.penetration`), shared with the hand and arm pose
changes of :mod:`hoi_sim.motions.hand_pose`: its knobs (:class:`PenetrationConfig`), the object's convex parts as
plane sets (:func:`hull_planes`), the hand geoms covered by spheres (:func:`hand_spheres`), sphere depths in the
hulls and the object's depth in the floor, and the size-keeping time smoothing of every correction. The rules are
in the docstring of :mod:`hoi_sim.motions.penetration`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hoi_sim.errors import InputError
from hoi_sim.motions.grounding import _quat_to_matrix, body_geoms
from hoi_sim.skeleton import HANDS, body_ids

SIDES = ("L", "R")
ARM_CHAIN = {s: (f"{s}_Shoulder", f"{s}_Elbow", f"{s}_Wrist") for s in SIDES}
"""Bodies whose hinges move a hand to follow the object (9 DOFs per side)."""
FINGERS = {s: tuple(tuple(f"{s}_{f}{k}" for k in (1, 2, 3)) for f in ("Index", "Middle", "Pinky", "Ring", "Thumb"))
           for s in SIDES}
ROT_SCALE_M = 0.1
"""Length (m) that weighs a wrist rotation error (rad) against its position error in the arm IK."""


@dataclass(frozen=True)
class PenetrationConfig:
    """Knobs of :func:`hoi_sim.motions.penetration.resolve_penetration`."""

    tol_m: float = 0.001
    """Hand penetration up to this depth (m) is left as it is (the humanoid's geoms have a 1 mm contact margin)."""
    floor_tol_m: float = 0.001
    """The object's lowest point may be this far below the floor (m) before it is lifted."""
    follow_m: float = 0.03
    """A hand within this distance (m) of the object follows the object's lift (step 2)."""
    smooth_frames: int = 3
    """Half-width (frames) of the dilate-then-average smoothing of every correction."""
    ik_iterations: int = 12
    ik_damping: float = 1e-3
    """Damped least squares: iterations and damping λ (m) of the follow IK and of the push-out rounds."""
    push_damping: float = 0.02
    """Damping λ (m) of the push-out least squares (step 3): larger = smaller, slower hinge steps."""
    max_step_rad: float = 0.1
    """Largest hinge change per push-out round (rad)."""
    finger_max_rad: float = 0.8
    arm_max_rad: float = 0.35
    """Largest total hinge change (rad) a push-out may make on a finger (≈ 46°) and on an arm (≈ 20°)."""

    def __post_init__(self) -> None:
        if min(self.tol_m, self.floor_tol_m, self.follow_m) < 0 or self.smooth_frames < 0 or self.ik_iterations < 1:
            raise InputError("penetration tolerances must be >= 0, smooth_frames >= 0, ik_iterations >= 1")


@dataclass(frozen=True)
class HullPlanes:
    """Convex parts as padded plane sets (object frame): normals [H,P,3] (outward, unit; padding 0), offsets
    [H,P] (m; padding +inf so a padded plane never decides), lo/hi [H,3] bounding boxes (m), vertices [ΣV,3]."""

    normals: np.ndarray
    offsets: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    vertices: np.ndarray


def hull_planes(hulls: list) -> HullPlanes:
    """Face planes of ``hulls`` (``objects.hulls.ConvexHull``: vertices [V,3], outward CCW faces [F,3])."""
    if not hulls:
        raise InputError("no convex parts given for the object")
    normals, offsets = [], []
    for h in hulls:
        v = np.asarray(h.vertices, np.float64)
        f = np.asarray(h.faces, np.int64)
        n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
        norm = np.linalg.norm(n, axis=1)
        keep = norm > 1e-12
        n = n[keep] / norm[keep, None]
        normals.append(n)
        offsets.append(np.einsum("fk,fk->f", n, v[f[keep, 0]]))
    P = max(len(n) for n in normals)
    N = np.zeros((len(hulls), P, 3))
    D = np.full((len(hulls), P), np.inf)
    for i, (n, d) in enumerate(zip(normals, offsets)):
        N[i, :len(n)] = n
        D[i, :len(d)] = d
    lo = np.stack([np.asarray(h.vertices).min(axis=0) for h in hulls])
    hi = np.stack([np.asarray(h.vertices).max(axis=0) for h in hulls])
    return HullPlanes(N, D, lo, hi, np.concatenate([np.asarray(h.vertices, np.float64) for h in hulls]))


def hand_spheres(offsets: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spheres covering the hand bodies' collision geoms on the skeleton ``offsets`` [52, 3] (m).

    Returns:
        body [S] int (body index), centre [S, 3] (m, body frame), radius [S] (m).
    """
    geoms = body_geoms(offsets)
    bodies, centres, radii = [], [], []
    for b in body_ids(HANDS):
        for g in geoms[b]:
            if g.type == "capsule" and g.fromto is not None:
                a, e = np.asarray(g.fromto, np.float64).reshape(2, 3)
                r = float(g.size[0])
                n = max(2, int(np.ceil(np.linalg.norm(e - a) / r)) + 1)
                pts = a + np.linspace(0.0, 1.0, n)[:, None] * (e - a)
            elif g.type == "sphere":
                r = float(g.size[0])
                pts = np.zeros((1, 3)) if g.pos is None else np.asarray(g.pos, np.float64)[None]
            elif g.type == "box":
                h = np.asarray(g.size, np.float64)
                r = float(h.min())
                thin = int(h.argmin())
                axes = [np.linspace(-(h[k] - r), h[k] - r, max(1, int(np.ceil(2 * (h[k] - r) / r)) + 1))
                        if k != thin else np.zeros(1) for k in range(3)]
                grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
                g_rot = np.eye(3) if g.quat is None else _quat_to_matrix(np.asarray(g.quat))
                pts = (np.zeros(3) if g.pos is None else np.asarray(g.pos, np.float64)) + grid @ g_rot.T
            else:
                raise InputError(f"hand geom type {g.type!r} has no sphere cover")
            bodies.extend([b] * len(pts))
            centres.append(pts)
            radii.extend([r] * len(pts))
    return np.asarray(bodies, np.int64), np.concatenate(centres), np.asarray(radii)


def sphere_depths(points: np.ndarray, radii: np.ndarray, planes: HullPlanes, chunk: int = 4096,
                  faces: bool = False, reach: float = 0.0) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deepest penetration [M] (m; ≤ 0: clear, −inf: farther than ``reach`` from every hull's bounding box) of
    spheres (centres [M,3] in the object frame), and with ``faces`` the (hull, face) [M] each sphere leaves
    through fastest (−1 where far). For a clear sphere the value is minus a lower bound of its gap."""
    M = len(points)
    depth = np.full(M, -np.inf)
    hull = np.full(M, -1)
    face_of = np.full(M, -1)
    for h in range(len(planes.lo)):
        pad = radii[:, None] + reach
        near = np.all((points > planes.lo[h] - pad) & (points < planes.hi[h] + pad), axis=1)
        idx = np.nonzero(near)[0]
        for s in range(0, len(idx), chunk):
            ii = idx[s:s + chunk]
            sd = points[ii] @ planes.normals[h].T - planes.offsets[h]
            face = sd.argmax(axis=1)
            d = radii[ii] - sd[np.arange(len(ii)), face]
            better = d > depth[ii]
            depth[ii[better]] = d[better]
            hull[ii[better]] = h
            face_of[ii[better]] = face[better]
    return (depth, hull, face_of) if faces else depth


def to_object_frame(world: np.ndarray, obj_rot: np.ndarray, obj_pos: np.ndarray) -> np.ndarray:
    """World points [T, S, 3] → object frame."""
    return np.einsum("tji,tsj->tsi", obj_rot, world - obj_pos[:, None])


def frame_depths(world: np.ndarray, radii: np.ndarray, obj_rot: np.ndarray, obj_pos: np.ndarray,
              planes: HullPlanes, reach: float = 0.0) -> np.ndarray:
    """[T, S] depth of each sphere (world centres [T,S,3]) with the object at (obj_rot [T,3,3], obj_pos [T,3])."""
    T, S, _ = world.shape
    local = to_object_frame(world, obj_rot, obj_pos).reshape(-1, 3)
    return sphere_depths(local, np.tile(radii, T), planes, reach=reach).reshape(T, S)


def object_floor_depth(obj_rot: np.ndarray, obj_pos: np.ndarray, planes: HullPlanes) -> np.ndarray:
    """[T] how far (m) the object's lowest hull vertex is below the floor (negative: above)."""
    return -(np.einsum("tj,vj->tv", obj_rot[:, 2], planes.vertices).min(axis=1) + obj_pos[:, 2])


def smooth_keep_size(x: np.ndarray, half: int) -> np.ndarray:
    """Smooth [T, ...] along time without shrinking: the positive and negative parts are dilated (running max over
    ±half frames) and then averaged over the same window, so the result has at least the input's magnitude (same
    sign) wherever the input is non-zero, and ramps to zero over ``half`` frames on each side."""
    if half <= 0 or len(x) < 2:
        return np.array(x, np.float64, copy=True)
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    size = 2 * half + 1

    def grow(a: np.ndarray) -> np.ndarray:
        return uniform_filter1d(maximum_filter1d(a, size, axis=0, mode="nearest"), size, axis=0, mode="nearest")

    x = np.asarray(x, np.float64)
    out = grow(np.clip(x, 0, None)) - grow(np.clip(-x, 0, None))
    out[np.abs(out) < 1e-12] = 0.0  # running-sum round-off
    return out
