"""Synthetic annotation sessions with ground truth, from a :class:`~hoi_sim.motions.HOIMotion`.

The session is written in the annotation app's release-B layout (notes §7) so that ingest reads it like a real one:
``video.mp4`` (preview render), ``obj_org.obj``, ``output/obj_poses.json`` (``{"scale", "t"}``: one noisy
translation), ``motion/result_hand.pt`` (incam + global SMPL-X with hands, ``K_fullimg``), ``mask_dir/NNNNN.png``,
``human_mask_dir/NNNNN.png`` (visible masks, z-buffered), ``kp_record_merged.json``; plus ``camera.json``
(camera-to-world, z-up world) and ``ground_truth.npz`` (a :class:`~hoi_sim.recon.sequence.HOISequence` in the
camera frame with the chosen contact pairs).

Annotations follow the paper's §9.6 protocol: per frame, keypoints within 0.1 m of the object, nearest object vertex,
sorted by distance, at most 5; 5 object vertices per frame by farthest-point sampling of their projections, tracked
in 2D. The initialisation is the ground truth perturbed by :class:`SynthNoise`: human joint rotations, the single
object translation ``t`` and the object mesh's orientation (``obj_org.obj`` is written rotated by a small random
rotation, as a reconstructed mesh would be).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from hoi_sim import rotations as rot
from hoi_sim.errors import InputError
from hoi_sim.recon.raster import project, rasterize_labels
from hoi_sim.recon.sequence import HOISequence, save_sequence
from hoi_sim.recon.synth_files import SessionData, write_session
from hoi_sim.recon.types import SmplxParams
from hoi_sim.skeleton import (
    NUM_BODIES,
    NUM_SMPLX_JOINTS,
    SMPLX_BODY_POSE,
    SMPLX_JOINT_IDS,
    SMPLX_LEFT_HAND,
    SMPLX_RIGHT_HAND,
)

C_S2H = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
"""SMPL-X axes → humanoid/world axes (docs/contracts.md): ``v_h = C v_s``, ``R_h = C R_s Cᵀ``."""

CONTACT_THRESHOLD_M = 0.1
MAX_PAIRS = 5
NUM_TRACKS = 5


@dataclass
class SynthNoise:
    """Perturbation of the initialisation (standard deviations; angles in degrees, lengths in metres, pixels)."""

    human_pose_deg: float = 5.0
    """RMS rotation per body/hand joint (random axis)."""
    human_root_deg: float = 0.0
    human_transl_m: float = 0.0
    obj_trans_m: float = 0.10
    """RMS norm of the error of the object's initial translation."""
    obj_rot_deg: float = 3.0
    """RMS rotation error of the object mesh's orientation (baked into ``obj_org.obj``)."""
    track_px: float = 0.0
    """Gaussian noise on the 2D track points."""

    @staticmethod
    def none() -> SynthNoise:
        return SynthNoise(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def _body_params(p: SmplxParams, dtype: torch.dtype = torch.float64):  # -> BodyParams
    from hoi_sim.body.base import BodyParams

    return BodyParams.from_numpy(p, dtype=dtype)


def rest_pelvis(body_model) -> np.ndarray:
    """[3] pelvis of ``body_model`` at zero pose, zero transl (m, SMPL-X axes)."""
    z = SmplxParams.zeros(1)
    out = body_model(_body_params(z, body_model_dtype(body_model)))
    return out.joints[0, 0].detach().cpu().numpy().astype(np.float64)


def body_model_dtype(body_model) -> torch.dtype:
    return getattr(body_model, "dtype", torch.float32)


def motion_to_smplx_params(motion, body_model) -> SmplxParams:
    """HOIMotion (humanoid, z-up world) → SMPL-X params whose frame is the same z-up world.

    Local joint rotations: ``R_s = Cᵀ R_h C`` per SMPL-X joint (``skeleton.SMPLX_JOINT_IDS``; jaw/eyes zero);
    global orient ``R_root_h · C`` (maps SMPL-X-axes rest vectors into the world); ``transl`` puts the body model's
    pelvis (joint 0) on the humanoid root: ``transl = root_pos − rest_pelvis(body_model)``. Betas zero.
    """
    T = motion.num_frames
    dof = torch.as_tensor(np.asarray(motion.dof_pos, np.float64)).reshape(T, NUM_BODIES - 1, 3)
    R_local_h = rot.euler_xyz_to_matrix(dof).numpy()  # [T,51,3,3], intrinsic x-y-z
    R_local_s = np.einsum("ji,tbjk,kl->tbil", C_S2H, R_local_h, C_S2H)  # Cᵀ R C
    full = np.zeros((T, NUM_SMPLX_JOINTS, 3))
    for b in range(1, NUM_BODIES):
        full[:, SMPLX_JOINT_IDS[b]] = Rotation.from_matrix(R_local_s[:, b - 1]).as_rotvec()
    R_root = rot.quat_to_matrix(torch.as_tensor(np.asarray(motion.root_quat, np.float64))).numpy()
    go = Rotation.from_matrix(R_root @ C_S2H).as_rotvec()
    transl = np.asarray(motion.root_pos, np.float64) - rest_pelvis(body_model)
    return SmplxParams(global_orient=go, body_pose=full[:, SMPLX_BODY_POSE].reshape(T, 63),
                       left_hand_pose=full[:, SMPLX_LEFT_HAND].reshape(T, 45),
                       right_hand_pose=full[:, SMPLX_RIGHT_HAND].reshape(T, 45),
                       betas=np.zeros((T, 10)), transl=transl)


def transform_params(p: SmplxParams, R: np.ndarray, t: np.ndarray, pelvis_rest: np.ndarray) -> SmplxParams:
    """Express params in a new frame ``x' = R x + t`` (rotation about the pelvis, as SMPL-X does)."""
    out = p.copy()
    out.global_orient = Rotation.from_matrix(R @ Rotation.from_rotvec(p.global_orient).as_matrix()).as_rotvec()
    pelvis = p.transl + pelvis_rest
    out.transl = pelvis @ R.T + t - pelvis_rest
    return out


def look_at_camera(points: np.ndarray, image_size: tuple[int, int], azimuth_deg: float = 0.0,
                   elevation_deg: float = 10.0, margin: float = 1.15) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pinhole camera that sees all ``points [N,3]`` (z-up world).

    K uses GVHMR's estimate (f = image diagonal, principal point at the centre). The camera looks horizontally
    from ``azimuth`` (0 = from +x towards −x... i.e. placed on +x) tilted down by ``elevation``.
    Returns ``K [3,3]``, ``R_wc [3,3]`` (world → camera, OpenCV axes) and the camera centre ``[3]`` (world).
    """
    H, W = image_size
    f = float(np.hypot(W, H))
    K = np.array([[f, 0.0, W / 2], [0.0, f, H / 2], [0.0, 0.0, 1.0]])
    c = 0.5 * (points.min(0) + points.max(0))
    radius = float(np.linalg.norm(points - c, axis=1).max())
    half_fov = np.arctan(0.5 * min(W, H) / f)
    dist = margin * radius / np.sin(half_fov)
    az, el = np.deg2rad(azimuth_deg), np.deg2rad(elevation_deg)
    back = np.array([np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)])
    eye = c + dist * back
    fwd = -back
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    return K, np.stack([right, down, fwd]), eye


def _slice_motion(motion, start: int, stop: int):
    """Frames [start, stop) of a HOIMotion (arrays whose first axis is time are sliced; the rest shared)."""
    import dataclasses

    from hoi_sim.motions.schema import ARRAY_SPECS

    if start == 0 and stop >= motion.num_frames:
        return motion
    sl = slice(start, stop)
    return dataclasses.replace(motion, **{k: getattr(motion, k)[sl] for k, (shape, _) in ARRAY_SPECS.items()
                                          if shape and shape[0] == "T"})


def _perturb_rotvec(aa: np.ndarray, deg: float, rng: np.random.Generator) -> np.ndarray:
    """Compose each [...,3] axis-angle with a random rotation of RMS angle ``deg``."""
    if deg <= 0:
        return aa.copy()
    flat = aa.reshape(-1, 3)
    delta = rng.normal(0.0, np.deg2rad(deg) / np.sqrt(3.0), flat.shape)
    out = (Rotation.from_rotvec(flat) * Rotation.from_rotvec(delta)).as_rotvec()
    return out.reshape(aa.shape)


def select_contacts(keypoints_cam: np.ndarray, obj_verts_cam: np.ndarray, threshold: float = CONTACT_THRESHOLD_M,
                    max_pairs: int = MAX_PAIRS) -> np.ndarray:
    """§9.6 protocol for one frame: ``[87]`` object vertex per keypoint (−1 none), ≤ ``max_pairs`` closest pairs."""
    d, idx = cKDTree(obj_verts_cam).query(keypoints_cam)
    out = np.full(len(keypoints_cam), -1, np.int64)
    cand = np.flatnonzero(d < threshold)
    for k in cand[np.argsort(d[cand], kind="stable")][:max_pairs]:
        out[k] = idx[k]
    return out


def farthest_point_sample(points: np.ndarray, n: int) -> np.ndarray:
    """Indices of ``n`` points chosen by farthest-point sampling (start: farthest from the mean)."""
    if len(points) <= n:
        return np.arange(len(points))
    chosen = [int(np.argmax(np.linalg.norm(points - points.mean(0), axis=1)))]
    dist = np.linalg.norm(points - points[chosen[0]], axis=1)
    for _ in range(n - 1):
        chosen.append(int(np.argmax(dist)))
        dist = np.minimum(dist, np.linalg.norm(points - points[chosen[-1]], axis=1))
    return np.asarray(chosen)


def _tracks(uv: np.ndarray, obj_mask: np.ndarray, n: int) -> np.ndarray:
    """Vertex ids of ``n`` FPS-spread projected vertices, preferring ones on the visible object mask."""
    H, W = obj_mask.shape
    px = np.floor(uv).astype(np.int64)
    inside = (px[:, 0] >= 0) & (px[:, 0] < W) & (px[:, 1] >= 0) & (px[:, 1] < H)
    cand = np.flatnonzero(inside)
    if cand.size == 0:
        return cand
    vis = cand[obj_mask[px[cand, 1], px[cand, 0]]]
    pool = vis if len(vis) >= n else cand
    return pool[farthest_point_sample(uv[pool], n)]


@dataclass
class _CameraTruth:
    """The clip seen by the synthetic camera: ground truth in the camera frame (OpenCV axes)."""

    K: np.ndarray
    R_wc: np.ndarray
    eye: np.ndarray
    pelvis_rest: np.ndarray
    human_c: SmplxParams
    mesh_v: np.ndarray
    """Session mesh: the object in frame-0 camera orientation, then noise-rotated."""
    faces: np.ndarray
    gt_R: np.ndarray
    gt_t: np.ndarray
    kps_c: np.ndarray
    hverts_c: np.ndarray
    hfaces: np.ndarray
    static: bool


@dataclass
class _Annotations:
    contact: np.ndarray
    track_v: np.ndarray
    track_xy: np.ndarray
    masks: np.ndarray
    """[2,T,H,W] bool: visible object, visible human."""


def _posed(body_model, params: SmplxParams):  # -> BodyOutput
    return body_model(_body_params(params, body_model_dtype(body_model)))


def _camera_truth(motion, body_model, image_size: tuple[int, int], azimuth_deg: float | None,
                  elevation_deg: float, static: bool | None, noise: SynthNoise,
                  rng: np.random.Generator) -> _CameraTruth:
    """World (z-up) ground truth, a camera that sees it, and the same truth in that camera's frame."""
    T = motion.num_frames
    world = motion_to_smplx_params(motion, body_model).slice(slice(0, T))
    obj_v = np.asarray(motion.obj_vertices, np.float64)
    obj_v = obj_v - obj_v.mean(0)
    R_obj_w = rot.quat_to_matrix(torch.as_tensor(np.asarray(motion.obj_quat[:T], np.float64))).numpy()
    t_obj_w = np.asarray(motion.obj_pos[:T], np.float64)
    if static is None:
        turn = np.degrees(Rotation.from_matrix(R_obj_w[0].T @ R_obj_w).magnitude()).max()
        static = bool(np.linalg.norm(t_obj_w - t_obj_w[0], axis=1).max() < 0.01 and turn < 1.0)
    verts_w = _posed(body_model, world).vertices.detach().cpu().numpy().astype(np.float64)
    obj_pts = np.einsum("tij,vj->tvi", R_obj_w, obj_v[:: max(1, len(obj_v) // 500)]) + t_obj_w[:, None]
    if azimuth_deg is None:  # look at the person's front at frame 0 (humanoid faces +x of its root)
        fwd = rot.quat_to_matrix(torch.as_tensor(np.asarray(motion.root_quat[0], np.float64))).numpy()[:, 0]
        azimuth_deg = float(np.degrees(np.arctan2(fwd[1], fwd[0]))) + 30.0
    K, R_wc, eye = look_at_camera(np.concatenate([verts_w.reshape(-1, 3)[::7], obj_pts.reshape(-1, 3)]),
                                  image_size, azimuth_deg, elevation_deg)
    t_wc = -R_wc @ eye
    pelvis_rest = rest_pelvis(body_model)
    human_c = transform_params(world, R_wc, t_wc, pelvis_rest)
    R_base = R_wc @ R_obj_w[0]
    R_noise = Rotation.from_rotvec(rng.normal(0, np.deg2rad(noise.obj_rot_deg) / np.sqrt(3), 3)).as_matrix()
    body_c = _posed(body_model, human_c)
    return _CameraTruth(
        K=K, R_wc=R_wc, eye=eye, pelvis_rest=pelvis_rest, human_c=human_c, mesh_v=obj_v @ (R_noise @ R_base).T,
        faces=np.asarray(motion.obj_faces, np.int64),
        gt_R=np.einsum("ij,tjk,kl->til", R_wc, R_obj_w, (R_noise @ R_base).T), gt_t=t_obj_w @ R_wc.T + t_wc,
        kps_c=body_c.keypoints.detach().cpu().numpy().astype(np.float64),
        hverts_c=body_c.vertices.detach().cpu().numpy().astype(np.float64),
        hfaces=body_model.faces.detach().cpu().numpy(), static=static)


def _annotate(truth: _CameraTruth, image_size: tuple[int, int], track_px: float, rng: np.random.Generator,
              contact_threshold_m: float, name: str) -> _Annotations:
    """Render the visible masks and take the §9.6 contact pairs and 2D tracks of every frame."""
    (H, W), T = image_size, len(truth.gt_t)
    ann = _Annotations(contact=np.full((T, 87), -1, np.int64), track_v=np.full((T, NUM_TRACKS), -1, np.int64),
                       track_xy=np.full((T, NUM_TRACKS, 2), np.nan), masks=np.zeros((2, T, H, W), bool))
    for i in range(T):
        ov = truth.mesh_v @ truth.gt_R[i].T + truth.gt_t[i]
        label, _ = rasterize_labels([(ov, truth.faces), (truth.hverts_c[i], truth.hfaces)], truth.K, H, W)
        ann.masks[0, i], ann.masks[1, i] = label == 0, label == 1
        ann.contact[i] = select_contacts(truth.kps_c[i], ov, threshold=contact_threshold_m)
        uv = project(ov, truth.K)
        ids = _tracks(uv, label == 0, NUM_TRACKS)
        ann.track_v[i, : len(ids)] = ids
        ann.track_xy[i, : len(ids)] = uv[ids] + rng.normal(0, track_px, (len(ids), 2)) * (track_px > 0)
    dof = 3 * (ann.contact >= 0).sum(1) + 2 * (ann.track_v >= 0).sum(1)
    if (dof < 6).any():
        raise InputError(f"{name}: frame {int(np.argmax(dof < 6))} has too few annotations (object off screen)")
    return ann


def _initialisation(truth: _CameraTruth, noise: SynthNoise, layout: str, rng: np.random.Generator
                    ) -> tuple[SmplxParams, SmplxParams, np.ndarray, np.ndarray]:
    """What the app's preprocessing would give: (noisy human in the camera frame, the same in GVHMR's y-up world,
    noisy object centres [T,3], camera-to-world [4,4])."""
    human_c = truth.human_c
    T = human_c.transl.shape[0]
    init_c = human_c.copy()
    init_c.body_pose = _perturb_rotvec(human_c.body_pose.reshape(T, 21, 3), noise.human_pose_deg, rng).reshape(T, 63)
    for hand in ("left_hand_pose", "right_hand_pose"):
        setattr(init_c, hand, _perturb_rotvec(getattr(human_c, hand).reshape(T, 15, 3), noise.human_pose_deg,
                                              rng).reshape(T, 45))
    init_c.global_orient = _perturb_rotvec(human_c.global_orient, noise.human_root_deg, rng)
    init_c.transl = human_c.transl + rng.normal(0, noise.human_transl_m / np.sqrt(3), (T, 3))
    n_t = 1 if layout == "B" else T  # B: one translation for all frames; A: a noisy centre per frame
    init_t = np.broadcast_to(truth.gt_t[0] if layout == "B" else truth.gt_t, (n_t, 3)) + rng.normal(
        0, noise.obj_trans_m / np.sqrt(3), (n_t, 3))
    init_t = np.broadcast_to(init_t, (T, 3)).copy()
    # GVHMR's world is y-up: world_yup = Cᵀ world_zup; the camera → that world is Cᵀ·cam_to_world
    cam_to_world = np.eye(4)
    cam_to_world[:3, :3], cam_to_world[:3, 3] = truth.R_wc.T, truth.eye
    R_cg = C_S2H.T @ truth.R_wc.T
    init_g = transform_params(init_c, R_cg, C_S2H.T @ truth.eye, truth.pelvis_rest)
    init_g.body_pose, init_g.betas = init_c.body_pose, init_c.betas
    return init_c, init_g, init_t, cam_to_world


def _preview(masks: np.ndarray) -> np.ndarray:
    """[T,H,W,3] uint8 preview video: grey background, orange object, blue human."""
    video = np.full(masks.shape[1:] + (3,), 90, np.uint8)
    video[masks[0]] = (230, 140, 40)
    video[masks[1]] = (60, 110, 220)
    return video


def _clear_masks(out: Path) -> None:
    """No stale masks from an earlier, longer session."""
    for d in ("mask_dir", "human_mask_dir"):
        for old in (out / d).glob("*.png"):
            old.unlink()


def _sliced(motion, start: int, frames: int | None, layout: str):  # -> HOIMotion
    if not 0 <= start < motion.num_frames:
        raise InputError(f"{motion.name}: start frame {start} outside its {motion.num_frames} frames")
    motion = _slice_motion(motion, start, motion.num_frames if frames is None else start + int(frames))
    if layout not in ("A", "B"):
        raise InputError(f"unknown session layout {layout!r} (expected 'A' or 'B')")
    if motion.num_frames < 1:
        raise InputError(f"{motion.name}: no frames to synthesise")
    return motion


def make_synthetic_session(motion, out_dir: str | Path, *, body_model=None, noise: SynthNoise | None = None,
                           seed: int = 0, frames: int | None = None, start: int = 0,
                           image_size: tuple[int, int] = (256, 256), static: bool | None = None,
                           azimuth_deg: float | None = None, elevation_deg: float = 10.0, file_scale: float = 1.5,
                           layout: str = "B", write_video: bool = True, progress=None,
                           contact_threshold_m: float = CONTACT_THRESHOLD_M) -> Path:
    """Write a complete release-B session for ``motion`` into ``out_dir`` with ``ground_truth.npz`` beside it.

    ``start``/``frames``: use motion frames [start, start+frames) (default all); ``static``: the
    ``is_static_object`` flag (None: set when the object moves less than 1 cm and 1° over the clip);
    ``image_size`` (H, W); ``azimuth_deg`` default: facing the person at frame 0; ``file_scale``:
    ``obj_poses.scale`` (``obj_org.obj`` holds vertices / scale); ``layout``:
    'B' (one noisy object translation) or 'A' (a noisy centre per frame, ``hand_pose.json``);
    ``contact_threshold_m``: keypoints closer than this to an object vertex are paired (§9.6: 0.1 m; a small value
    such as 0.02 gives near-exact correspondences). Returns ``out_dir``.
    """
    from hoi_sim.body.base import BodyParams  # noqa: F401  (fails early when the body package is absent)

    if body_model is None:
        from hoi_sim.body.proxy import ProxyBody

        body_model = ProxyBody(dtype=torch.float64)
    noise = noise or SynthNoise()
    rng = np.random.default_rng(seed)
    out = Path(out_dir)
    motion = _sliced(motion, start, frames, layout)
    T, (H, W) = motion.num_frames, image_size
    say = progress or (lambda msg: None)
    truth = _camera_truth(motion, body_model, image_size, azimuth_deg, elevation_deg, static, noise, rng)
    _clear_masks(out)
    say(f"rendering {T} frames at {W}x{H}")
    ann = _annotate(truth, image_size, noise.track_px, rng, contact_threshold_m, motion.name)
    init_c, init_g, init_t, cam_to_world = _initialisation(truth, noise, layout, rng)
    say(f"writing session to {out} (layout {layout})")
    write_session(out, SessionData(mesh_v=truth.mesh_v, faces=truth.faces, file_scale=file_scale, obj_centers=init_t,
                                   init_c=init_c, init_g=init_g, K=truth.K, contact=ann.contact, track_v=ann.track_v,
                                   track_xy=ann.track_xy, cam_to_world=cam_to_world, masks_obj=ann.masks[0],
                                   masks_hum=ann.masks[1], video=_preview(ann.masks) if write_video else None,
                                   fps=motion.fps, static=truth.static),
                  layout=layout, rng=rng)
    gt = HOISequence(human=truth.human_c, obj_vertices=truth.mesh_v, obj_faces=truth.faces, obj_R=truth.gt_R,
                     obj_t=truth.gt_t, contact_vertex=ann.contact, K=truth.K, fps=motion.fps, start_frame=0,
                     image_size=(H, W), cam_to_world=np.repeat(cam_to_world[None], T, axis=0),
                     meta={"source": "synthetic ground truth", "motion": motion.name, "seed": seed,
                           "noise": asdict(noise), "body_model": getattr(body_model, "name", type(body_model).__name__),
                           "world_up": "z", "layout": layout, "static": truth.static, "motion_start": start,
                           "object_file_scale": file_scale})
    save_sequence(gt, out / "ground_truth.npz")
    return out
