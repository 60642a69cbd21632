"""Ingest an annotation-app session folder (release A or B layout, notes §1 and §7) into a :class:`SolverInput`.

Layout detection: **B** when ``output/obj_poses.json`` or ``motion/result_hand.pt`` exists, else **A**.

* object pose: A ``align/obj_poses.json`` = ``{"center": [[x,y,z]]×N, "scale", "rotation"?}``;
  B ``output/obj_poses.json`` = ``{"scale", "t"}``.
* motion: A ``motion/result.pt`` (+ optional ``motion/hand_pose.json``); B ``motion/result_hand.pt`` (hands inside).
* masks: ``mask_dir/`` and ``human_mask_dir/``, files ``NNNNN_mask.png`` (A) or ``NNNNN.png`` (B).
* annotations: ``kp_record_new.json`` (B, indices mapped to the full mesh) else ``kp_record_merged.json``.

Either pose file form is accepted in either place. A per-frame ``rotation`` (A's optional key) initialises the
object rotation when present (the released solver ignores it and starts stage 1 from identity).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hoi_sim import keypoints
from hoi_sim.errors import InputError
from hoi_sim.recon import session_io as sio
from hoi_sim.recon.annotations import parse_annotations
from hoi_sim.recon.types import MIN_DOF, SMPLX_FIELDS, ObjectMesh, SmplxParams, SolverInput

B_DECIMATION_VERTEX_LIMIT = 30000
MAX_ABS_TRANSLATION_M = 1e3
"""Largest plausible |coordinate| (m) of an object centre, an SMPL-X translation or a scaled mesh vertex."""
MAX_SCALE = 1e3
"""Largest plausible object scale (``obj_poses.json`` 'scale', the annotations' 'object_scale')."""
MAX_ABS_PARAM = 1e3
"""Largest plausible |value| of any other SMPL-X parameter (radians, shape coefficients)."""


def check_magnitude(a: np.ndarray, limit: float, where: str) -> np.ndarray:
    """``a`` when every |value| ≤ ``limit``; else ``InputError`` naming ``where`` and the first index beyond it
    (finite but absurd values, e.g. 1e300, overflow later and poison every output)."""
    big = np.argwhere(np.abs(a) > limit)
    if len(big):
        i = tuple(int(x) for x in big[0])
        raise InputError(f"{where}: value {float(a[i]):.3g} at index {i} is beyond ±{limit:g}")
    return a
"""Release B's annotator picks on a decimated mesh when the mesh has more vertices than this (notes §1.2)."""


@dataclass
class SessionFiles:
    """Where each input of a session folder is (None: absent)."""

    folder: Path
    layout: str
    video: Path | None
    mesh: Path | None
    obj_poses: Path | None
    motion: Path | None
    hand_json: Path | None
    annotations: Path | None
    mask_dir: Path | None
    human_mask_dir: Path | None
    missing: list[str] = field(default_factory=list)
    """Required files that are absent, as relative paths (alternatives joined with ' or ')."""


def _first(folder: Path, *names: str) -> Path | None:
    for n in names:
        if (folder / n).exists():
            return folder / n
    return None


def locate(folder: str | Path) -> SessionFiles:
    """Find a session's files and list the required ones that are missing (never raises for missing files)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: session folder not found")
    layout = "B" if (folder / "output/obj_poses.json").exists() or (folder / "motion/result_hand.pt").exists() else "A"
    files = SessionFiles(
        folder=folder, layout=layout,
        video=_first(folder, "video.mp4"),
        mesh=_first(folder, "obj_org.obj"),
        obj_poses=_first(folder, "output/obj_poses.json", "align/obj_poses.json"),
        motion=_first(folder, "motion/result_hand.pt", "motion/result.pt"),
        hand_json=_first(folder, "motion/hand_pose.json"),
        annotations=_first(folder, "kp_record_new.json", "kp_record_merged.json"),
        mask_dir=_first(folder, "mask_dir"),
        human_mask_dir=_first(folder, "human_mask_dir"),
    )
    wanted = [("video", "video.mp4"), ("mesh", "obj_org.obj"),
              ("obj_poses", "output/obj_poses.json or align/obj_poses.json"),
              ("motion", "motion/result_hand.pt or motion/result.pt"),
              ("annotations", "kp_record_merged.json")]
    files.missing = [label for attr, label in wanted if getattr(files, attr) is None]
    return files


def missing_files(folder: str | Path) -> list[str]:
    """Required session files that are absent (relative paths; empty when the session is complete)."""
    return locate(folder).missing


def load_mesh(path: Path, scale: float, user_scale: float) -> ObjectMesh:
    """OBJ → the app's centred object: × scale (0 → 1), minus the mean, × user_scale."""
    v, f, c = sio.read_obj(path)
    s = 1.0 if scale == 0 else scale
    v = check_magnitude(v * s, MAX_ABS_TRANSLATION_M, f"{path}: vertices (× scale {s:g})")
    centroid = v.mean(axis=0)
    centred = check_magnitude((v - centroid) * user_scale, MAX_ABS_TRANSLATION_M,
                              f"{path}: vertices (× object_scale {user_scale:g})")
    return ObjectMesh(vertices=centred, faces=f, scale=s, user_scale=user_scale, raw_centroid=centroid, colors=c)


def read_obj_poses(path: Path, num_frames: int) -> tuple[float, np.ndarray, np.ndarray | None]:
    """``obj_poses.json`` → (scale, per-frame centre [N,3] in the camera frame, per-frame rotation [N,3,3] | None)."""
    data = sio.read_json(path)
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    scale = data.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not np.isfinite(scale):
        raise InputError(f"{path}: field 'scale' must be a number, got {scale!r}")
    if scale < 0 or scale > MAX_SCALE:
        raise InputError(f"{path}: field 'scale' must be in [0, {MAX_SCALE:g}], got {scale}")
    if "center" in data:
        center = check_magnitude(sio.as_float_array(data["center"], (None, 3), f"{path}: field 'center'"),
                                 MAX_ABS_TRANSLATION_M, f"{path}: field 'center'")
        if center.shape[0] != num_frames:
            raise InputError(f"{path}: field 'center' has {center.shape[0]} frames, the video has {num_frames}")
    elif "t" in data:
        t = check_magnitude(sio.as_float_array(data["t"], (3,), f"{path}: field 't'"), MAX_ABS_TRANSLATION_M,
                            f"{path}: field 't'")
        center = np.repeat(t[None], num_frames, axis=0)
    else:
        raise InputError(f"{path}: needs field 't' (release B) or 'center' (release A)")
    rot = None
    if "rotation" in data:
        rot = sio.as_float_array(data["rotation"], (None, 3, 3), f"{path}: field 'rotation'")
        if rot.shape[0] != num_frames:
            raise InputError(f"{path}: field 'rotation' has {rot.shape[0]} frames, the video has {num_frames}")
        err = np.abs(np.einsum("nij,nkj->nik", rot, rot) - np.eye(3)).max(axis=(1, 2))
        if (err > 1e-3).any():
            raise InputError(f"{path}: field 'rotation' frame {int(np.argmax(err > 1e-3))} is not a rotation matrix")
    return float(scale), center, rot


def _smplx_dict(d: object, path: Path, key: str, num_frames: int, hands: bool) -> SmplxParams:
    if not isinstance(d, dict):
        raise InputError(f"{path}: field {key!r} missing or not a dict")
    vals = {}
    for name, width in SMPLX_FIELDS.items():
        if name not in d:
            if name.endswith("hand_pose") and not hands:
                vals[name] = np.zeros((num_frames, width))
                continue
            raise InputError(f"{path}: field '{key}.{name}' is missing")
        a = np.asarray(d[name], dtype=np.float64)
        if a.ndim == 3 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim == 1 and name == "betas" and a.shape[0] == width:
            a = np.repeat(a[None], num_frames, axis=0)
        if a.shape != (num_frames, width):
            raise InputError(f"{path}: field '{key}.{name}' has shape {a.shape}, expected ({num_frames}, {width}) "
                             f"(video frames: {num_frames})")
        bad = np.flatnonzero(~np.isfinite(a).all(axis=1))
        if bad.size:
            raise InputError(f"{path}: field '{key}.{name}' is not finite at frame {int(bad[0])}")
        limit = MAX_ABS_TRANSLATION_M if name == "transl" else MAX_ABS_PARAM
        check_magnitude(a, limit, f"{path}: field '{key}.{name}'")
        vals[name] = a
    return SmplxParams(**vals)


def read_motion(path: Path, num_frames: int, image_size: tuple[int, int]) -> tuple[SmplxParams, SmplxParams | None,
                                                                                      np.ndarray]:
    """GVHMR result file → (incam params, global params | None, K [3,3]). Missing K → GVHMR's estimate."""
    data = sio.read_pt_dict(path)
    hands = path.name == "result_hand.pt"
    incam = _smplx_dict(data.get("smpl_params_incam"), path, "smpl_params_incam", num_frames, hands)
    glob = None
    if "smpl_params_global" in data:
        glob = _smplx_dict(data["smpl_params_global"], path, "smpl_params_global", num_frames, hands)
    H, W = image_size
    if "K_fullimg" in data:
        K = np.asarray(data["K_fullimg"], dtype=np.float64)
        if K.ndim == 3 and K.shape[1:] == (3, 3) and K.shape[0] >= 1:
            K = K[0]
        if K.shape != (3, 3):
            raise InputError(f"{path}: field 'K_fullimg' has shape {np.shape(data['K_fullimg'])}, expected (N, 3, 3)")
        if not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0 or abs(K[2, 2] - 1) > 1e-6:
            raise InputError(f"{path}: field 'K_fullimg' frame 0 is not a valid pinhole matrix")
    else:
        f = float(np.hypot(W, H))
        K = np.array([[f, 0, W / 2], [0, f, H / 2], [0, 0, 1.0]])
    return incam, glob, K


def _masks(folder: Path | None, start: int, T: int, size: tuple[int, int],
           load: bool) -> tuple[np.ndarray | None, list[Path | None] | None]:
    if folder is None:
        return None, None
    paths: list[Path | None] = []
    for f in range(start, start + T):
        paths.append(_first(folder, f"{f:05d}_mask.png", f"{f:05d}.png"))
    if not load:
        return None, paths
    arr = np.zeros((T, *size), dtype=bool)
    for i, p in enumerate(paths):
        if p is not None:
            arr[i] = sio.read_mask(p, size)
    return arr, paths


def _user_scale(ann_data: object, path: Path) -> float:
    """The annotations' ``object_scale`` (absent, null or ≤ 0: 1, as the app does); ``InputError`` beyond
    :data:`MAX_SCALE` or not finite."""
    value = ann_data.get("object_scale", 1.0) if isinstance(ann_data, dict) else 1.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return 1.0
    if not np.isfinite(value) or value > MAX_SCALE:
        raise InputError(f"{path}: field 'object_scale' must be at most {MAX_SCALE:g}, got {value}")
    return float(value)


def load_session(folder: str | Path, *, load_masks: bool = True, drop_last_frame: bool = False,
                 min_dof: int = MIN_DOF) -> SolverInput:
    """Read a session folder into a validated :class:`SolverInput` (frames [start, end) of the annotations).

    Raises :class:`InputError` (one line, naming file, field and frame) on any malformed or missing input; when
    required files are missing the message lists them all, after what could be read (video, mesh).
    """
    files = locate(folder)
    if files.missing:
        raise InputError(describe_missing(files))
    video = sio.read_video_info(files.video)
    N, size = video.num_frames, (video.height, video.width)
    scale, center, rot = read_obj_poses(files.obj_poses, N)
    ann_data = sio.read_json(files.annotations)
    mesh = load_mesh(files.mesh, scale, _user_scale(ann_data, files.annotations))
    if (files.layout == "B" and files.annotations.name == "kp_record_merged.json"
            and mesh.num_vertices > B_DECIMATION_VERTEX_LIMIT):
        raise InputError(f"{files.annotations}: release-B indices refer to a decimated mesh ({mesh.num_vertices} "
                         f"vertices > {B_DECIMATION_VERTEX_LIMIT}); provide kp_record_new.json with full-mesh indices")
    ann = parse_annotations(ann_data, files.annotations, num_frames=N, num_vertices=mesh.num_vertices,
                            image_size=size, drop_last_frame=drop_last_frame, min_dof=min_dof)
    incam, glob, K = read_motion(files.motion, N, size)
    if files.layout == "A" and files.hand_json is not None:
        from hoi_sim.recon.hands import merge_hand_pose_json

        incam = merge_hand_pose_json(incam, sio.read_json(files.hand_json), files.hand_json)
    sl = slice(ann.start, ann.end)
    T = ann.end - ann.start
    R0 = rot[sl] if rot is not None else np.repeat(np.eye(3)[None], T, axis=0)
    obj_masks, obj_paths = _masks(files.mask_dir, ann.start, T, size, load_masks)
    hum_masks, hum_paths = _masks(files.human_mask_dir, ann.start, T, size, load_masks)
    legacy = files.layout == "A" and ann.legacy
    inp = SolverInput(
        num_frames=T, image_size=size, fps=video.fps, K=K, start_frame=ann.start, video_num_frames=N,
        object=mesh, static=ann.static, obj_R_init=R0, obj_t_init=center[sl].copy(),
        human_incam=incam.slice(sl), human_global=glob.slice(sl) if glob is not None else None,
        contact_vertex=ann.contact_vertex, keypoint_vertices=keypoints.smplx_vertices(legacy=legacy),
        track_vertex=ann.track_vertex, track_xy=ann.track_xy,
        object_masks=obj_masks, human_masks=hum_masks, object_mask_paths=obj_paths, human_mask_paths=hum_paths,
        cam_to_world=_cam_to_world(files.folder), legacy_keypoints=legacy, session_dir=files.folder,
        layout=files.layout,
        provenance={"session": str(files.folder), "layout": files.layout,
                    "files": {k: str(getattr(files, k).relative_to(files.folder)) for k in
                              ("video", "mesh", "obj_poses", "motion", "annotations", "hand_json", "mask_dir",
                               "human_mask_dir") if getattr(files, k) is not None},
                    "frame_range": [ann.start, ann.end], "drop_last_frame": drop_last_frame,
                    "init_rotation": "obj_poses.rotation" if rot is not None else "identity"},
    )
    inp.validate(str(files.folder))
    return inp


def _cam_to_world(folder: Path) -> np.ndarray | None:
    """Static camera-to-world [4,4] from a synthetic session's ``camera.json`` (absent in app sessions)."""
    p = folder / "camera.json"
    if not p.is_file():
        return None
    data = sio.read_json(p)
    if not isinstance(data, dict) or "cam_to_world" not in data:
        raise InputError(f"{p}: field 'cam_to_world' is missing")
    M = sio.as_float_array(data["cam_to_world"], (4, 4), f"{p}: field 'cam_to_world'")
    return M


@dataclass
class PartialSession:
    """What could be read from an incomplete session (None where absent or unreadable, with the reason)."""

    files: SessionFiles
    video: sio.VideoInfo | None = None
    mesh: ObjectMesh | None = None
    obj_scale: float | None = None
    obj_center: np.ndarray | None = None
    """[N,3] initial object centre per frame (camera frame), when ``obj_poses.json`` and the video were read."""
    problems: list[str] = field(default_factory=list)


def read_partial(folder: str | Path) -> PartialSession:
    """Ingest as far as the files allow (video, mesh, object pose); never raises for missing or bad files."""
    files = locate(folder)
    out = PartialSession(files=files)
    if files.video is not None:
        try:
            out.video = sio.read_video_info(files.video)
        except InputError as exc:
            out.problems.append(str(exc))
    if files.obj_poses is not None and out.video is not None:
        try:
            out.obj_scale, out.obj_center, _ = read_obj_poses(files.obj_poses, out.video.num_frames)
        except InputError as exc:
            out.problems.append(str(exc))
    if files.mesh is not None:
        try:
            out.mesh = load_mesh(files.mesh, out.obj_scale or 1.0, 1.0)
        except InputError as exc:
            out.problems.append(str(exc))
    return out


def describe_missing(files: SessionFiles) -> str:
    """One line: what was read (video frames/size, mesh) and which required files are missing."""
    part = read_partial(files.folder)
    read = []
    if part.video is not None:
        read.append(f"video {part.video.num_frames} frames {part.video.width}x{part.video.height}")
    if part.mesh is not None:
        read.append(f"mesh {part.mesh.num_vertices} vertices {len(part.mesh.faces)} faces")
    read += [f"unreadable: {p}" for p in part.problems]
    head = f"session {files.folder} is missing: {', '.join(files.missing)}"
    return head + (f" (read: {', '.join(read)})" if read else "")
