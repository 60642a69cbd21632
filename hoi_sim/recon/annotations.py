"""Parse the app's ``kp_record_merged.json`` / ``kp_record_new.json`` (notes §1.2) into per-frame arrays.

Schema: ``{"00012": {"2D_keypoint": [[vid, [x, y]], ...], "<keypoint name>": vid, ...}, ...,
"object_scale": s, "is_static_object": b, "start_frame_index": i}`` or ``{"status": "delete"}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hoi_sim import keypoints
from hoi_sim.errors import InputError
from hoi_sim.recon.types import MIN_DOF, NUM_KEYPOINTS

META_KEYS = ("object_scale", "is_static_object", "start_frame_index")


@dataclass
class Annotations:
    """Parsed annotations over absolute frames [start, end) (end exclusive).

    ``contact_vertex [T,87]`` int64 (−1 none), ``track_vertex [T,M]`` int64 (−1 pad), ``track_xy [T,M,2]`` (NaN pad),
    ``legacy``: every name is one of release A's 74.
    """

    start: int
    end: int
    contact_vertex: np.ndarray
    track_vertex: np.ndarray
    track_xy: np.ndarray
    object_scale: float
    static: bool
    legacy: bool

    def dof(self) -> np.ndarray:
        """[T] 3·#pairs + 2·#points per frame."""
        return 3 * (self.contact_vertex >= 0).sum(1) + 2 * (self.track_vertex >= 0).sum(1)


def _frame_index(key: str, path: Path) -> int:
    if not key.isdigit():
        raise InputError(f"{path}: unexpected top-level key {key!r} (frame keys are 5-digit numbers)")
    return int(key)


_Frame = tuple[dict[int, int], list[tuple[int, float, float]]]
"""One frame's annotations: (keypoint row → object vertex, [(vertex, x, y)] 2D track points)."""


def _frame_entries(data: Any, path: Path, num_frames: int) -> dict[int, dict]:
    """Frame index → its entry, checking the top level (an object, not deleted, frame keys below ``num_frames``)."""
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object at the top level, got {type(data).__name__}")
    if data.get("status") == "delete":
        raise InputError(f"{path}: the session is marked deleted (status: delete)")
    frames: dict[int, dict] = {}
    for key, value in data.items():
        if key in META_KEYS:
            continue
        f = _frame_index(key, path)
        if not isinstance(value, dict):
            raise InputError(f"{path}: frame {key}: expected an object, got {type(value).__name__}")
        if f >= num_frames:
            raise InputError(f"{path}: frame {key} is beyond the video's {num_frames} frames")
        frames[f] = value
    if not frames:
        raise InputError(f"{path}: no frame entries")
    return frames


def _object_fields(data: dict, path: Path) -> tuple[float, bool]:
    """(``object_scale`` > 0, ``is_static_object``) with their defaults 1.0 and false."""
    object_scale = data.get("object_scale", 1.0)
    if isinstance(object_scale, bool) or not isinstance(object_scale, (int, float)) or not math.isfinite(object_scale):
        raise InputError(f"{path}: field 'object_scale' must be a number, got {object_scale!r}")
    if object_scale <= 0:
        raise InputError(f"{path}: field 'object_scale' must be positive, got {object_scale}")
    static = data.get("is_static_object", False)
    if not isinstance(static, bool):
        raise InputError(f"{path}: field 'is_static_object' must be true or false, got {static!r}")
    return float(object_scale), static


def _track_points(value: Any, where: str, num_vertices: int, image_size: tuple[int, int]
                  ) -> list[tuple[int, float, float]]:
    """A frame's ``2D_keypoint`` list ``[[vertex, [x, y]], ...]`` as (vertex, x, y) tuples."""
    H, W = image_size
    if not isinstance(value, list):
        raise InputError(f"{where}: '2D_keypoint' must be a list")
    points: list[tuple[int, float, float]] = []
    for j, item in enumerate(value):
        ok = (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[1], (list, tuple))
              and len(item[1]) == 2)
        if not ok:
            raise InputError(f"{where}: 2D_keypoint[{j}] must be [vertex, [x, y]]")
        vid = _vertex(item[0], num_vertices, f"{where}: 2D_keypoint[{j}]")
        try:
            x, y = float(item[1][0]), float(item[1][1])
        except (TypeError, ValueError):
            raise InputError(f"{where}: 2D_keypoint[{j}] pixel is not numeric") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise InputError(f"{where}: 2D_keypoint[{j}] pixel is not finite")
        if not (-W <= x <= 2 * W and -H <= y <= 2 * H):
            raise InputError(f"{where}: 2D_keypoint[{j}] pixel ({x:.1f}, {y:.1f}) far outside the {W}x{H} image")
        points.append((vid, x, y))
    return points


def _parse_frame(entry: dict, where: str, num_vertices: int, image_size: tuple[int, int]) -> tuple[_Frame, bool]:
    """One frame's 3D pairs and 2D points, and whether every keypoint it names is one of release A's."""
    row_of = {n: i for i, n in enumerate(keypoints.names())}
    pairs: dict[int, int] = {}
    points: list[tuple[int, float, float]] = []
    legacy = True
    for name, value in entry.items():
        if name == "2D_keypoint":
            points.extend(_track_points(value, where, num_vertices, image_size))
        elif name in row_of:
            pairs[row_of[name]] = _vertex(value, num_vertices, f"{where}: keypoint {name!r}")
            legacy &= row_of[name] < keypoints.NUM_LEGACY_KEYPOINTS
        else:
            raise InputError(f"{where}: unknown keypoint name {name!r} (not one of the 87 Open4DHOI keypoints)")
    return (pairs, points), legacy


