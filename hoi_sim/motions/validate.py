"""Validator of ``HOIMotion`` data: every finding names the file, the array, the frame and the body at fault.

Checks, in order (later checks run only when the earlier ones pass, so one fault gives one clear message):
meta (fps) → array shapes and dtypes → finite values → plausible magnitudes (:data:`MAX_ABS`) → unit quaternions
(|‖q‖ − 1| ≤ 1e-3) → contact labels in {−1, 0, +1} → interaction graph and mesh indices → root = body 0 → FK
consistency on the motion's own skeleton (body positions within ``pos_tol_m`` and rotations within ``rot_tol_rad``
of ``forward_kinematics(root, dof_pos, skeleton_offsets)``) → bones rigid w.r.t. their parent over the clip (within
``rigid_tol_m``) → velocities equal to :func:`compute_velocities` of the poses.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from hoi_sim import rotations as rot
from hoi_sim.errors import InputError
from hoi_sim.humanoid.kinematics import forward_kinematics
from hoi_sim.motions.io import load_motion
from hoi_sim.motions.schema import ARRAY_SPECS, QUAT_ARRAYS, HOIMotion
from hoi_sim.motions.velocity import compute_velocities
from hoi_sim.skeleton import BODY_NAMES, DOF_NAMES, NUM_BODIES, PARENTS

_ROW_WORDS = {"K": "edge", "V": "vertex", "F": "face"}
MAX_PER_CHECK = 5
"""At most this many findings per check; the rest are summarised in one line."""
MAX_ABS = {"pos": 1e4, "vel": 1e5, "dof_pos": 1e3}
"""Largest plausible magnitude of finite values: positions and lengths (m), velocities (m/s, rad/s) and joint angles
(rad). Beyond these a file is corrupt (e.g. dof_pos of 1e30), whatever its kinematics say."""
MAX_FPS = 1e4
"""Frame rates above this (frames/s) are refused as corrupt."""
_LIMIT_OF = {"dof_pos": "dof_pos", "root_lin_vel": "vel", "root_ang_vel": "vel", "dof_vel": "vel",
             "body_lin_vel": "vel", "body_ang_vel": "vel", "obj_lin_vel": "vel", "obj_ang_vel": "vel"}


class ValidationError(InputError):
    """A motion failed validation; ``problems`` lists every finding, ``str()`` is one line."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}" if problems else "invalid motion")


def _where(name: str, idx: tuple[int, ...]) -> str:
    """'frame t body B' / 'frame t dof D' / 'row r' for an index into array ``name``."""
    shape = ARRAY_SPECS[name][0]
    parts = []
    for sym, i in zip(shape, idx):
        if sym == "T":
            parts.append(f"frame {i}")
        elif sym == NUM_BODIES:
            parts.append(f"body {BODY_NAMES[i]!r}")
        elif sym == len(DOF_NAMES):
            parts.append(f"dof {DOF_NAMES[i]!r}")
        elif sym in _ROW_WORDS:
            parts.append(f"{_ROW_WORDS[sym]} {i}")
    return " ".join(parts) or "value"


def _cap(found: list[str], what: str) -> list[str]:
    if len(found) <= MAX_PER_CHECK:
        return found
    return found[:MAX_PER_CHECK] + [f"... and {len(found) - MAX_PER_CHECK} more {what}"]


def _check_shapes(m: HOIMotion) -> list[str]:
    out: list[str] = []
    dims: dict[str, int] = {}
    for name, (shape, dtype) in ARRAY_SPECS.items():
        a = getattr(m, name, None)
        if not isinstance(a, np.ndarray):
            out.append(f"array {name!r}: missing or not a numpy array")
            continue
        if a.dtype != np.dtype(dtype):
            out.append(f"array {name!r}: dtype {a.dtype}, expected {np.dtype(dtype)}")
        if a.ndim != len(shape):
            out.append(f"array {name!r}: shape {a.shape}, expected {_fmt(shape)}")
            continue
        for axis, (want, got) in enumerate(zip(shape, a.shape)):
            if isinstance(want, str):
                if dims.setdefault(want, got) != got:
                    out.append(f"array {name!r}: shape {a.shape}, expected {_fmt(shape)} with {want}={dims[want]} "
                               f"(axis {axis})")
                    break
            elif want != got:
                out.append(f"array {name!r}: shape {a.shape}, expected {_fmt(shape)}")
                break
    if not out and dims.get("T", 0) < 1:
        out.append("the motion has no frames (T = 0)")
    return out


def _fmt(shape: tuple) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


