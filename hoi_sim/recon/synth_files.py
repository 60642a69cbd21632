"""Writers of a synthetic session's files in the annotation app's layouts (notes §7): release B (default) and A.

B: ``output/obj_poses.json`` ``{"scale", "t"}``, ``motion/result_hand.pt`` (hands inside), masks ``NNNNN.png``.
A: ``align/obj_poses.json`` ``{"center": per frame, "scale"}``, ``motion/result.pt`` (no hand fields) +
``motion/hand_pose.json`` (HaMeR-like, left hand mirrored), masks ``NNNNN_mask.png``.
Both: ``obj_org.obj``, ``kp_record_merged.json``, ``video.mp4``, ``camera.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from hoi_sim.io_utils import dumps_json, write_text_atomic
from hoi_sim.recon import session_io as sio
from hoi_sim.recon.annotations import to_json
from hoi_sim.recon.hands import joint_global_rotation
from hoi_sim.recon.types import SmplxParams

_MIRROR = np.diag([-1.0, 1.0, 1.0])


@dataclass
class SessionData:
    """Everything a session folder holds, in the camera frame (shapes as in ``SolverInput``; T frames)."""

    mesh_v: np.ndarray
    faces: np.ndarray
    file_scale: float
    obj_centers: np.ndarray
    """[T,3] initial object translation per frame (B writes only row 0 as ``t``)."""
    init_c: SmplxParams
    init_g: SmplxParams
    K: np.ndarray
    contact: np.ndarray
    track_v: np.ndarray
    track_xy: np.ndarray
    cam_to_world: np.ndarray
    masks_obj: np.ndarray
    masks_hum: np.ndarray
    video: np.ndarray | None
    fps: float
    static: bool = False


def _tensors(p: SmplxParams, hands: bool) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v, dtype=torch.float32) for k, v in p.as_dict().items()
            if hands or not k.endswith("hand_pose")}


def hand_pose_json(p: SmplxParams) -> dict[str, dict]:
    """Inverse of :func:`hoi_sim.recon.hands.merge_hand_pose_json`: release A's ``hand_pose.json`` for ``p``."""
    out: dict[str, dict] = {}
    for f in range(p.num_frames):
        entry = {}
        for side, elbow, slot in (("left", 18, 19), ("right", 19, 20)):
            fingers = Rotation.from_rotvec(getattr(p, f"{side}_hand_pose")[f].reshape(15, 3)).as_matrix()
            wrist = Rotation.from_rotvec(p.body_pose[f, 3 * slot: 3 * slot + 3]).as_matrix()
            Rh = joint_global_rotation(p.global_orient[f], p.body_pose[f], elbow) @ wrist
            if side == "left":
                fingers, Rh = _MIRROR @ fingers @ _MIRROR, _MIRROR @ Rh @ _MIRROR
            entry[f"{side}_hand"] = fingers.tolist()
            entry[f"{side}_global_orient"] = Rh.tolist()
        out[str(f)] = entry
    return out


def write_session(out: Path, d: SessionData, *, layout: str = "B", rng: np.random.Generator | None = None) -> None:
    """Write ``d`` into ``out`` in release ``layout`` ('A' or 'B')."""
    rng = rng or np.random.default_rng(0)
    T = d.contact.shape[0]
    offset = rng.normal(0, 0.3, 3)  # raw file centroid: anywhere (ingest centres it)
    sio.write_obj(out / "obj_org.obj", d.mesh_v / d.file_scale + offset, d.faces)
    (out / "motion").mkdir(parents=True, exist_ok=True)
    K_all = torch.as_tensor(np.repeat(d.K[None], T, axis=0), dtype=torch.float32)
    hands = layout == "B"
    result = {"smpl_params_incam": _tensors(d.init_c, hands), "smpl_params_global": _tensors(d.init_g, hands),
              "K_fullimg": K_all}
    if layout == "B":
        poses = {"scale": d.file_scale, "t": d.obj_centers[0].tolist()}
        write_text_atomic(out / "output" / "obj_poses.json", dumps_json(poses))
        torch.save(result, out / "motion" / "result_hand.pt")
        mask_name = "{:05d}.png"
    elif layout == "A":
        poses = {"center": d.obj_centers.tolist(), "scale": d.file_scale}
        write_text_atomic(out / "align" / "obj_poses.json", dumps_json(poses))
        torch.save(result, out / "motion" / "result.pt")
        write_text_atomic(out / "motion" / "hand_pose.json", dumps_json(hand_pose_json(d.init_c)))
        mask_name = "{:05d}_mask.png"
    else:
        raise ValueError(f"unknown layout {layout!r} (expected 'A' or 'B')")
    for i in range(T):
        sio.write_mask(out / "mask_dir" / mask_name.format(i), d.masks_obj[i])
        sio.write_mask(out / "human_mask_dir" / mask_name.format(i), d.masks_hum[i])
    write_text_atomic(out / "kp_record_merged.json", dumps_json(to_json(d.contact, d.track_v, d.track_xy, start=0,
                                                                           static=d.static)))
    write_text_atomic(out / "camera.json", dumps_json({"cam_to_world": d.cam_to_world.tolist(), "world_up": "z",
                                                      "note": "synthetic session: camera (OpenCV) to z-up world"}))
    if d.video is not None:
        write_video_file(out / "video.mp4", d.video, d.fps)


def write_video_file(path: Path, frames: np.ndarray, fps: float) -> None:
    """[T,H,W,3] uint8 → H.264 mp4 (even H and W required by yuv420p), atomically."""
    import imageio_ffmpeg

    T, H, W, _ = frames.shape
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.mp4")
    writer = imageio_ffmpeg.write_frames(str(tmp), (W, H), fps=fps, macro_block_size=1, ffmpeg_log_level="error")
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()
    tmp.replace(path)