def _frame_range(data: dict, path: Path, per_frame: dict[int, _Frame], drop_last_frame: bool) -> tuple[int, int]:
    """[start, end): ``start_frame_index`` (else the first annotated frame) to the last key (+ 1 unless dropped)."""
    annotated = [f for f, (p, q) in per_frame.items() if p or q]
    start = data.get("start_frame_index", min(annotated) if annotated else min(per_frame))
    if isinstance(start, bool) or not isinstance(start, int) or start < 0:
        raise InputError(f"{path}: field 'start_frame_index' must be a non-negative integer, got {start!r}")
    last = max(per_frame)
    end = last if drop_last_frame else last + 1
    if start >= end:
        raise InputError(f"{path}: empty frame range: start_frame_index {start} ≥ end {end}")
    return start, end


def _pack(per_frame: dict[int, _Frame], start: int, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frames [start, end) as (contact_vertex [T,87], track_vertex [T,M], track_xy [T,M,2]) with −1 / NaN pads."""
    T = end - start
    M = max((len(per_frame.get(f, ({}, []))[1]) for f in range(start, end)), default=0)
    contact = np.full((T, NUM_KEYPOINTS), -1, dtype=np.int64)
    track_vertex = np.full((T, M), -1, dtype=np.int64)
    track_xy = np.full((T, M, 2), np.nan)
    for f in range(start, end):
        pairs, points = per_frame.get(f, ({}, []))
        for row, vid in pairs.items():
            contact[f - start, row] = vid
        for j, (vid, x, y) in enumerate(points):
            track_vertex[f - start, j] = vid
            track_xy[f - start, j] = (x, y)
    return contact, track_vertex, track_xy


def _check_dof(ann: Annotations, path: Path, min_dof: int) -> None:
    dof = ann.dof()
    bad = np.flatnonzero(dof < min_dof)
    if bad.size:
        shown = ", ".join(f"{ann.start + i:05d} (DoF {int(dof[i])})" for i in bad[:5])
        more = f" and {bad.size - 5} more" if bad.size > 5 else ""
        raise InputError(f"{path}: {bad.size} frame(s) have DoF < {min_dof} (3 per 3D pair + 2 per 2D point): "
                         f"{shown}{more}")


def parse_annotations(data: Any, path: Path, *, num_frames: int, num_vertices: int, image_size: tuple[int, int],
                      drop_last_frame: bool = False, min_dof: int = MIN_DOF) -> Annotations:
    """Validate and convert one annotation file.

    ``num_frames``: frames of the video (frame keys must lie below it); ``num_vertices``: object vertex count (indices
    must lie below it); ``image_size`` (H, W) for a sanity bound on 2D points (points may sit slightly outside).
    The frame range is [start_frame_index (else the first annotated frame), last key + 1), or last key exclusive
    with ``drop_last_frame`` (release A's solver). Every frame in the range must have DoF ≥ ``min_dof``.
    """
    frames = _frame_entries(data, path, num_frames)
    object_scale, static = _object_fields(data, path)
    per_frame: dict[int, _Frame] = {}
    legacy = True
    for f, entry in frames.items():
        per_frame[f], frame_legacy = _parse_frame(entry, f"{path}: frame {f:05d}", num_vertices, image_size)
        legacy &= frame_legacy
    start, end = _frame_range(data, path, per_frame, drop_last_frame)
    ann = Annotations(start, end, *_pack(per_frame, start, end), object_scale, static, legacy)
    _check_dof(ann, path, min_dof)
    return ann


def _vertex(value: Any, num_vertices: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(f"{where}: object vertex index must be an integer, got {value!r}")
    if not 0 <= value < num_vertices:
        raise InputError(f"{where}: object vertex index {value} out of range [0, {num_vertices})")
    return value


def to_json(contact_vertex: np.ndarray, track_vertex: np.ndarray, track_xy: np.ndarray, *, start: int,
            object_scale: float = 1.0, static: bool = False, leading_empty_frames: bool = True) -> dict:
    """Inverse of :func:`parse_annotations`: the app's ``kp_record_merged.json`` dict for frames [start, start+T).

    With ``leading_empty_frames`` the frames 0..start−1 are written as ``{"2D_keypoint": []}`` like the app does.
    """
    names = keypoints.names()
    out: dict[str, Any] = {}
    if leading_empty_frames:
        for f in range(start):
            out[f"{f:05d}"] = {"2D_keypoint": []}
    for i in range(contact_vertex.shape[0]):
        valid = track_vertex[i] >= 0
        entry: dict[str, Any] = {"2D_keypoint": [[int(v), [float(p[0]), float(p[1])]]
                                                 for v, p in zip(track_vertex[i][valid], track_xy[i][valid])]}
        for row in np.flatnonzero(contact_vertex[i] >= 0):
            entry[names[row]] = int(contact_vertex[i, row])
        out[f"{start + i:05d}"] = entry
    out.update({"object_scale": float(object_scale), "is_static_object": bool(static), "start_frame_index": start})
    return out
