"""A synthetic SMPL-X model file, built from the neutral humanoid, for tests that cannot use the licensed model.

:func:`write_smplx_fixture` writes ``<directory>/smplx/SMPLX_NEUTRAL.npz`` with every key ``smplx.SMPLX`` reads
(``smplx.create(directory, model_type="smplx", ext="npz", flat_hand_mean=True, use_pca=False)`` loads it; it prints
smplx's "only 10 shape and 10 expression coefficients" warning when ``num_betas < 400``). Guarantees, in the SMPL-X
template frame (y up, z forward, x left; a humanoid-frame point p_h maps to ``p_s = Cᵀ (p_h + a)``, with
``C = SMPLX_TO_HUMANOID`` and ``a = keypoints._table()["pelvis_anchor_humanoid_axes"]``):

- **Joints.** At zero pose and zero betas, the 52 humanoid joints sit exactly at the neutral humanoid's body origins
  (pelvis at ``Cᵀ a``), so ``offsets_from_smplx(dir, zeros)`` returns ``skeleton.neutral_offsets()`` to float32
  rounding. Jaw (22) and eyes (23, 24) sit in the head (``JAW_EYES_HUMANOID`` from the Head origin).
  ``J_regressor`` is one-hot: joint k is vertex ``JOINT_VERTEX_BASE + k`` (the last 55 vertices).
- **Keypoints.** Each of the 87 keypoint vertices (``keypoints.smplx_vertices()``, and the six legacy foot vertices
  of release A) sits at its keypoint's ``rest_point``, skinned to its keypoint's humanoid body.
- **Surface.** The other vertices form one closed triangle mesh per humanoid geom (sphere-topology grids on the
  spheres, capsules and boxes of the neutral model), each vertex rigidly skinned (``weights`` one-hot) to its body's
  SMPL-X joint, so a posed fixture body covers the posed humanoid's geoms. Unused slots repeat mesh vertices.
  ``f`` indexes only mesh vertices (about 19k faces).
- **Shape.** ``shapedirs`` [V, 3, num_betas] act about the pelvis joint d = v − J_pelvis, identically on all vertices
  (joints included): β0 scales the whole body by 4 % per unit (height), β1 scales x (width) by 3 %, β2 lengthens
  the part below the pelvis (legs) by 3 % in y, β3…β9 are seeded diagonal scalings of at most 2 % per axis; the
  expression columns and ``posedirs`` are zero (no pose correctives). Hand PCA components are the identity and the
  hand means zero.

Writing takes about 0.4 s (the zero ``posedirs`` dominate); the file is about 1 MB.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from hoi_sim import keypoints as kp
from hoi_sim.io_utils import atomic_path
from hoi_sim.skeleton import NUM_BODIES, PARENTS, SMPLX_JOINT_IDS, GeomSpec, neutral

NUM_VERTICES = 10475
NUM_JOINTS = 55
JOINT_VERTEX_BASE = NUM_VERTICES - NUM_JOINTS
SMPLX_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
                 20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
                 21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53)
"""The SMPL-X kinematic tree (parent joint of each of the 55 joints)."""
JAW_EYES_HUMANOID = {22: (0.03, 0.0, -0.03), 23: (0.08, 0.03, 0.06), 24: (0.08, -0.03, 0.06)}
"""Jaw and eye joints: offset (m, humanoid axes) from the Head body origin."""
SMPLX_TO_HUMANOID = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])

_SMALL = (5, 8)  # (rings + 1, segments) of a finger geom's grid
_LARGE = (15, 28)


def humanoid_rest_positions() -> np.ndarray:
    """[52, 3] neutral body origins (m, humanoid frame, pelvis at 0) at zero pose (bodies have no rest rotation)."""
    offs = neutral().offsets
    pos = np.zeros((NUM_BODIES, 3))
    for b in range(1, NUM_BODIES):
        pos[b] = pos[PARENTS[b]] + offs[b]
    return pos


def _to_smplx(p_h: np.ndarray) -> np.ndarray:
    anchor = np.asarray(kp._table()["pelvis_anchor_humanoid_axes"], dtype=np.float64)
    return (p_h + anchor) @ SMPLX_TO_HUMANOID  # row-vector form of Cᵀ (p + a)


def fixture_rest_joints() -> np.ndarray:
    """[55, 3] rest joints (m, SMPL-X frame) of the fixture at zero betas."""
    pos = humanoid_rest_positions()
    joints_h = np.zeros((NUM_JOINTS, 3))
    joints_h[list(SMPLX_JOINT_IDS)] = pos
    head = pos[SMPLX_JOINT_IDS.index(15)]
    for j, off in JAW_EYES_HUMANOID.items():
        joints_h[j] = head + np.asarray(off)
    return _to_smplx(joints_h)


def _sphere_grid(n_lat: int, n_lon: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit-sphere grid (poles + n_lat−1 rings of n_lon) [N, 3] and its outward triangles [F, 3]."""
    theta = np.pi * np.arange(1, n_lat) / n_lat
    phi = 2 * np.pi * np.arange(n_lon) / n_lon
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    rings = np.stack([st * np.cos(phi), st * np.sin(phi), np.broadcast_to(ct, (n_lat - 1, n_lon))], -1)
    verts = np.concatenate([[[0.0, 0.0, 1.0]], rings.reshape(-1, 3), [[0.0, 0.0, -1.0]]])
    bottom = len(verts) - 1
    m = np.arange(n_lon)
    m1 = (m + 1) % n_lon
    faces = [np.stack([np.zeros(n_lon, int), 1 + m, 1 + m1], -1)]
    for k in range(n_lat - 2):
        a, b = 1 + k * n_lon, 1 + (k + 1) * n_lon
        faces.append(np.stack([a + m, b + m, b + m1], -1))
        faces.append(np.stack([a + m, b + m1, a + m1], -1))
    last = 1 + (n_lat - 2) * n_lon
    faces.append(np.stack([last + m, np.full(n_lon, bottom), last + m1], -1))
    return verts, np.concatenate(faces)


