"""Typed input of 4DHOISolver: :class:`SolverInput` (what ingest produces and ``recon.solver.solve`` consumes).

Conventions (notes §1, §3.8 of ``reference/open4dhoi-notes.md``):

* **Frames.** Every per-frame array has ``T = end_frame - start_frame`` rows: local frame ``i`` is absolute video
  frame ``start_frame + i``. Masks, tracks and poses are all indexed by local frame.
* **Camera frame** = OpenCV (x right, y down, z forward), metres, camera at the origin. The human ``incam`` params,
  the object initial pose and the 3D-3D pairs all live there. Pixels: x right, y down, origin top-left, full
  resolution (floats).
* **Object mesh** is in the app's convention (A): raw ``obj_org.obj`` vertices × ``obj_poses.scale`` (0 → 1), minus
  their mean, × ``object_scale`` (the user's scale, about the centroid ≈ origin). A pose (R, t) maps it into the
  camera frame: ``v_cam = R · v + t``. Release B's single translation ``t`` becomes ``obj_t_init[i] = t``
  (notes open question 4: A's convention, t_A = t_B + R·t0).
* **SMPL-X** params are the app's: axis-angle, flat hand mean, neutral model with 10 betas; ``incam`` in the camera
  frame, ``global`` in GVHMR's gravity-aligned world (y up), when the session has it.
* **Contacts**: ``contact_vertex[i, k]`` = object vertex paired with keypoint row ``k`` (order of
  :func:`hoi_sim.keypoints.names`, 87 rows; legacy 74-key sessions fill the first 74) at local frame ``i``, −1 for
  none. ``keypoint_vertices[k]`` is the SMPL-X vertex index of row ``k`` (release A's six foot vertices for a
  legacy session).
* **2D tracks** are padded: ``track_vertex [T, M]`` (−1 = padding) and ``track_xy [T, M, 2]`` (NaN = padding).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hoi_sim.errors import InputError

NUM_KEYPOINTS = 87
MIN_DOF = 6
"""DoF rule of the app and the solver: 3 per 3D-3D pair + 2 per 2D point must be ≥ 6 on every annotated frame."""

SMPLX_FIELDS: dict[str, int] = {"global_orient": 3, "body_pose": 63, "left_hand_pose": 45, "right_hand_pose": 45,
                                "betas": 10, "transl": 3}
"""SMPL-X parameter name → width per frame (all axis-angle radians except betas and transl in metres)."""


@dataclass
class SmplxParams:
    """SMPL-X parameters for ``T`` frames (float64 numpy), the app's layout: axis-angle in radians, flat hand mean.

    ``global_orient [T,3]``, ``body_pose [T,63]`` (joints 1–21), ``left_hand_pose [T,45]``, ``right_hand_pose [T,45]``
    (joints 25–39 / 40–54), ``betas [T,10]`` (per frame, as the app stores them), ``transl [T,3]`` (m).
    The frame (camera or world) is stated by the field that holds the params.
    """

    global_orient: np.ndarray
    body_pose: np.ndarray
    left_hand_pose: np.ndarray
    right_hand_pose: np.ndarray
    betas: np.ndarray
    transl: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.global_orient.shape[0])

    def as_dict(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in SMPLX_FIELDS}

    def slice(self, idx: slice | np.ndarray) -> SmplxParams:
        """Frames ``idx`` of every field."""
        return SmplxParams(**{k: np.asarray(v[idx]) for k, v in self.as_dict().items()})

    def copy(self) -> SmplxParams:
        return SmplxParams(**{k: v.copy() for k, v in self.as_dict().items()})

    def check(self, num_frames: int, where: str) -> None:
        """Raise InputError naming ``where`` and the field when a shape or value is wrong."""
        for k, width in SMPLX_FIELDS.items():
            v = getattr(self, k)
            if not isinstance(v, np.ndarray) or v.shape != (num_frames, width):
                shape = getattr(v, "shape", type(v).__name__)
                raise InputError(f"{where}: field {k!r} has shape {shape}, expected ({num_frames}, {width})")
            bad = np.flatnonzero(~np.isfinite(v).all(axis=1))
            if bad.size:
                raise InputError(f"{where}: field {k!r} is not finite at frame {int(bad[0])}")

    @staticmethod
    def zeros(num_frames: int) -> SmplxParams:
        return SmplxParams(**{k: np.zeros((num_frames, w)) for k, w in SMPLX_FIELDS.items()})


@dataclass
class ObjectMesh:
    """The session's object in the app's convention (see module doc).

    ``vertices [V,3]`` (m, centred, scaled, the frame the object pose acts on), ``faces [F,3]`` int64 (0-based, the
    file's order), ``scale`` (``obj_poses.scale``, 0 read as 1), ``user_scale`` (``object_scale``),
    ``raw_centroid [3]`` (mean of the raw vertices × scale, subtracted), ``colors [V,3] | None`` (0–1 floats).
    """

    vertices: np.ndarray
    faces: np.ndarray
    scale: float = 1.0
    user_scale: float = 1.0
    raw_centroid: np.ndarray = field(default_factory=lambda: np.zeros(3))
    colors: np.ndarray | None = None

    @property
    def num_vertices(self) -> int:
        return int(self.vertices.shape[0])


@dataclass
class SolverInput:
    """Everything 4DHOISolver needs for one session (numpy at the edges; see the module doc for frames and units).

    Shapes (``T`` local frames, ``M`` max 2D points per frame, ``H×W`` image):

    * ``K [3,3]`` pinhole intrinsics (pixels), the same for every frame (``K_fullimg[0]``).
    * ``obj_R_init [T,3,3]``, ``obj_t_init [T,3]``: initial object pose, camera frame (``v_cam = R v + t``).
    * ``human_incam``: :class:`SmplxParams` over T frames, camera frame; ``human_global``: GVHMR world (y up) or None.
    * ``contact_vertex [T,87]`` int64 (−1 none), ``keypoint_vertices [87]`` int64 SMPL-X vertex per row.
    * ``track_vertex [T,M]`` int64 (−1 pad), ``track_xy [T,M,2]`` float64 pixels (NaN pad).
    * ``object_masks``/``human_masks`` ``[T,H,W]`` bool or None; ``*_mask_paths`` per local frame (None = no file).
    * ``cam_to_world [4,4] | None``: static camera-to-world transform (z-up world) when known (synthetic sessions);
      real sessions map camera → world per frame from ``human_incam``/``human_global`` (pelvis based, notes §3.8).
    """

    num_frames: int
    image_size: tuple[int, int]
    fps: float
    K: np.ndarray
    start_frame: int
    video_num_frames: int
    object: ObjectMesh
    static: bool
    obj_R_init: np.ndarray
    obj_t_init: np.ndarray
    human_incam: SmplxParams
    human_global: SmplxParams | None
    contact_vertex: np.ndarray
    keypoint_vertices: np.ndarray
    track_vertex: np.ndarray
    track_xy: np.ndarray
    object_masks: np.ndarray | None = None
    human_masks: np.ndarray | None = None
    object_mask_paths: list[Path | None] | None = None
    human_mask_paths: list[Path | None] | None = None
    cam_to_world: np.ndarray | None = None
    legacy_keypoints: bool = False
    session_dir: Path | None = None
    layout: str = "B"
    provenance: dict[str, Any] = field(default_factory=dict)

    # ---- derived views ---------------------------------------------------------------------------------------
    @property
    def end_frame(self) -> int:
        """Absolute index one past the last local frame."""
        return self.start_frame + self.num_frames

    @property
    def height(self) -> int:
        return int(self.image_size[0])

    @property
    def width(self) -> int:
        return int(self.image_size[1])

    def absolute_frame(self, local: int) -> int:
        return self.start_frame + int(local)

    def active_pairs(self) -> np.ndarray:
        """[T,87] bool: keypoint row k has a 3D-3D pair at local frame i."""
        return self.contact_vertex >= 0

    def track_valid(self) -> np.ndarray:
        """[T,M] bool: 2D point slot j holds a tracked point at local frame i."""
        return self.track_vertex >= 0

    def dof_per_frame(self) -> np.ndarray:
        """[T] int: 3·(#3D pairs) + 2·(#2D points) per local frame (the app's DoF count)."""
        return 3 * self.active_pairs().sum(axis=1) + 2 * self.track_valid().sum(axis=1)

    def low_dof_frames(self, min_dof: int = MIN_DOF) -> np.ndarray:
        """Local frames with annotations whose DoF is below ``min_dof`` (should be empty after ingest)."""
        dof = self.dof_per_frame()
        return np.flatnonzero(dof < min_dof)

    def contact_frames(self) -> np.ndarray:
        """Local frames with at least one 3D-3D pair."""
        return np.flatnonzero(self.active_pairs().any(axis=1))

    def contact_keypoints(self) -> np.ndarray:
        """Keypoint rows with a pair in any frame (the union the released code uses for gradient masking)."""
        return np.flatnonzero(self.active_pairs().any(axis=0))

    def best_frame(self) -> int:
        """Local frame with the most 2D + 3D annotations (first maximum): the static-object frame (notes §3.1)."""
        counts = self.active_pairs().sum(axis=1) + self.track_valid().sum(axis=1)
        return int(np.argmax(counts))

    def object_vertices_init(self) -> np.ndarray:
        """[T,V,3] object vertices at the initial pose, camera frame (m)."""
        v = self.object.vertices
        return np.einsum("tij,vj->tvi", self.obj_R_init, v) + self.obj_t_init[:, None, :]

    def replace(self, **changes: Any) -> SolverInput:
        return dataclasses.replace(self, **changes)

    # ---- validation ------------------------------------------------------------------------------------------
    def validate(self, where: str = "SolverInput") -> None:
        """Check shapes, index ranges and finiteness; raise :class:`InputError` with a one-line reason."""
        T = self.num_frames
        if T <= 0:
            raise InputError(f"{where}: no frames to solve (num_frames={T})")
        H, W = self.image_size
        if H <= 0 or W <= 0:
            raise InputError(f"{where}: bad image size {self.image_size}")
        if self.K.shape != (3, 3) or not np.isfinite(self.K).all() or self.K[0, 0] <= 0 or self.K[1, 1] <= 0:
            raise InputError(f"{where}: camera K must be a finite 3x3 matrix with positive focal lengths")
        V = self.object.num_vertices
        if V == 0 or self.object.faces.shape[0] == 0:
            raise InputError(f"{where}: object mesh is empty")
        if self.object.faces.min() < 0 or self.object.faces.max() >= V:
            raise InputError(f"{where}: object mesh face index out of range [0, {V})")
        _shape(self.obj_R_init, (T, 3, 3), where, "obj_R_init")
        _shape(self.obj_t_init, (T, 3), where, "obj_t_init")
        self.human_incam.check(T, f"{where}: human_incam")
        if self.human_global is not None:
            self.human_global.check(T, f"{where}: human_global")
        _shape(self.contact_vertex, (T, NUM_KEYPOINTS), where, "contact_vertex")
        _shape(self.keypoint_vertices, (NUM_KEYPOINTS,), where, "keypoint_vertices")
        if self.track_vertex.ndim != 2 or self.track_vertex.shape[0] != T:
            raise InputError(f"{where}: track_vertex must be [T={T}, M]")
        _shape(self.track_xy, (*self.track_vertex.shape, 2), where, "track_xy")
        for name, idx in (("contact_vertex", self.contact_vertex), ("track_vertex", self.track_vertex)):
            bad = np.argwhere(idx >= V)
            if bad.size:
                i = int(bad[0, 0])
                raise InputError(f"{where}: {name} object vertex {int(idx[tuple(bad[0])])} out of range "
                                 f"[0, {V}) at frame {self.absolute_frame(i)}")
        for name, m in (("object_masks", self.object_masks), ("human_masks", self.human_masks)):
            if m is not None:
                _shape(m, (T, H, W), where, name)


def _shape(a: np.ndarray, shape: tuple[int, ...], where: str, name: str) -> None:
    if not isinstance(a, np.ndarray) or a.shape != shape:
        raise InputError(f"{where}: {name} has shape {getattr(a, 'shape', None)}, expected {shape}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise InputError(f"{where}: {name} has non-finite values")
