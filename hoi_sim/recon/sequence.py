"""``HOISequence``: the reconstructed human-object sequence (solver output, synthetic ground truth), and the
Open4DHOI-compatible ``final_optimized_parameters/all_parameters_*.json`` writer/reader (release A, notes §4.1).

File ``.npz`` (no pickle), ``meta`` = JSON string with ``kind="hoi_sequence"``, ``schema_version=1``. Arrays:

* SMPL-X params **in the camera frame** (OpenCV, m): ``global_orient [T,3]``, ``body_pose [T,63]``,
  ``left_hand_pose [T,45]``, ``right_hand_pose [T,45]``, ``betas [T,10]``, ``transl [T,3]``;
* ``cam_to_world [T,4,4]`` (optional): camera → world (z-up for synthetic sessions; GVHMR's y-up world for real
  ones, per frame, pelvis based), absent when unknown;
* object: ``obj_vertices [V,3]`` (app convention: centred, scaled), ``obj_faces [F,3]``, ``obj_R [T,3,3]``,
  ``obj_t [T,3]`` (camera frame, ``v_cam = R v + t``);
* ``contact_vertex [T,87]`` int64 (object vertex per keypoint row, −1 none), ``K [3,3]``.

``meta`` holds ``fps``, ``start_frame`` (absolute index of row 0), ``image_size`` [H, W], ``world_up`` and
``provenance``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hoi_sim.errors import InputError
from hoi_sim.io_utils import atomic_path, dumps_json, write_text_atomic
from hoi_sim.recon.types import NUM_KEYPOINTS, SMPLX_FIELDS, SmplxParams

SCHEMA_VERSION = 1
KIND = "hoi_sequence"


@dataclass
class HOISequence:
    """A reconstructed (or ground-truth) HOI sequence; shapes and frames in the module doc."""

    human: SmplxParams
    obj_vertices: np.ndarray
    obj_faces: np.ndarray
    obj_R: np.ndarray
    obj_t: np.ndarray
    contact_vertex: np.ndarray
    K: np.ndarray
    fps: float = 30.0
    start_frame: int = 0
    image_size: tuple[int, int] = (0, 0)
    cam_to_world: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return self.human.num_frames

    def object_vertices_cam(self) -> np.ndarray:
        """[T,V,3] posed object vertices in the camera frame (m)."""
        return np.einsum("tij,vj->tvi", self.obj_R, self.obj_vertices) + self.obj_t[:, None]

    def validate(self, where: str = "HOISequence") -> None:
        """Raise InputError naming the field when a shape or value is wrong."""
        T = self.num_frames
        self.human.check(T, where)
        checks = {"obj_R": (T, 3, 3), "obj_t": (T, 3), "contact_vertex": (T, NUM_KEYPOINTS), "K": (3, 3)}
        for name, shape in checks.items():
            a = getattr(self, name)
            if a.shape != shape:
                raise InputError(f"{where}: {name} has shape {a.shape}, expected {shape}")
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise InputError(f"{where}: {name} has non-finite values")
        V = self.obj_vertices.shape[0]
        if self.obj_vertices.ndim != 2 or self.obj_vertices.shape[1] != 3 or V == 0:
            raise InputError(f"{where}: obj_vertices must be [V>0, 3], got {self.obj_vertices.shape}")
        if self.obj_faces.ndim != 2 or self.obj_faces.shape[1] != 3 or self.obj_faces.max(initial=-1) >= V:
            raise InputError(f"{where}: obj_faces must be [F, 3] indices below {V}")
        if self.contact_vertex.max(initial=-1) >= V:
            raise InputError(f"{where}: contact_vertex index out of range [0, {V})")
        if self.cam_to_world is not None and self.cam_to_world.shape != (T, 4, 4):
            raise InputError(f"{where}: cam_to_world has shape {self.cam_to_world.shape}, expected ({T}, 4, 4)")


def save_sequence(seq: HOISequence, path: str | os.PathLike) -> Path:
    """Validate and write ``seq`` to ``path`` (.npz) atomically; returns the path."""
    path = Path(path)
    seq.validate(str(path))
    meta = {**seq.meta, "kind": KIND, "schema_version": SCHEMA_VERSION, "fps": float(seq.fps),
            "start_frame": int(seq.start_frame), "image_size": [int(x) for x in seq.image_size],
            "human_frame": "camera (OpenCV: x right, y down, z forward)"}
    arrays: dict[str, np.ndarray] = {k: np.asarray(v, np.float64) for k, v in seq.human.as_dict().items()}
    arrays.update(obj_vertices=np.asarray(seq.obj_vertices, np.float64), obj_faces=np.asarray(seq.obj_faces, np.int64),
                  obj_R=np.asarray(seq.obj_R, np.float64), obj_t=np.asarray(seq.obj_t, np.float64),
                  contact_vertex=np.asarray(seq.contact_vertex, np.int64), K=np.asarray(seq.K, np.float64))
    if seq.cam_to_world is not None:
        arrays["cam_to_world"] = np.asarray(seq.cam_to_world, np.float64)
    with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, meta=np.array(dumps_json(meta, default=_json_default)), **arrays)
    return path


def load_sequence(path: str | os.PathLike) -> HOISequence:
    """Read a file written by :func:`save_sequence` (``allow_pickle=False``); InputError naming file and field."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable .npz ({exc})") from None
    if "meta" not in data:
        raise InputError(f"{path}: field 'meta' is missing (not a hoi_sequence file)")
    try:
        meta = json.loads(str(data["meta"]))
    except json.JSONDecodeError:
        raise InputError(f"{path}: field 'meta' is not JSON") from None
    if meta.get("kind") != KIND:
        raise InputError(f"{path}: meta kind is {meta.get('kind')!r}, expected {KIND!r}")
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{path}: schema_version {meta.get('schema_version')!r} not supported (expected 1)")
    need = [*SMPLX_FIELDS, "obj_vertices", "obj_faces", "obj_R", "obj_t", "contact_vertex", "K"]
    for k in need:
        if k not in data:
            raise InputError(f"{path}: field {k!r} is missing")
    seq = HOISequence(
        human=SmplxParams(**{k: data[k] for k in SMPLX_FIELDS}), obj_vertices=data["obj_vertices"],
        obj_faces=data["obj_faces"], obj_R=data["obj_R"], obj_t=data["obj_t"], contact_vertex=data["contact_vertex"],
        K=data["K"], fps=float(meta.get("fps", 30.0)), start_frame=int(meta.get("start_frame", 0)),
        image_size=tuple(meta.get("image_size", (0, 0))), cam_to_world=data.get("cam_to_world"),
        meta={k: v for k, v in meta.items() if k not in ("kind", "schema_version")})
    seq.validate(str(path))
    return seq


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.integer, np.floating, np.bool_)):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# ---- Open4DHOI all_parameters_*.json (release A layout, notes §4.1) -------------------------------------------
def write_all_parameters(seq: HOISequence, out_dir: str | os.PathLike, *, object_scale: float = 1.0,
                         kp_records: dict | None = None, human_global: SmplxParams | None = None,
                         object_mesh_path: str | None = None, stamp: str | None = None) -> Path:
    """Write ``out_dir/all_parameters_<stamp>.json`` (release A layout + B's ``camera``); the app's place for it is
    ``SESSION/final_optimized_parameters/``.

    Frames are absolute [start, end) with unpadded keys; hands nested as (1, 45); ``poses``/``centers`` act on the
    centred, scaled mesh. ``human_global`` (GVHMR world) fills ``smpl_params_global_subset`` when given.
    """
    stamp = stamp or time.strftime("%Y%m%d_%H%M%S")
    out_dir = Path(out_dir)
    start, T = seq.start_frame, seq.num_frames
    keys = [str(start + i) for i in range(T)]
    h = seq.human.as_dict()
    human_raw: dict[str, dict[str, Any]] = {}
    for name in SMPLX_FIELDS:
        nest = name.endswith("hand_pose")
        human_raw[name] = {k: ([h[name][i].tolist()] if nest else h[name][i].tolist()) for i, k in enumerate(keys)}
    glob = human_global if human_global is not None else seq.human
    doc = {
        "metadata": {"description": "hoi_sim 4DHOISolver output (camera-frame SMPL-X + object pose)",
                     "frame_range": {"start": start, "end": start + T}, "user_scale": float(object_scale),
                     "save_dir": str(out_dir.resolve()), "generator": "hoi_sim"},
        "human_params_raw": human_raw,
        "object_params_raw": {"poses": {k: seq.obj_R[i].tolist() for i, k in enumerate(keys)},
                              "centers": {k: seq.obj_t[i].tolist() for i, k in enumerate(keys)},
                              "scale": float(seq.meta.get("object_file_scale", 1.0))},
        "smpl_params_incam_subset": {"global_orient": h["global_orient"].tolist(), "transl": h["transl"].tolist()},
        "smpl_params_global_subset": {"global_orient": glob.global_orient.tolist(), "transl": glob.transl.tolist()},
        "kp_records": kp_records or {},
        "transformed": {"parameters": {}, "object_mesh_path": object_mesh_path or ""},
        "camera": {"K": np.asarray(seq.K).tolist(), "note": "pinhole, OpenCV camera frame, full-resolution pixels"},
    }
    path = out_dir / f"all_parameters_{stamp}.json"
    write_text_atomic(path, dumps_json(doc))
    return path