def _frame_z(axis: np.ndarray) -> np.ndarray:
    """A rotation matrix whose third column is the unit ``axis``."""
    z = axis / max(np.linalg.norm(axis), 1e-12)
    helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    x = np.cross(helper, z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z], -1)


def _geom_mesh(g: GeomSpec) -> tuple[np.ndarray, np.ndarray]:
    """Closed surface of one geom in its body frame: vertices [N, 3] (m), faces [F, 3]."""
    small = g.type == "capsule" and g.size[0] < 0.015
    u, faces = _sphere_grid(*(_SMALL if small else _LARGE))
    if g.type == "sphere":
        return np.asarray(g.pos or (0.0, 0.0, 0.0)) + g.size[0] * u, faces
    if g.type == "box":
        half = np.asarray(g.size)
        on_box = u / np.max(np.abs(u) / half, axis=1, keepdims=True)
        w, x, y, z = g.quat or (1.0, 0.0, 0.0, 0.0)
        rot = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                        [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                        [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])
        return np.asarray(g.pos or (0.0, 0.0, 0.0)) + on_box @ rot.T, faces
    if g.type == "capsule":
        a, b = np.asarray(g.fromto[:3]), np.asarray(g.fromto[3:])
        rot = _frame_z(b - a)
        end = np.where(u[:, 2:3] >= 0, b, a)  # odd ring count: no ring on the equator
        return end + g.size[0] * u @ rot.T, faces
    raise ValueError(f"unsupported geom type {g.type!r}")


def _shapedirs(v: np.ndarray, pelvis: np.ndarray, num_betas: int, seed: int) -> np.ndarray:
    d = v - pelvis
    dirs = np.zeros((len(v), 3, num_betas))
    dirs[:, :, 0] = 0.04 * d
    dirs[:, 0, 1] = 0.03 * d[:, 0]
    dirs[:, 1, 2] = 0.03 * np.minimum(d[:, 1], 0.0)
    scales = np.random.default_rng(seed).uniform(-0.02, 0.02, size=(7, 3))
    for k in range(7):
        dirs[:, :, 3 + k] = d * scales[k]
    return dirs


