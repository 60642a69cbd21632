"""The ``HOIMotion`` record (docs/contracts.md): one human-object interaction clip on the 52-body humanoid.

All arrays are numpy, batch (time) first, world frame z-up, metres, seconds, radians, quaternions wxyz.
T = frames, K = interaction-graph edges, V/F = object mesh vertices/faces.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

import numpy as np

from hoi_sim.errors import InputError
from hoi_sim.skeleton import NUM_BODIES, NUM_DOFS

_Report = TypeVar("_Report")

SCHEMA_VERSION = 1
KIND = "hoi_motion"
"""``meta["kind"]`` of a HOIMotion file (other ``.npz`` formats of the package carry another kind)."""

# name -> (shape with symbolic dims, dtype). Symbols: T frames, K edges, V vertices, F faces.
ARRAY_SPECS: dict[str, tuple[tuple[int | str, ...], type]] = {
    "root_pos": (("T", 3), np.float32),
    "root_quat": (("T", 4), np.float32),
    "root_lin_vel": (("T", 3), np.float32),
    "root_ang_vel": (("T", 3), np.float32),
    "dof_pos": (("T", NUM_DOFS), np.float32),
    "dof_vel": (("T", NUM_DOFS), np.float32),
    "body_pos": (("T", NUM_BODIES, 3), np.float32),
    "body_quat": (("T", NUM_BODIES, 4), np.float32),
    "body_lin_vel": (("T", NUM_BODIES, 3), np.float32),
    "body_ang_vel": (("T", NUM_BODIES, 3), np.float32),
    "obj_pos": (("T", 3), np.float32),
    "obj_quat": (("T", 4), np.float32),
    "obj_lin_vel": (("T", 3), np.float32),
    "obj_ang_vel": (("T", 3), np.float32),
    "contact_label": (("T", NUM_BODIES), np.int8),
    "skeleton_offsets": ((NUM_BODIES, 3), np.float32),
    "ig_body": (("K",), np.int64),
    "ig_body_offset": (("K", 3), np.float32),
    "ig_obj_point": (("K", 3), np.float32),
    "ig_active": (("T", "K"), np.bool_),
    "obj_vertices": (("V", 3), np.float32),
    "obj_faces": (("F", 3), np.int32),
}
ARRAY_NAMES: tuple[str, ...] = tuple(ARRAY_SPECS)
QUAT_ARRAYS: tuple[str, ...] = ("root_quat", "body_quat", "obj_quat")


@dataclass
class HOIMotion:
    """One clip. Field shapes (see ``ARRAY_SPECS``), all float32 unless noted:

    meta: dict with ``fps`` (float, frames/s), ``name``, ``object_name``, ``mass_mode`` ('dynamic'|'static'),
    ``source``, ``action``, ``subject``, ``provenance`` (dict), ``skeleton`` (how ``skeleton_offsets`` was made);
    ``kind``, ``schema_version``, ``body_names``, ``dof_names`` and ``quat_order`` are filled in on save.
    root_pos [T,3] m · root_quat [T,4] wxyz · root_lin_vel [T,3] m/s · root_ang_vel [T,3] rad/s (world frame) ·
    dof_pos [T,153] rad (exact intrinsic x-y-z hinge angles) · dof_vel [T,153] rad/s ·
    body_pos [T,52,3] m · body_quat [T,52,4] wxyz · body_lin_vel [T,52,3] m/s · body_ang_vel [T,52,3] rad/s ·
    obj_pos [T,3] m (mesh vertex centroid) · obj_quat [T,4] wxyz · obj_lin_vel [T,3] · obj_ang_vel [T,3] ·
    contact_label [T,52] int8 in {−1 (must not touch), 0 (unknown), +1 (touches the object)} ·
    skeleton_offsets [52,3] m (body origin in its parent's frame at zero pose; row 0 zero) ·
    ig_body [K] int64 · ig_body_offset [K,3] m (body frame) · ig_obj_point [K,3] m (object frame) ·
    ig_active [T,K] bool · obj_vertices [V,3] m (object frame, origin = vertex centroid) · obj_faces [F,3] int32.
    """

    meta: dict
    root_pos: np.ndarray
    root_quat: np.ndarray
    root_lin_vel: np.ndarray
    root_ang_vel: np.ndarray
    dof_pos: np.ndarray
    dof_vel: np.ndarray
    body_pos: np.ndarray
    body_quat: np.ndarray
    body_lin_vel: np.ndarray
    body_ang_vel: np.ndarray
    obj_pos: np.ndarray
    obj_quat: np.ndarray
    obj_lin_vel: np.ndarray
    obj_ang_vel: np.ndarray
    contact_label: np.ndarray
    skeleton_offsets: np.ndarray
    ig_body: np.ndarray
    ig_body_offset: np.ndarray
    ig_obj_point: np.ndarray
    ig_active: np.ndarray
    obj_vertices: np.ndarray
    obj_faces: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.root_pos.shape[0])

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])

    @property
    def name(self) -> str:
        return str(self.meta.get("name", "<motion>"))

    def arrays(self) -> dict[str, np.ndarray]:
        """The array fields by name, in ``ARRAY_NAMES`` order."""
        return {n: getattr(self, n) for n in ARRAY_NAMES}


def array_fields() -> tuple[str, ...]:
    """Dataclass fields that hold arrays (same as ``ARRAY_NAMES``; kept in sync by a test)."""
    return tuple(f.name for f in fields(HOIMotion) if f.name != "meta")


def empty_graph(num_frames: int) -> dict[str, np.ndarray]:
    """An interaction graph with no edges (K = 0) for ``num_frames`` frames."""
    return {"ig_body": np.zeros(0, np.int64), "ig_body_offset": np.zeros((0, 3), np.float32),
            "ig_obj_point": np.zeros((0, 3), np.float32), "ig_active": np.zeros((num_frames, 0), bool)}


def make_motion(meta: dict, *, root_pos: np.ndarray, root_quat: np.ndarray, dof_pos: np.ndarray,
                body_pos: np.ndarray, body_quat: np.ndarray, obj_pos: np.ndarray, obj_quat: np.ndarray,
                contact_label: np.ndarray, skeleton_offsets: np.ndarray, obj_vertices: np.ndarray,
                obj_faces: np.ndarray, graph: dict[str, np.ndarray] | None = None) -> HOIMotion:
    """Build a ``HOIMotion`` from poses, filling every velocity with :func:`compute_velocities`.

    Shapes as in :class:`HOIMotion`; ``meta`` must hold ``fps``. ``graph`` holds the four ``ig_*`` arrays
    (default: no edges). Arrays are copied and cast to the schema dtypes.
    """
    from hoi_sim.motions.velocity import compute_velocities

    if "fps" not in meta or not float(meta["fps"]) > 0:
        raise InputError("motion meta needs a positive 'fps'")
    poses = {"root_pos": root_pos, "root_quat": root_quat, "dof_pos": dof_pos, "body_pos": body_pos,
             "body_quat": body_quat, "obj_pos": obj_pos, "obj_quat": obj_quat}
    poses = {k: np.asarray(v, np.float32) for k, v in poses.items()}
    vel = compute_velocities(float(meta["fps"]), **poses)
    graph = graph if graph is not None else empty_graph(poses["root_pos"].shape[0])
    arrays = {**poses, **vel, **graph, "contact_label": contact_label, "skeleton_offsets": skeleton_offsets,
              "obj_vertices": obj_vertices, "obj_faces": obj_faces}
    arrays = {k: np.array(arrays[k], dtype=ARRAY_SPECS[k][1], order="C", copy=True) for k in ARRAY_NAMES}
    return HOIMotion(meta=dict(meta), **arrays)


def record_provenance(motion: HOIMotion, step: str, report: Any, cfg: Any) -> None:
    """Store what a preparation step did, ``report.as_dict()`` and the ``cfg`` dataclass it ran with, as
    ``motion.meta["provenance"][step]`` (the provenance dict is replaced, not changed in place)."""
    prov = dict(motion.meta.get("provenance") or {})
    prov[step] = {**report.as_dict(), "config": asdict(cfg)}
    motion.meta["provenance"] = prov


def provenance_report(motion: HOIMotion, step: str, cls: type[_Report]) -> _Report | None:
    """The ``cls`` report stored by :func:`record_provenance` under ``step`` (None when the step did not run; keys
    that are not fields of ``cls``, such as ``config``, are left out)."""
    stored = (motion.meta.get("provenance") or {}).get(step)
    if not isinstance(stored, dict):
        return None
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in stored.items() if k in names})
