"""Low-level readers of the annotation app's session files, each raising :class:`InputError` naming file and field.

No pickle is ever loaded: ``.pt`` files go through ``torch.load(..., weights_only=True)``; OBJ files are parsed
here (vertex order kept, as the app's indices need); videos are probed with imageio-ffmpeg.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hoi_sim.errors import InputError


@dataclass(frozen=True)
class VideoInfo:
    """Frame count, size (H, W pixels) and frame rate (Hz) of a session video."""

    num_frames: int
    height: int
    width: int
    fps: float


def read_video_info(path: Path) -> VideoInfo:
    """Probe ``video.mp4`` without decoding more than the header (frame count by ffmpeg's own counter)."""
    import imageio_ffmpeg

    if not path.is_file():
        raise InputError(f"{path}: video file not found")
    try:
        gen = imageio_ffmpeg.read_frames(str(path))
        meta = next(gen)
        gen.close()
        n, _secs = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (RuntimeError, OSError, StopIteration, ValueError) as exc:
        raise InputError(f"{path}: not a readable video ({str(exc).splitlines()[0] if str(exc) else exc})") from None
    w, h = meta.get("size", (0, 0))
    fps = float(meta.get("fps") or 0.0)
    if n <= 0 or w <= 0 or h <= 0:
        raise InputError(f"{path}: video has no frames or no size (frames={n}, size={w}x{h})")
    if not math.isfinite(fps) or fps <= 0:
        fps = 30.0
    return VideoInfo(int(n), int(h), int(w), fps)


def read_json(path: Path) -> Any:
    """Parse a JSON file; InputError on a missing file or bad syntax (with line and column)."""
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None


def read_obj(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read a Wavefront OBJ keeping the file's vertex order.

    Returns ``vertices [V,3]`` float64, ``faces [F,3]`` int64 (0-based; polygons fan-triangulated) and
    ``colors [V,3] | None`` (from ``v x y z r g b`` lines). Texture/normal indices (``f a/b/c``) are ignored.
    """
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    verts: list[list[float]] = []
    cols: list[list[float]] = []
    faces: list[tuple[int, int, int]] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                parts = line.split()
                if not parts:
                    continue
                if parts[0] == "v":
                    try:
                        vals = [float(x) for x in parts[1:]]
                    except ValueError:
                        raise InputError(f"{path}: line {lineno}: bad vertex {line.strip()!r}") from None
                    if len(vals) < 3:
                        raise InputError(f"{path}: line {lineno}: vertex with fewer than 3 coordinates")
                    verts.append(vals[:3])
                    if len(vals) >= 6:
                        cols.append(vals[3:6])
                elif parts[0] == "f":
                    try:
                        idx = [int(tok.split("/")[0]) for tok in parts[1:]]
                    except ValueError:
                        raise InputError(f"{path}: line {lineno}: bad face {line.strip()!r}") from None
                    if len(idx) < 3:
                        raise InputError(f"{path}: line {lineno}: face with fewer than 3 vertices")
                    n = len(verts)
                    idx = [i - 1 if i > 0 else n + i for i in idx]
                    for k in range(1, len(idx) - 1):
                        faces.append((idx[0], idx[k], idx[k + 1]))
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    if not verts or not faces:
        raise InputError(f"{path}: empty mesh ({len(verts)} vertices, {len(faces)} faces)")
    v = np.asarray(verts, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if not np.isfinite(v).all():
        raise InputError(f"{path}: vertex {int(np.flatnonzero(~np.isfinite(v).all(1))[0])} is not finite")
    if f.min() < 0 or f.max() >= len(v):
        raise InputError(f"{path}: face index out of range [1, {len(v)}]")
    c = np.asarray(cols, dtype=np.float64) if len(cols) == len(verts) else None
    return v, f, c


def write_obj(path: Path, vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None = None) -> None:
    """Write a triangle mesh as OBJ (``v x y z [r g b]``, 1-based faces), atomically."""
    from hoi_sim.io_utils import atomic_path

    lines = []
    for i, v in enumerate(np.asarray(vertices, dtype=np.float64)):
        s = f"v {v[0]:.6f} {v[1]:.6f} {v[2]:.6f}"
        if colors is not None:
            c = colors[i]
            s += f" {c[0]:.6f} {c[1]:.6f} {c[2]:.6f}"
        lines.append(s)
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in np.asarray(faces, dtype=np.int64)]
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")


def read_pt_dict(path: Path) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` of a GVHMR-style result file; tensors become float64 numpy arrays."""
    import torch

    if not path.is_file():
        raise InputError(f"{path}: file not found")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt/unsafe files
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: cannot load with torch.load(weights_only=True): {msg[:160]}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a dict at the top level, got {type(data).__name__}")
    return _to_numpy(data)


def _to_numpy(obj: Any) -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().double().numpy() if obj.is_floating_point() else obj.detach().cpu().numpy()
    if isinstance(obj, dict):
        return {str(k): _to_numpy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        try:
            return np.asarray([_to_numpy(v) for v in obj], dtype=np.float64)
        except (ValueError, TypeError):
            return [_to_numpy(v) for v in obj]
    return obj


def read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """8-bit grayscale (or RGB) mask → [H,W] bool (value > 127). ``size`` = (H, W) it must have."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            a = np.asarray(im.convert("L"))
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"{path}: not a readable image ({exc})") from None
    if a.shape != tuple(size):
        raise InputError(f"{path}: mask is {a.shape[1]}x{a.shape[0]}, video is {size[1]}x{size[0]} (W x H)")
    return a > 127


def write_mask(path: Path, mask: np.ndarray) -> None:
    """[H,W] bool → 8-bit 0/255 grayscale PNG."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").save(path)


def as_float_array(value: Any, shape: tuple[int | None, ...], where: str) -> np.ndarray:
    """Convert a JSON/array value to float64 with the given shape (None = any length); InputError on mismatch."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise InputError(f"{where}: not a numeric array") from None
    if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
        want = "x".join("N" if s is None else str(s) for s in shape)
        raise InputError(f"{where}: shape {a.shape}, expected {want}")
    if not np.isfinite(a).all():
        bad = np.argwhere(~np.isfinite(a))[0]
        raise InputError(f"{where}: non-finite value at index {tuple(int(i) for i in bad)}")
    return a
