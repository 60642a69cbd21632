"""InterMimic ``.pt`` motions (T × 591 float tensor, 30 fps) ⇄ ``HOIMotion``.

The column layout is ``COLUMNS`` below (reference: InterMimic's ``intermimic.py`` loader). Quaternions are xyzw in
the file and wxyz everywhere else (converted here only). The file's DOF triples are exponential maps of each body's
rotation relative to its parent; on import they become the exact intrinsic x-y-z hinge angles, on export they are
rebuilt from the hinge angles' rotations. The clip's own skeleton (constant bone offsets) is inferred from its body
positions and rotations. Known flaws of released files are refused with a reason unless the caller asks to repair:
an all-zero frame (``drop_frames``) and body positions that do not follow the DOFs (``recompute_positions``).
"""

from __future__ import annotations

import hashlib
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hoi_sim import rotations as rot
from hoi_sim.errors import InputError
from hoi_sim.humanoid.kinematics import dofs_from_local, dofs_to_local_quat, forward_kinematics, local_from_global
from hoi_sim.io_utils import atomic_path
from hoi_sim.motions.graph import graph_from_contacts
from hoi_sim.motions.io import share_mode
from hoi_sim.motions.schema import HOIMotion, make_motion
from hoi_sim.skeleton import BODY_NAMES, NON_ROOT, NUM_BODIES, PARENTS, neutral_offsets

FPS = 30.0
NUM_COLUMNS = 591
COLUMNS: dict[str, slice] = {  # reference/intermimic-notes.md §1.2 (InterMimic's intermimic.py:121-167)
    "root_pos": slice(0, 3),  # root (Pelvis) world position, m, z up
    "root_quat_xyzw": slice(3, 7),  # root world rotation, xyzw (Isaac Gym), unit norm
    "unused_7": slice(7, 9),  # all zeros in every released file
    "dof_expmap": slice(9, 162),  # bodies 1–51 × 3, MJCF body order: exp-map of the rotation relative to the parent
    "body_pos": slice(162, 318),  # world positions of all 52 bodies × 3 (body 0 = root_pos)
    "obj_pos": slice(318, 321),  # object world position (origin: the mesh's vertex centroid), m
    "obj_quat_xyzw": slice(321, 325),  # object world rotation, xyzw
    "unused_325": slice(325, 330),  # all zeros
    "obj_contact": slice(330, 331),  # 1 where any body has label +1
    "contact_label": slice(331, 383),  # per body (52): +1 touches the object, −1 must not touch, 0 don't care
    "body_quat_xyzw": slice(383, 591),  # world rotations of all 52 bodies × 4, xyzw (body 0 = root_quat_xyzw)
}
USED_COLUMNS = np.concatenate([np.arange(NUM_COLUMNS)[s] for k, s in COLUMNS.items() if not k.startswith("unused")])
POS_TOL_M = 1e-3
ROT_TOL_RAD = 1e-3


@dataclass
class ImportedPose:
    """The kinematic content of a ``.pt`` after checks (float64 unless noted), frames as kept.

    frame_ids [T] (index in the file), root_pos [T,3], root_quat [T,4] wxyz, dof_pos [T,153] hinge angles,
    body_pos [T,52,3], body_quat [T,52,4] wxyz, obj_pos [T,3], obj_quat [T,4] wxyz, contact_label [T,52] int8,
    offsets [52,3] (the clip's skeleton), figures: measured errors, recomputed: bodies whose positions were rebuilt.
    """

    frame_ids: np.ndarray
    root_pos: np.ndarray
    root_quat: np.ndarray
    dof_pos: np.ndarray
    body_pos: np.ndarray
    body_quat: np.ndarray
    obj_pos: np.ndarray
    obj_quat: np.ndarray
    contact_label: np.ndarray
    offsets: np.ndarray
    figures: dict
    recomputed: list[str]
    frames_in_file: int


