"""``hoi-sim replay MOTION…``: play reference motions in the simulator without a policy.

Modes:
- ``pd`` (default): reference state init at frame 0, then PD targets = the reference DOFs of the next control
  step; reports frames survived (root above 0.5 m and a valid physics state), MPJPE (mm, 52 bodies and the 22 body
  joints) over the survived part and the object error (mm, InterMimic's 1024-point mean distance).
- ``kinematic``: writes every reference frame into the simulator (no dynamics, ``mj_forward``) and reports the
  largest human–object and human–ground penetration (mm), frames where an annotated (+1) body is more than 2 cm
  from the object, frames where both feet float more than 2 cm above the ground.
- ``both``: the two in turn.
Every clip also gets ``reset_error_mm``: the largest body distance between simulator and reference right after
the reset at frame 0 (the humanoid is built on the clip's own skeleton, so it should be ≤ 1 mm); PD replay adds
``reset_drop_mm``: how far the simulated root falls below the reference root within ``DROP_WINDOW_S`` of that reset.

Clips are prepared at load as for training (``motions.reference.prepare_reference``): grounded (stance feet on the
floor, human and object moved together) unless ``--no-ground``, then the object is taken out of the floor and hands
out of the object (``motions.penetration``) unless ``--no-fix-penetration``; one line per step and clip says what
it did, and the JSON rows carry ``ground_dz_mm``, ``stance_foot_median_mm`` and ``hand_penetration_mm``.

Inputs: HOIMotion ``.npz`` files or InterMimic ``.pt`` clips (``--objects`` names the folder of ``<object>.obj``);
folders are expanded to the ``.npz``/``.pt`` files they hold. Object hulls come from the coacd cache
(``$HOI_SIM_CACHE``), computed on first use (~30 s per mesh).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from hoi_sim.errors import InputError
from hoi_sim.skeleton import BODY_JOINTS_22, FEET, NUM_BODIES, body_ids

FALL_HEIGHT = 0.5
"""Root height (m) below which a PD replay counts as fallen."""
CONTACT_APART = 0.02
"""An annotated contact is "apart" when body and object are further than this (m)."""
FOOT_FLOAT = 0.02
"""A frame "floats" when the lowest foot geom is further than this (m) above the ground."""
DROP_WINDOW_S = 0.1
"""Seconds after the reset over which ``reset_drop_mm`` is measured (3 control steps; a humanoid whose feet float 55 mm
above the floor falls 49 mm in that time, one standing on the floor sinks ~3 mm into its soft contacts)."""
MM = 1000.0
COLLISION_MODES = ("coacd", "convex_hull")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="PD-track (or kinematically play) reference motions without a policy",
                       description=__doc__.split("\n")[0])
    p.add_argument("motions", nargs="+", help="HOIMotion .npz or InterMimic .pt files, or folders of them")
    p.add_argument("--mode", choices=("pd", "kinematic", "both"), default="pd")
    p.add_argument("--objects", help="folder of <object>.obj meshes for InterMimic .pt clips")
    p.add_argument("--json", help="write one row per clip to this JSON file")
    p.add_argument("--force", action="store_true", help="overwrite the --json file when it exists")
    p.add_argument("--mass-mode", choices=("density", "fixed"), default=None,
                   help="object mass rule (default: cfg/sim/mujoco.yaml)")
    p.add_argument("--max-seconds", type=float, default=None, help="replay at most this long per clip")
    p.add_argument("--collision", choices=COLLISION_MODES, default="coacd",
                   help="object collision shape: coacd hulls (Table 7, cached) or one convex hull (instant)")
    p.add_argument("--no-ground", action="store_true",
                   help="keep the clip's height (default: stance feet on the floor, human and object together)")
    p.add_argument("--no-fix-penetration", action="store_true",
                   help="keep object-floor and hand-object penetrations (default: object lifted out of the floor, "
                        "hands following it, hands and fingers moved out of the object)")
    p.set_defaults(func=run)


def _expand(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for s in paths:
        p = Path(s)
        if p.is_dir():
            found = sorted([*p.glob("*.npz"), *p.glob("*.pt")])
            if not found:
                raise InputError(f"{p}: no .npz or .pt motions in this folder")
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise InputError(f"{p}: no such motion file")
    return out


def load_clip(path: Path, objects_dir: str | None = None, ground: bool = True, fix_penetration: bool = True):
    """A ``HOIMotion`` from a ``.npz`` file or an InterMimic ``.pt`` clip, validated (``motions.checked``) and
    prepared as for training (grounding and
    the penetration fix, each unless switched off; reports in ``meta["provenance"]``)."""
    from hoi_sim.motions import from_intermimic, load_motion
    from hoi_sim.motions.checked import check_loaded
    from hoi_sim.motions.reference import prepare_reference

    motion = from_intermimic(path, objects_dir) if path.suffix == ".pt" else load_motion(path)
    check_loaded(motion, path)
    return prepare_reference(motion, ground=ground, fix_penetration=fix_penetration)[0]


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def reference_state(motion, t: float):
    """The reference at time ``t`` (s) as a one-env ``ResetState`` (linear / slerp interpolation between frames)."""
    from hoi_sim.rotations import slerp
    from hoi_sim.sim.base import ResetState

    f = min(max(t * motion.fps, 0.0), motion.num_frames - 1.0)
    i0 = int(math.floor(f))
    i1 = min(i0 + 1, motion.num_frames - 1)
    a = f - i0

    def lerp(x: np.ndarray, angle: bool = False) -> torch.Tensor:
        d = x[i1] - x[i0]
        v = x[i0] + a * (_wrap(d) if angle else d)
        return torch.as_tensor(np.asarray(v, np.float32))[None]

    def qslerp(q: np.ndarray) -> torch.Tensor:
        q0, q1 = torch.as_tensor(q[i0:i0 + 1]), torch.as_tensor(q[i1:i1 + 1])
        return slerp(q0, q1, torch.tensor([a], dtype=q0.dtype)).float()

    return ResetState(
        root_pos=lerp(motion.root_pos), root_quat=qslerp(motion.root_quat), root_lin_vel=lerp(motion.root_lin_vel),
        root_ang_vel=lerp(motion.root_ang_vel), dof_pos=lerp(motion.dof_pos, angle=True),
        dof_vel=lerp(motion.dof_vel), obj_pos=lerp(motion.obj_pos), obj_quat=qslerp(motion.obj_quat),
        obj_lin_vel=lerp(motion.obj_lin_vel), obj_ang_vel=lerp(motion.obj_ang_vel))


def _backend(motion, cfg, collision: str = "coacd"):
    from hoi_sim.motions.object_kind import object_motion_kind
    from hoi_sim.objects.hulls import object_hulls
    from hoi_sim.sim.mujoco import MujocoBackend

    hulls = object_hulls(motion.obj_vertices, motion.obj_faces, collision,
                         str(motion.meta.get("object_name", motion.name)), max_hulls=cfg.object_max_convex_hulls)
    return MujocoBackend(1, offsets=motion.skeleton_offsets, hulls=hulls, cfg=cfg, nthread=1, log_mapping=False,
                         motion_mass_mode=object_motion_kind(motion))


def _reset_error_mm(sim, motion, t: float = 0.0, frame: int = 0) -> float:
    sim.reset(torch.tensor([0]), reference_state(motion, t))
    pos = sim.state().body_pos[0].double().numpy()
    return float(np.linalg.norm(pos - motion.body_pos[frame], axis=-1).max() * MM)


def _distances(sim) -> tuple[np.ndarray, np.ndarray, float]:
    """Per humanoid body: smallest signed distance (m) to the object and to the ground among detected pairs (inf when
    none is within detection range), and the object–ground distance."""
    m, d, ix = sim.model, sim.datas[0], sim.index
    to_obj = np.full(NUM_BODIES, np.inf)
    to_floor = np.full(NUM_BODIES, np.inf)
    obj_floor = np.inf
    n = d.ncon
    if n == 0:
        return to_obj, to_floor, obj_floor
    geom = np.asarray(d.contact.geom[:n])
    dist = np.asarray(d.contact.dist[:n])
    hum = ix.body_to_humanoid[m.geom_bodyid[geom]]
    is_obj = ix.geom_is_object[geom]
    is_floor = geom == ix.floor_geom
    for side in (0, 1):
        other = 1 - side
        sel = hum[:, side] >= 0
        so = sel & is_obj[:, other]
        np.minimum.at(to_obj, hum[so, side], dist[so])
        sf = sel & is_floor[:, other]
        np.minimum.at(to_floor, hum[sf, side], dist[sf])
    of = (is_obj[:, 0] & is_floor[:, 1]) | (is_obj[:, 1] & is_floor[:, 0])
    if of.any():
        obj_floor = float(dist[of].min())
    return to_obj, to_floor, obj_floor


def replay_kinematic(motion, cfg, max_seconds: float | None = None, collision: str = "coacd") -> dict:
    """Kinematic figures of one clip (see the module docstring)."""
    sim = _backend(motion, cfg, collision)
    feet = body_ids(FEET)
    frames = motion.num_frames if max_seconds is None else min(motion.num_frames, int(max_seconds * motion.fps) + 1)
    pen_obj = pen_floor = pen_obj_floor = 0.0
    apart = floating = 0
    max_float = 0.0
    reset_err = 0.0
    for f in range(frames):
        err = _reset_error_mm(sim, motion, f / motion.fps, f)
        reset_err = err if f == 0 else reset_err
        to_obj, to_floor, obj_floor = _distances(sim)
        pen_obj = max(pen_obj, -float(to_obj.min()))
        pen_floor = max(pen_floor, -float(to_floor.min()))
        pen_obj_floor = max(pen_obj_floor, -obj_floor)
        labelled = motion.contact_label[f] > 0
        if labelled.any() and (to_obj[labelled] > CONTACT_APART).any():
            apart += 1
        foot = float(to_floor[feet].min())
        if foot > FOOT_FLOAT:
            floating += 1
            max_float = max(max_float, foot)
    sim.close()
    return {"reset_error_mm": reset_err, "kin_frames": frames, "max_obj_penetration_mm": pen_obj * MM,
            "max_ground_penetration_mm": pen_floor * MM, "max_obj_ground_penetration_mm": pen_obj_floor * MM,
            "frames_contact_apart": apart, "frames_foot_floating": floating,
            "max_foot_float_mm": max_float * MM if math.isfinite(max_float) else None}


def replay_pd(motion, cfg, max_seconds: float | None = None, collision: str = "coacd") -> dict:
    """PD-tracking figures of one clip (see the module docstring)."""
    from hoi_sim.eval.metrics import mpjpe, object_error
    from hoi_sim.objects.mesh import surface_points

    sim = _backend(motion, cfg, collision)
    dt = sim.control_dt
    duration = (motion.num_frames - 1) / motion.fps
    if max_seconds is not None:
        duration = min(duration, max_seconds)
    steps = int(math.floor(duration / dt + 1e-6))
    reset_err = _reset_error_mm(sim, motion)
    sim_pos, ref_pos, sim_obj, ref_obj = [], [], [], []
    survived = 0
    drop = 0.0
    for k in range(1, steps + 1):
        ref = reference_state(motion, k * dt)
        sim.set_pd_targets(ref.dof_pos)
        sim.step()
        st = sim.state()
        if k * dt <= DROP_WINDOW_S + 1e-9:
            drop = max(drop, float(ref.root_pos[0, 2] - st.root_pos[0, 2]))
        if bool(st.bad[0]) or float(st.root_pos[0, 2]) < FALL_HEIGHT:
            break
        survived = k
        f = k * dt * motion.fps
        i0, a = int(math.floor(f)), f - math.floor(f)
        i1 = min(i0 + 1, motion.num_frames - 1)
        ref_pos.append((1 - a) * motion.body_pos[i0] + a * motion.body_pos[i1])
        sim_pos.append(st.body_pos[0].double().numpy())
        sim_obj.append((st.obj_pos[0].double().numpy(), st.obj_quat[0].double().numpy()))
        ref_obj.append((ref.obj_pos[0].double().numpy(), ref.obj_quat[0].double().numpy()))
    sim.close()
    row = {"reset_error_mm": reset_err, "reset_drop_mm": drop * MM, "pd_steps": steps, "frames_survived": survived,
           "seconds_survived": survived * dt, "survived_all": survived == steps,
           "mpjpe_mm": None, "mpjpe22_mm": None, "object_error_mm": None}
    if survived:
        sp, rp = np.stack(sim_pos), np.stack(ref_pos)
        row["mpjpe_mm"] = mpjpe(sp, rp)
        row["mpjpe22_mm"] = mpjpe(sp, rp, body_ids(BODY_JOINTS_22))
        pts = surface_points(motion.obj_vertices, motion.obj_faces)
        row["object_error_mm"] = object_error(np.stack([p for p, _ in sim_obj]), np.stack([q for _, q in sim_obj]),
                                              np.stack([p for p, _ in ref_obj]), np.stack([q for _, q in ref_obj]),
                                              pts)
    return row


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


COLUMNS = {
    "pd": ("clip", "reset_error_mm", "reset_drop_mm", "frames_survived", "pd_steps", "seconds_survived", "mpjpe_mm",
           "mpjpe22_mm", "object_error_mm"),
    "kinematic": ("clip", "reset_error_mm", "max_obj_penetration_mm", "max_ground_penetration_mm",
                  "frames_contact_apart", "frames_foot_floating", "max_foot_float_mm", "kin_frames"),
}


def run(args: argparse.Namespace) -> int:
    from hoi_sim.io_utils import check_writable
    from hoi_sim.motions import penetration
    from hoi_sim.motions.grounding import report_of
    from hoi_sim.motions.manifest import ClipEntry, check_clips
    from hoi_sim.motions.reference import reference_lines
    from hoi_sim.sim.config import SimConfig

    if args.json:
        check_writable(args.json, args.force, "--json")
    paths = _expand(args.motions)
    cfg = SimConfig.for_backend("mujoco")
    if args.mass_mode:
        cfg = cfg.with_overrides(mass_mode=args.mass_mode)
    modes = ("pd", "kinematic") if args.mode == "both" else (args.mode,)
    check_clips([ClipEntry(p) for p in paths], args.objects)  # every clip validated before any is prepared
    rows: list[dict] = []
    for i, path in enumerate(paths):
        t0 = time.perf_counter()
        motion = load_clip(path, args.objects, ground=not args.no_ground, fix_penetration=not args.no_fix_penetration)
        row: dict = {"clip": motion.name, "frames": motion.num_frames, "fps": motion.fps}
        for line in reference_lines(motion):
            print(f"{motion.name}: {line}", flush=True)
        grounding, pen = report_of(motion), penetration.report_of(motion)
        if grounding is not None:
            row["ground_dz_mm"] = grounding.dz_m * MM
            row["stance_foot_median_mm"] = grounding.median_after_m * MM
        if pen is not None:
            row["hand_penetration_mm"] = [pen.hand_max_before_m * MM, pen.hand_max_after_m * MM]
        if "kinematic" in modes:
            row.update(replay_kinematic(motion, cfg, args.max_seconds, args.collision))
        if "pd" in modes:
            row.update(replay_pd(motion, cfg, args.max_seconds, args.collision))
        rows.append(row)
        print(f"[{i + 1}/{len(paths)}] {motion.name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    for mode in modes:
        cols = COLUMNS[mode]
        print(f"\n{mode} replay")
        print(" | ".join(cols))
        for r in rows:
            print(" | ".join(_fmt(r.get(c)) for c in cols))
    if args.json:
        from hoi_sim.io_utils import write_json_atomic

        write_json_atomic(args.json, {"mode": args.mode, "rows": rows}, indent=1)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