def _check_values(m: HOIMotion) -> list[str]:
    out: list[str] = []
    for name, (_, dtype) in ARRAY_SPECS.items():
        a = getattr(m, name)
        if np.issubdtype(np.dtype(dtype), np.floating):
            bad = np.argwhere(~np.isfinite(a))
            if len(bad):
                i = tuple(int(x) for x in bad[0])
                out.append(f"array {name!r} {_where(name, i)}: non-finite value {a[i]} "
                           f"({len(bad)} non-finite value(s) in all)")
    if out:
        return out
    for name, (_, dtype) in ARRAY_SPECS.items():
        a = getattr(m, name)
        if not np.issubdtype(np.dtype(dtype), np.floating) or name in QUAT_ARRAYS or not a.size:
            continue
        limit = MAX_ABS[_LIMIT_OF.get(name, "pos")]
        big = np.argwhere(np.abs(a) > limit)
        if len(big):
            i = tuple(int(x) for x in big[0])
            out.append(f"array {name!r} {_where(name, i)}: value {float(a[i]):.3g} beyond ±{limit:g} "
                       f"({len(big)} such value(s))")
    for name in QUAT_ARRAYS:
        norm = np.linalg.norm(getattr(m, name).astype(np.float64), axis=-1)
        bad = np.argwhere(np.abs(norm - 1.0) > 1e-3)
        if len(bad):
            i = tuple(int(x) for x in bad[0])
            out.append(f"array {name!r} {_where(name, i)}: quaternion norm {norm[i]:.4f}, expected 1 ± 0.001 "
                       f"({len(bad)} such quaternion(s))")
    bad = np.argwhere(~np.isin(m.contact_label, (-1, 0, 1)))
    if len(bad):
        i = tuple(int(x) for x in bad[0])
        out.append(f"array 'contact_label' {_where('contact_label', i)}: value {int(m.contact_label[i])} "
                   f"not in {{-1, 0, 1}} ({len(bad)} such value(s))")
    if len(m.ig_body) and (m.ig_body.min() < 0 or m.ig_body.max() >= NUM_BODIES):
        k = int(np.argmax((m.ig_body < 0) | (m.ig_body >= NUM_BODIES)))
        out.append(f"array 'ig_body' edge {k}: body index {int(m.ig_body[k])} outside 0..{NUM_BODIES - 1}")
    nv = len(m.obj_vertices)
    if len(m.obj_faces) and (m.obj_faces.min() < 0 or m.obj_faces.max() >= nv):
        f = int(np.argmax(((m.obj_faces < 0) | (m.obj_faces >= nv)).any(-1)))
        out.append(f"array 'obj_faces' face {f}: vertex index outside 0..{nv - 1}")
    fps = m.meta.get("fps") if isinstance(m.meta, dict) else None
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= MAX_FPS:
        out.append(f"meta 'fps': {fps!r} is not a positive number up to {MAX_FPS:g}")
    return out


def _check_kinematics(m: HOIMotion, pos_tol_m: float, rot_tol_rad: float, rigid_tol_m: float) -> list[str]:
    out: list[str] = []
    bp = torch.as_tensor(m.body_pos, dtype=torch.float64)
    bq = rot.quat_normalize(torch.as_tensor(m.body_quat, dtype=torch.float64))
    if not np.allclose(m.body_pos[:, 0], m.root_pos, atol=1e-4):
        t = int(np.argmax(np.abs(m.body_pos[:, 0] - m.root_pos).max(-1)))
        out.append(f"array 'body_pos' frame {t} body 'Pelvis': differs from 'root_pos'")
    rq = rot.quat_normalize(torch.as_tensor(m.root_quat, dtype=torch.float64))
    root_ang = rot.quat_diff_angle(bq[:, 0], rq)
    if float(root_ang.max()) > rot_tol_rad:
        t = int(root_ang.argmax())
        out.append(f"array 'body_quat' frame {t} body 'Pelvis': differs from 'root_quat' by "
                   f"{float(root_ang[t]):.2e} rad")
    fk_pos, fk_quat = forward_kinematics(torch.as_tensor(m.root_pos, dtype=torch.float64), rq,
                                         torch.as_tensor(m.dof_pos, dtype=torch.float64), m.skeleton_offsets)
    perr = (fk_pos - bp).norm(dim=-1)  # [T, 52]
    qerr = rot.quat_diff_angle(fk_quat, bq)
    found = []
    for b in range(NUM_BODIES):
        if float(perr[:, b].max()) > pos_tol_m:
            t = int(perr[:, b].argmax())
            n = int((perr[:, b] > pos_tol_m).sum())
            found.append(f"body {BODY_NAMES[b]!r}: 'body_pos' differs from FK(root, dof_pos, skeleton_offsets) by "
                         f"{1000 * float(perr[t, b]):.1f} mm at frame {t} ({n} frame(s) over "
                         f"{1000 * pos_tol_m:.1f} mm)")
    out += _cap(found, "bodies off FK")
    found = []
    for b in range(NUM_BODIES):
        if float(qerr[:, b].max()) > rot_tol_rad:
            t = int(qerr[:, b].argmax())
            found.append(f"body {BODY_NAMES[b]!r}: 'body_quat' differs from FK(root, dof_pos) by "
                         f"{float(qerr[t, b]):.2e} rad at frame {t}")
    out += _cap(found, "bodies off FK")
    out += _cap(rigidity_findings(bp, bq, rigid_tol_m), "non-rigid bones")
    return out