def read_tensor(pt_path: str | os.PathLike) -> np.ndarray:
    """The [T, 591] float64 array of an InterMimic ``.pt``; ``InputError`` (one line, naming the file) otherwise."""
    path = Path(pt_path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise InputError(f"{path}: holds a pickled Python object, not a plain tensor (refused: only tensors are "
                         "loaded, weights_only=True)") from None
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError/EOFError/... for damaged files
        first = (str(exc).strip().splitlines() or ["no details"])[0]
        raise InputError(f"{path}: not a readable torch file, truncated or damaged? ({type(exc).__name__}: "
                         f"{first[:160]})") from None
    if not isinstance(data, torch.Tensor):
        raise InputError(f"{path}: holds a {type(data).__name__}, expected one float tensor of shape (T, "
                         f"{NUM_COLUMNS})")
    if data.dim() != 2 or data.shape[1] != NUM_COLUMNS or not data.is_floating_point():
        raise InputError(f"{path}: tensor of shape {tuple(data.shape)} and dtype {data.dtype}, expected a float "
                         f"tensor of shape (T, {NUM_COLUMNS})")
    if data.shape[0] < 1:
        raise InputError(f"{path}: the tensor has no frames")
    return data.detach().to(torch.float64).numpy()


def _column_where(col: int) -> str:
    for key, s in COLUMNS.items():
        if s.start <= col < s.stop:
            i = col - s.start
            if key == "body_pos":
                return f"body {BODY_NAMES[i // 3]!r} position"
            if key == "body_quat_xyzw":
                return f"body {BODY_NAMES[i // 4]!r} rotation"
            if key == "dof_expmap":
                return f"body {BODY_NAMES[1 + i // 3]!r} DOFs"
            if key == "contact_label":
                return f"body {BODY_NAMES[i]!r} contact label"
            return key.removesuffix("_xyzw").replace("_", " ")
    return f"column {col}"


def _drop(data: np.ndarray, path: Path, drop_frames: tuple[int, ...] | list[int]) -> tuple[np.ndarray, np.ndarray]:
    T = data.shape[0]
    drop = {int(f) + T if int(f) < 0 else int(f) for f in drop_frames}
    bad = sorted(f for f in drop if not 0 <= f < T)
    if bad:
        raise InputError(f"{path}: cannot drop frame(s) {bad}: the file has {T} frames")
    keep = np.array([f for f in range(T) if f not in drop], np.int64)
    if len(keep) == 0:
        raise InputError(f"{path}: dropping frames {sorted(drop)} leaves no frames")
    return data[keep], keep


def _robust_offset(local: np.ndarray, b: int) -> np.ndarray:
    """Bone offset of a body whose stored positions are unreliable: median over frames if most frames agree with
    it within 1 mm, else the neutral humanoid's offset."""
    med = np.median(local[:, b], axis=0)
    if np.mean(np.linalg.norm(local[:, b] - med, axis=-1) < POS_TOL_M) >= 0.5:
        return med
    return neutral_offsets()[b]


def _check_finite(data: np.ndarray, path: Path, frame_ids: np.ndarray) -> None:
    bad = np.argwhere(~np.isfinite(data[:, USED_COLUMNS]))
    if len(bad):
        t, c = int(bad[0][0]), int(USED_COLUMNS[bad[0][1]])
        raise InputError(f"{path}: frame {frame_ids[t]}: non-finite {_column_where(c)} (column {c})")


def _check_unit_quats(quats: dict[str, torch.Tensor], data: np.ndarray, path: Path, frame_ids: np.ndarray) -> None:
    """Every root/body/object quaternion [T,B,4] has norm 1 ± 1e-3 (an all-zero frame is named as such)."""
    for what, q in quats.items():
        norm = q.norm(dim=-1)
        off = (norm - 1.0).abs() > 1e-3
        if off.any():
            t, b = (int(x) for x in torch.nonzero(off)[0])
            body = f" body {BODY_NAMES[b]!r}" if what == "body" else ""
            zero = not np.any(data[t, : COLUMNS["contact_label"].start])
            hint = (f"frame {frame_ids[t]} has an all-zero kinematic state; drop it with --drop-frames "
                    f"{frame_ids[t]}" if zero else "fix or drop the frame with --drop-frames")
            raise InputError(f"{path}: frame {frame_ids[t]}{body}: {what} rotation quaternion has norm "
                             f"{float(norm[t, b]):.3f}; {hint}")


def _hinge_dofs(dof_expmap: torch.Tensor, root_quat: torch.Tensor, body_quat: torch.Tensor, path: Path,
                frame_ids: np.ndarray) -> torch.Tensor:
    """[T,153] hinge angles of the file's exponential maps, checked against the stored world rotations."""
    T = dof_expmap.shape[0]
    local = rot.axis_angle_to_quat(dof_expmap.reshape(T, NUM_BODIES - 1, 3))
    dof_pos = dofs_from_local(torch.cat([root_quat[:, None], local], dim=1))
    disagree = rot.quat_diff_angle(local_from_global(body_quat)[:, NON_ROOT], local)
    if float(disagree.max()) > ROT_TOL_RAD:
        t, b = (int(x) for x in torch.nonzero(disagree == disagree.max())[0])
        raise InputError(f"{path}: frame {frame_ids[t]} body {BODY_NAMES[b + 1]!r}: stored world rotation "
                         f"disagrees with its DOFs by {float(disagree[t, b]):.2e} rad")
    return dof_pos


def _skeleton(body_pos: torch.Tensor, body_quat: torch.Tensor, path: Path, frame_ids: np.ndarray,
              recompute_positions: bool) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The clip's rigid bone offsets [52,3] (mean over frames), each bone's deviation from them [T,52] (m), and the
    bodies whose offsets were rebuilt (``recompute_positions``; refused otherwise when a bone is not rigid)."""
    parents = [max(p, 0) for p in PARENTS]
    rp = rot.quat_to_matrix(body_quat[:, parents])
    bone = (rp.transpose(-1, -2) @ (body_pos - body_pos[:, parents])[..., None])[..., 0]
    bone[:, 0] = 0.0
    offsets = bone.mean(dim=0)
    dev = (bone - offsets).norm(dim=-1)
    loose = [b for b in range(1, NUM_BODIES) if float(dev[:, b].max()) > POS_TOL_M]
    if loose and not recompute_positions:
        b = loose[0]
        t = int(dev[:, b].argmax())
        names = ", ".join(BODY_NAMES[i] for i in loose[:6])
        more = f"; {len(loose)} bodies affected: {names}" if len(loose) > 1 else ""
        raise InputError(f"{path}: frame {frame_ids[t]} body {BODY_NAMES[b]!r}: stored position does not follow the "
                         f"DOFs (its bone from {BODY_NAMES[PARENTS[b]]!r} deviates {1000 * float(dev[t, b]):.1f} mm "
                         f"from the clip's rigid offset{more}); rebuild positions by FK with --recompute-positions")
    if not recompute_positions:
        return offsets, dev, []
    offsets = offsets.clone()
    for b in loose:
        offsets[b] = torch.as_tensor(_robust_offset(bone.numpy(), b), dtype=torch.float64)
    return offsets, dev, [BODY_NAMES[b] for b in loose]


def _contact_labels(data: np.ndarray, path: Path, frame_ids: np.ndarray) -> np.ndarray:
    """[T,52] int8 labels, each in {-1, 0, 1}."""
    label = np.rint(data[:, COLUMNS["contact_label"]])
    if not np.isin(label, (-1, 0, 1)).all():
        t, b = (int(x) for x in np.argwhere(~np.isin(label, (-1, 0, 1)))[0])
        raise InputError(f"{path}: frame {frame_ids[t]} body {BODY_NAMES[b]!r}: contact label "
                         f"{data[t, COLUMNS['contact_label']][b]} not in {{-1, 0, 1}}")
    return label.astype(np.int8)


def read_intermimic(pt_path: str | os.PathLike, *, drop_frames: tuple[int, ...] | list[int] = (),
                    recompute_positions: bool = False) -> ImportedPose:
    """Read, check and convert the kinematics of an InterMimic ``.pt`` (no object mesh needed).

    Raises ``InputError`` naming the file, frame and body for a non-finite value, a non-unit quaternion (e.g. an
    all-zero frame: use ``drop_frames``), DOFs that disagree with the stored rotations, or body positions that do
    not follow the DOFs (bones not rigid: use ``recompute_positions`` to rebuild them by FK). Frame numbers in
    messages are the file's.
    """
    path = Path(pt_path)
    raw = read_tensor(path)
    data, frame_ids = _drop(raw, path, drop_frames)
    T = data.shape[0]
    _check_finite(data, path, frame_ids)
    col = {k: torch.as_tensor(data[:, s], dtype=torch.float64) for k, s in COLUMNS.items()}
    quats = {"root": col["root_quat_xyzw"][:, None], "body": col["body_quat_xyzw"].reshape(T, NUM_BODIES, 4),
             "object": col["obj_quat_xyzw"][:, None]}
    _check_unit_quats(quats, data, path, frame_ids)
    root_quat = rot.quat_normalize(rot.xyzw_to_wxyz(col["root_quat_xyzw"]))
    body_quat = rot.quat_normalize(rot.xyzw_to_wxyz(quats["body"]))
    dof_pos = _hinge_dofs(col["dof_expmap"], root_quat, body_quat, path, frame_ids)
    body_pos = col["body_pos"].reshape(T, NUM_BODIES, 3)
    offsets, dev, recomputed = _skeleton(body_pos, body_quat, path, frame_ids, recompute_positions)
    fk_pos, fk_quat = forward_kinematics(col["root_pos"], root_quat, dof_pos, offsets)
    if recompute_positions:
        body_pos = fk_pos
        dev = torch.zeros_like(dev)
    perr = (fk_pos - body_pos).norm(dim=-1)
    if float(perr.max()) > POS_TOL_M:
        t, b = (int(x) for x in torch.nonzero(perr == perr.max())[0])
        raise InputError(f"{path}: frame {frame_ids[t]} body {BODY_NAMES[b]!r}: FK on the inferred skeleton misses "
                         f"the stored position by {1000 * float(perr[t, b]):.1f} mm")
    figures = {"fk_max_pos_err_m": float(perr.max()),
               "fk_max_rot_err_rad": float(rot.quat_diff_angle(fk_quat, body_quat).max()),
               "max_bone_deviation_m": float(dev.max()),
               "max_offset_diff_from_neutral_m": float((offsets - torch.as_tensor(neutral_offsets())).norm(dim=-1)
                                                       .max())}
    label = _contact_labels(data, path, frame_ids)
    obj_quat = rot.quat_normalize(rot.xyzw_to_wxyz(col["obj_quat_xyzw"]))
    return ImportedPose(frame_ids=frame_ids, root_pos=col["root_pos"].numpy(), root_quat=root_quat.numpy(),
                        dof_pos=dof_pos.numpy(), body_pos=body_pos.numpy(), body_quat=body_quat.numpy(),
                        obj_pos=col["obj_pos"].numpy(), obj_quat=obj_quat.numpy(), contact_label=label,
                        offsets=offsets.numpy(), figures=figures, recomputed=recomputed,
                        frames_in_file=int(raw.shape[0]))


def parse_clip_name(pt_path: str | os.PathLike) -> tuple[str, str]:
    """(subject, object) from a file name ``sub{N}_{object}_{idx}.pt``."""
    path = Path(pt_path)
    parts = path.stem.split("_")
    if len(parts) < 3:
        raise InputError(f"{path}: cannot tell the object from the file name (expected sub{{N}}_{{object}}_{{idx}}.pt)")
    return parts[0], parts[-2]


def _objects_dir(path: Path, objects_dir: str | os.PathLike | None) -> Path:
    if objects_dir is not None:
        return Path(objects_dir)
    for cand in (path.parent / "objects", path.parent.parent / "objects"):
        if cand.is_dir():
            return cand
    raise InputError(f"{path}: no objects folder beside the clip; pass the object meshes' folder (--objects DIR)")


def from_intermimic(pt_path: str | os.PathLike, objects_dir: str | os.PathLike | None = None, *,
                    drop_frames: tuple[int, ...] | list[int] = (), recompute_positions: bool = False) -> HOIMotion:
    """Import an InterMimic ``.pt`` as a ``HOIMotion`` (see the module docstring and docs/motion_format.md).

    ``objects_dir`` holds ``<object>.obj`` (default: an ``objects`` folder beside the clip or its parent).
    The object name and subject come from the file name; the interaction graph is built from the +1 labels.
    """
    from hoi_sim.objects.mesh import find_mesh, load_mesh

    path = Path(pt_path)
    pose = read_intermimic(path, drop_frames=drop_frames, recompute_positions=recompute_positions)
    subject, obj_name = parse_clip_name(path)
    mesh_path = find_mesh(_objects_dir(path, objects_dir), obj_name)
    mesh = load_mesh(mesh_path)
    graph = graph_from_contacts(pose.contact_label, pose.body_pos, pose.body_quat, pose.obj_pos, pose.obj_quat,
                                mesh.vertices, mesh.faces)
    dropped = sorted(set(range(pose.frames_in_file)) - set(pose.frame_ids.tolist()))
    meta = {
        "fps": FPS, "name": path.stem, "object_name": obj_name, "mass_mode": "dynamic", "source": "intermimic",
        "action": None, "subject": subject,
        "provenance": {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                       "frames_in_file": pose.frames_in_file, "dropped_frames": dropped,
                       "recomputed_positions": pose.recomputed, "object_mesh": mesh_path.name,
                       "object_mesh_sha256": mesh.sha256},
        "skeleton": {"source": "inferred from the clip's body positions and rotations", **pose.figures},
    }
    return make_motion(meta, root_pos=pose.root_pos, root_quat=pose.root_quat, dof_pos=pose.dof_pos,
                       body_pos=pose.body_pos, body_quat=pose.body_quat, obj_pos=pose.obj_pos,
                       obj_quat=pose.obj_quat, contact_label=pose.contact_label, skeleton_offsets=pose.offsets,
                       obj_vertices=mesh.vertices, obj_faces=mesh.faces, graph=graph)


def to_intermimic_array(motion: HOIMotion) -> np.ndarray:
    """The [T, 591] float32 InterMimic layout of a motion (exp-maps from the hinge angles, xyzw, contacts)."""
    T = motion.num_frames
    out = np.zeros((T, NUM_COLUMNS), np.float64)
    f64 = torch.float64
    local = dofs_to_local_quat(torch.as_tensor(motion.dof_pos, dtype=f64))
    out[:, COLUMNS["root_pos"]] = motion.root_pos
    out[:, COLUMNS["root_quat_xyzw"]] = rot.wxyz_to_xyzw(torch.as_tensor(motion.root_quat, dtype=f64)).numpy()
    out[:, COLUMNS["dof_expmap"]] = rot.quat_to_axis_angle(local).reshape(T, -1).numpy()
    out[:, COLUMNS["body_pos"]] = motion.body_pos.reshape(T, -1)
    out[:, COLUMNS["obj_pos"]] = motion.obj_pos
    out[:, COLUMNS["obj_quat_xyzw"]] = rot.wxyz_to_xyzw(torch.as_tensor(motion.obj_quat, dtype=f64)).numpy()
    out[:, COLUMNS["obj_contact"]] = (motion.contact_label == 1).any(axis=1, keepdims=True)
    out[:, COLUMNS["contact_label"]] = motion.contact_label
    out[:, COLUMNS["body_quat_xyzw"]] = rot.wxyz_to_xyzw(torch.as_tensor(motion.body_quat, dtype=f64)).reshape(T, -1)
    return out.astype(np.float32)


def to_intermimic(motion: HOIMotion, pt_path: str | os.PathLike) -> Path:
    """Write ``motion`` as an InterMimic ``.pt`` (one float32 tensor [T, 591]) atomically; returns the path.

    InterMimic plays clips at 30 fps; a motion at another rate is refused rather than silently retimed.
    """
    path = Path(pt_path)
    if abs(motion.fps - FPS) > 1e-6:
        raise InputError(f"{path}: InterMimic clips are {FPS:g} fps, this motion is {motion.fps:g} fps")
    tensor = torch.from_numpy(to_intermimic_array(motion))
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(tensor, tmp)
        share_mode(tmp)
    return path