def _fill_body_surface(v: np.ndarray, vjoint: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Put the neutral humanoid's collision geoms, as closed meshes at rest, on the ``free`` vertex slots of ``v``
    [V,3] (SMPL-X frame) and ``vjoint`` [V] (in place; unused slots repeat mesh vertices); returns the faces."""
    ref = neutral()
    pos_h = humanoid_rest_positions()
    mesh_v, mesh_j, mesh_f, n = [], [], [], 0
    for b in range(NUM_BODIES):
        for g in ref.geoms[b]:
            gv, gf = _geom_mesh(g)
            mesh_v.append(gv + pos_h[b])
            mesh_j.append(np.full(len(gv), SMPLX_JOINT_IDS[b]))
            mesh_f.append(gf + n)
            n += len(gv)
    if n > len(free):
        raise RuntimeError(f"fixture meshes need {n} vertices, only {len(free)} free")
    fill = np.arange(len(free)) % n
    v[free] = _to_smplx(np.concatenate(mesh_v))[fill]
    vjoint[free] = np.concatenate(mesh_j)[fill]
    return free[np.concatenate(mesh_f)]


def build_smplx_fixture_arrays(num_betas: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """The arrays of the fixture file (see the module docstring); ``num_betas`` ≥ 20 shapedirs columns."""
    if num_betas < 20:
        raise ValueError(f"num_betas must be >= 20 (10 shape + 10 expression for smplx), got {num_betas}")
    joints = fixture_rest_joints()
    v = np.zeros((NUM_VERTICES, 3))
    vjoint = np.zeros(NUM_VERTICES, dtype=np.int64)  # SMPL-X joint each vertex is skinned to

    # joint vertices (the J_regressor picks them)
    v[JOINT_VERTEX_BASE:] = joints
    vjoint[JOINT_VERTEX_BASE:] = np.arange(NUM_JOINTS)
    reserved = set(range(JOINT_VERTEX_BASE, NUM_VERTICES))

    # keypoint vertices (release B and the six legacy foot vertices of release A)
    for legacy in (False, True):
        for k, vid in zip(kp.keypoints(), kp.smplx_vertices(legacy=legacy)):
            v[vid] = k.rest_point
            vjoint[vid] = SMPLX_JOINT_IDS[k.body_index]
            reserved.add(int(vid))

    free = np.array([i for i in range(NUM_VERTICES) if i not in reserved])
    faces = _fill_body_surface(v, vjoint, free)

    j_regressor = np.zeros((NUM_JOINTS, NUM_VERTICES), dtype=np.float32)
    j_regressor[np.arange(NUM_JOINTS), JOINT_VERTEX_BASE + np.arange(NUM_JOINTS)] = 1.0
    weights = np.zeros((NUM_VERTICES, NUM_JOINTS), dtype=np.float32)
    weights[np.arange(NUM_VERTICES), vjoint] = 1.0
    kintree = np.array([SMPLX_PARENTS, range(NUM_JOINTS)], dtype=np.int64)
    kintree[0, 0] = 4294967295  # as in the released files (uint32 −1); smplx ignores it

    head_faces = [i for i, f in enumerate(faces) if np.all(vjoint[f] == 15)]
    return {
        "v_template": v.astype(np.float32),
        "shapedirs": _shapedirs(v, joints[0], num_betas, seed).astype(np.float32),
        "posedirs": np.zeros((NUM_VERTICES, 3, (NUM_JOINTS - 1) * 9), dtype=np.float32),
        "J_regressor": j_regressor,
        "weights": weights,
        "kintree_table": kintree,
        "f": faces.astype(np.int32),
        "hands_componentsl": np.eye(45, dtype=np.float32),
        "hands_componentsr": np.eye(45, dtype=np.float32),
        "hands_meanl": np.zeros(45, dtype=np.float32),
        "hands_meanr": np.zeros(45, dtype=np.float32),
        "lmk_faces_idx": np.array(head_faces[:51], dtype=np.int64),
        "lmk_bary_coords": np.full((51, 3), 1.0 / 3.0, dtype=np.float32),
    }


def write_smplx_fixture(directory: str | os.PathLike, *, num_betas: int = 20, seed: int = 0) -> Path:
    """Write the synthetic ``<directory>/smplx/SMPLX_NEUTRAL.npz`` and return ``directory`` (what ``smplx.create``
    and ``HOI_SIM_SMPLX_MODEL`` take). See the module docstring for what the file guarantees.

    Args:
        directory: output folder (created if missing).
        num_betas: shapedirs columns (≥ 20; smplx uses 10 shape + 10 expression below 400).
        seed: seed of the β3…β9 directions.
    """
    root = Path(directory)
    out = root / "smplx" / "SMPLX_NEUTRAL.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = build_smplx_fixture_arrays(num_betas, seed)
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return root