def rigidity_findings(body_pos: torch.Tensor, body_quat: torch.Tensor, tol_m: float) -> list[str]:
    """One line per body whose bone vector in its parent's frame, R_parentᵀ(p_b − p_parent), moves more than
    ``tol_m`` (m) from its clip mean; body_pos [T,52,3], body_quat [T,52,4] wxyz (float64)."""
    parents = [max(p, 0) for p in PARENTS]
    rp = rot.quat_to_matrix(body_quat[:, parents])
    local = (rp.transpose(-1, -2) @ (body_pos - body_pos[:, parents])[..., None])[..., 0]
    dev = (local - local.mean(dim=0)).norm(dim=-1)
    out = []
    for b in range(1, NUM_BODIES):
        if float(dev[:, b].max()) > tol_m:
            t = int(dev[:, b].argmax())
            out.append(f"body {BODY_NAMES[b]!r} is not rigid w.r.t. its parent {BODY_NAMES[PARENTS[b]]!r}: its bone "
                       f"deviates {1000 * float(dev[t, b]):.1f} mm from the clip mean at frame {t}")
    return out


def _check_velocities(m: HOIMotion) -> list[str]:
    vel = compute_velocities(m.fps, root_pos=m.root_pos, root_quat=m.root_quat, dof_pos=m.dof_pos,
                             body_pos=m.body_pos, body_quat=m.body_quat, obj_pos=m.obj_pos, obj_quat=m.obj_quat)
    out = []
    for name, want in vel.items():
        got = getattr(m, name)
        err = np.abs(got.astype(np.float64) - want) - 1e-3 * (1.0 + np.abs(want))
        if (err > 0).any():
            i = tuple(int(x) for x in np.unravel_index(np.argmax(err), err.shape))
            out.append(f"array {name!r} {_where(name, i)}: {float(got[i]):.4g} differs from compute_velocities "
                       f"({float(want[i]):.4g})")
    return out


def validate_motion(motion_or_path: HOIMotion | str | os.PathLike, *, label: str | None = None,
                    pos_tol_m: float = 1e-3, rot_tol_rad: float = 1e-3, rigid_tol_m: float = 1e-3,
                    min_frames: int = 1) -> list[str]:
    """Check a motion (or a ``.npz`` path); returns the findings, each prefixed with the file/motion name.

    An empty list means valid. Tolerances: FK position ``pos_tol_m`` (m), FK rotation ``rot_tol_rad`` (rad),
    bone rigidity ``rigid_tol_m`` (m); ``min_frames``: fewest frames accepted (simulation needs 2). Unreadable
    files give one finding, never an exception.
    """
    if isinstance(motion_or_path, HOIMotion):
        m = motion_or_path
        label = label or (m.meta.get("name", "<motion>") if isinstance(m.meta, dict) else "<motion>")
    else:
        label = label or str(Path(motion_or_path))
        try:
            m = load_motion(motion_or_path)
        except InputError as exc:
            msg = str(exc)
            return [msg if msg.startswith(label) else f"{label}: {msg}"]
    if not isinstance(m.meta, dict):
        return [f"{label}: meta is not a dict"]
    for check in (_check_shapes, _check_values):
        problems = check(m)
        if problems:
            return [f"{label}: {p}" for p in problems]
    if m.num_frames < min_frames:
        return [f"{label}: array 'root_pos': {m.num_frames} frame(s), at least {min_frames} needed"]
    problems = _check_kinematics(m, pos_tol_m, rot_tol_rad, rigid_tol_m) or _check_velocities(m)
    return [f"{label}: {p}" for p in problems]


def assert_valid(motion_or_path: HOIMotion | str | os.PathLike, **kwargs) -> None:
    """Raise :class:`ValidationError` (one-line message, all findings in ``.problems``) unless valid."""
    problems = validate_motion(motion_or_path, **kwargs)
    if problems:
        raise ValidationError(problems)