def newest_all_parameters(folder: str | os.PathLike) -> Path:
    """The newest ``all_parameters_*.json`` (by mtime) in ``folder`` or its ``final_optimized_parameters``."""
    folder = Path(folder)
    files = sorted([*folder.glob("all_parameters_*.json"),
                    *(folder / "final_optimized_parameters").glob("all_parameters_*.json")],
                   key=lambda p: p.stat().st_mtime)
    if not files:
        raise InputError(f"{folder}: no all_parameters_*.json (nor final_optimized_parameters/all_parameters_*.json)")
    return files[-1]


def read_all_parameters(path: str | os.PathLike, obj_vertices: np.ndarray, obj_faces: np.ndarray, *,
                        fps: float = 30.0) -> HOISequence:
    """Read an ``all_parameters_*.json`` (A or B) into a :class:`HOISequence` on the given (centred) mesh.

    B's poses act on vertices that include ``+t0``; pass the mesh they act on. Contacts come from ``kp_records``.
    """
    from hoi_sim.recon import session_io as sio
    from hoi_sim.recon.annotations import parse_annotations

    path = Path(path)
    doc = sio.read_json(path)
    try:
        fr = doc["metadata"]["frame_range"]
        start, end = int(fr["start"]), int(fr["end"])
        hp, op = doc["human_params_raw"], doc["object_params_raw"]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: field {exc} is missing or malformed") from None
    keys = [str(f) for f in range(start, end)]
    vals = {}
    for name, width in SMPLX_FIELDS.items():
        rows = []
        for k in keys:
            if k not in hp.get(name, {}):
                raise InputError(f"{path}: field 'human_params_raw.{name}' has no frame {k}")
            rows.append(np.asarray(hp[name][k], np.float64).reshape(-1))
        vals[name] = sio.as_float_array(rows, (len(keys), width), f"{path}: field 'human_params_raw.{name}'")
    for name in ("poses", "centers"):
        if any(k not in op.get(name, {}) for k in keys):
            raise InputError(f"{path}: field 'object_params_raw.{name}' lacks frames of {start}..{end - 1}")
    R = sio.as_float_array([op["poses"][k] for k in keys], (len(keys), 3, 3), f"{path}: 'object_params_raw.poses'")
    t = sio.as_float_array([op["centers"][k] for k in keys], (len(keys), 3), f"{path}: 'object_params_raw.centers'")
    K = np.asarray(doc.get("camera", {}).get("K", np.eye(3)), np.float64)
    contact = np.full((len(keys), NUM_KEYPOINTS), -1, np.int64)
    rec = doc.get("kp_records") or {}
    frames = {k: v for k, v in rec.items() if k.isdigit() and start <= int(k) < end}
    if frames:
        ann = parse_annotations({**frames, "start_frame_index": start, f"{end - 1:05d}": rec.get(f"{end - 1:05d}", {})},
                                path, num_frames=end, num_vertices=len(obj_vertices), image_size=(10**6, 10**6),
                                min_dof=0)
        contact[: ann.end - ann.start] = ann.contact_vertex
    return HOISequence(human=SmplxParams(**vals), obj_vertices=np.asarray(obj_vertices, np.float64),
                       obj_faces=np.asarray(obj_faces, np.int64), obj_R=R, obj_t=t, contact_vertex=contact, K=K,
                       fps=fps, start_frame=start, meta={"source": str(path)})
