"""Headless mp4 videos of a rollout (or a motion file) with the reference as a ghost.

Rendering uses MuJoCo's offscreen renderer (``mujoco.Renderer``); the GL platform comes from ``MUJOCO_GL``
(``egl`` or ``osmesa``). When it is unset, :func:`ensure_gl` picks ``egl`` if libEGL is present, else ``osmesa``;
it must run before ``mujoco`` creates its first GL context. Frames are encoded with imageio + imageio-ffmpeg
(H.264) into a temp file renamed over the target.
"""

from __future__ import annotations

import ctypes.util
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hoi_sim.errors import HoiSimError
from hoi_sim.io_utils import atomic_path
from hoi_sim.viz.scene import GhostScene, Pose


def ensure_gl() -> str:
    """Make MuJoCo's offscreen renderer use a headless GL platform; returns the platform in use.

    ``MUJOCO_GL`` wins when set. Otherwise ``egl`` is chosen if libEGL is present, else ``osmesa``. MuJoCo binds its
    GL context class when it is first imported; if that happened with no ``MUJOCO_GL`` (GLFW, which needs a
    display) the headless class is swapped in on ``mujoco.rendering.classic.gl_context``, which ``Renderer`` reads
    at construction.
    """
    chosen = os.environ.get("MUJOCO_GL", "").lower().strip()
    if not chosen:
        chosen = "egl" if ctypes.util.find_library("EGL") else "osmesa"
        os.environ["MUJOCO_GL"] = chosen
    if chosen == "osmesa":
        os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")
    import sys

    if "mujoco" in sys.modules and chosen in ("egl", "osmesa"):
        from mujoco.rendering.classic import gl_context

        if getattr(gl_context, "_MUJOCO_GL", chosen) != chosen:
            try:
                if chosen == "egl":
                    from mujoco.egl import GLContext
                else:
                    from mujoco.osmesa import GLContext
            except ImportError as exc:
                raise HoiSimError(f"cannot use MUJOCO_GL={chosen} for offscreen rendering: {exc}") from None
            gl_context.GLContext = GLContext
            gl_context._MUJOCO_GL = chosen
    return chosen


def poses_from_arrays(root_pos: np.ndarray, root_quat: np.ndarray, dof_pos: np.ndarray, obj_pos: np.ndarray,
                      obj_quat: np.ndarray) -> list[Pose]:
    """Per-frame poses from arrays [T,3], [T,4], [T,153], [T,3], [T,4]."""
    arrs = [np.asarray(a, np.float64) for a in (root_pos, root_quat, dof_pos, obj_pos, obj_quat)]
    return [Pose(*(a[t] for a in arrs)) for t in range(arrs[0].shape[0])]


def motion_poses(motion) -> list[Pose]:
    """The reference poses of a ``HOIMotion``."""
    return poses_from_arrays(motion.root_pos, motion.root_quat, motion.dof_pos, motion.obj_pos, motion.obj_quat)


def render_frames(scene: GhostScene, sim: Sequence[Pose], ref: Sequence[Pose] | None = None, *,
                  width: int = 640, height: int = 480, ghost_offset: Sequence[float] | None = None,
                  distance: float = 3.5, azimuth: float = 135.0, elevation: float = -20.0) -> list[np.ndarray]:
    """Render each frame ([H, W, 3] uint8) with a camera that follows the simulated root.

    ``ref`` (same length as ``sim``) poses the ghost; frames past its end reuse its last pose.
    """
    import mujoco

    ensure_gl()
    renderer = mujoco.Renderer(scene.model, height=height, width=width)
    cam = mujoco.MjvCamera()
    cam.type = mujoco.mjtCamera.mjCAMERA_FREE
    cam.distance, cam.azimuth, cam.elevation = distance, azimuth, elevation
    frames = []
    try:
        for t, pose in enumerate(sim):
            r = None if ref is None or len(ref) == 0 else ref[min(t, len(ref) - 1)]
            scene.set_poses(pose, r, None if ghost_offset is None else np.asarray(ghost_offset))
            cam.lookat[:] = [pose.root_pos[0], pose.root_pos[1], 0.8]
            renderer.update_scene(scene.data, camera=cam)
            frames.append(renderer.render().copy())
    finally:
        renderer.close()
    return frames


def write_mp4(frames: Sequence[np.ndarray], path: str | os.PathLike, fps: float) -> Path:
    """Encode ``frames`` ([H, W, 3] uint8, H and W multiples of 16 for H.264) as an mp4, atomically."""
    import imageio.v2 as imageio

    if not frames:
        raise HoiSimError(f"{path}: no frames to write")
    path = Path(path)
    with atomic_path(path, suffix=".mp4") as tmp:
        writer = imageio.get_writer(tmp, fps=float(fps), codec="libx264", quality=7, macro_block_size=16,
                                    ffmpeg_log_level="error", pixelformat="yuv420p")
        try:
            for f in frames:
                writer.append_data(np.ascontiguousarray(f))
        finally:
            writer.close()
    return path


def render_video(path: str | os.PathLike, sim: Sequence[Pose], ref: Sequence[Pose] | None, fps: float, *,
                 sim_offsets: np.ndarray | None = None, ref_offsets: np.ndarray | None = None,
                 obj_vertices: np.ndarray | None = None, obj_faces: np.ndarray | None = None,
                 ghost_offset: Sequence[float] | None = None, width: int = 640, height: int = 480) -> Path:
    """Render ``sim`` poses (orange) with ``ref`` as a translucent blue ghost into the mp4 ``path``."""
    scene = GhostScene(sim_offsets, ref_offsets if ref_offsets is not None else sim_offsets, obj_vertices,
                       obj_faces, ghost=ref is not None)
    frames = render_frames(scene, sim, ref, width=width, height=height, ghost_offset=ghost_offset)
    return write_mp4(frames, path, fps)


def render_motion_video(motion, path: str | os.PathLike, *, max_frames: int = 0, **kw) -> Path:
    """Kinematic playback of a ``HOIMotion`` (no ghost) into the mp4 ``path``."""
    poses = motion_poses(motion)
    if max_frames > 0:
        poses = poses[:max_frames]
    return render_video(path, poses, None, motion.fps, sim_offsets=motion.skeleton_offsets,
                        obj_vertices=motion.obj_vertices, obj_faces=motion.obj_faces, **kw)


def render_rollout_video(rollout, motion, path: str | os.PathLike, **kw) -> Path:
    """A policy rollout (``hoi_sim.eval.rollout.ClipRollout``) with its reference as the ghost, at the control
    rate; ``motion`` supplies the skeleton and the object mesh."""
    s, r = rollout.sim, rollout.ref
    sim = poses_from_arrays(s["root_pos"], s["root_quat"], s["dof_pos"], s["obj_pos"], s["obj_quat"])
    ref = poses_from_arrays(r["root_pos"], r["root_quat"], r["dof_pos"], r["obj_pos"], r["obj_quat"])
    return render_video(path, sim, ref, rollout.fps, sim_offsets=motion.skeleton_offsets,
                        ref_offsets=motion.skeleton_offsets, obj_vertices=motion.obj_vertices,
                        obj_faces=motion.obj_faces, **kw)
