"""``hoi-sim replay MOTION…``: play reference motions in the simulator without a policy, all in ONE batched
simulation (env i plays clip i, as training builds it: each env on its clip's own skeleton and object, so a batch
mixes subjects and objects; ``hoi_sim.eval.replay``). ``--max-envs N`` splits the clips into batches of N.

Modes:
- ``pd`` (default): reference state init at frame 0, then PD targets = the reference DOFs of the next control
  step; reports frames survived (root above 0.5 m and a valid physics state), MPJPE (mm, 52 bodies and the 22 body
  joints) over the survived part and the object error (mm, InterMimic's 1024-point mean distance).
- ``kinematic``: writes every reference frame into the simulator (no dynamics, ``mj_forward``) and reports the
  largest human–object and human–ground penetration (mm), frames where an annotated (+1) body is more than 2 cm
  from the object, frames where both feet float more than 2 cm above the ground.
- ``both``: the two in turn, on the same batch.
Every clip's row carries ``clip``, ``env`` (its env in the batch), ``batch``, ``group`` (asset group), ``object``
(``name``, content ``hash``, ``mass_mode``), ``skeleton`` (content hash) and ``reset_error_mm``: the largest body
distance between simulator and reference right after the reset at frame 0 (≤ 1 mm when the env simulates the
clip's own skeleton); PD replay adds ``reset_drop_mm``: how far the simulated root falls below the reference root
within 0.1 s of that reset.

Clips are prepared at load as for training (``motions.reference.prepare_reference``): grounded (stance feet on the
floor, human and object moved together) unless ``--no-ground``, then the object is taken out of the floor and hands
out of the object (``motions.penetration``) unless ``--no-fix-penetration``; one line per step and clip says what
it did, and the JSON rows carry ``ground_dz_mm``, ``stance_foot_median_mm`` and ``hand_penetration_mm``.

Inputs: HOIMotion ``.npz`` files, InterMimic ``.pt`` clips (``--objects`` names the folder of ``<object>.obj``),
folders of them, or manifests (YAML/CSV; ``--subset ACTION`` keeps one action subset). Every clip is validated
before any is prepared. Object hulls come from the coacd cache (``$HOI_SIM_CACHE``), computed on first use (~30 s
per mesh).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from hoi_sim.errors import InputError

if TYPE_CHECKING:
    from hoi_sim.motions.manifest import ClipEntry
    from hoi_sim.motions.schema import HOIMotion

MM = 1000.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="PD-track (or kinematically play) reference motions without a policy, all "
                                      "clips in one batch", description=__doc__.split("\n")[0])
    p.add_argument("motions", nargs="+", help="HOIMotion .npz or InterMimic .pt files, folders of them, or manifests")
    p.add_argument("--mode", choices=("pd", "kinematic", "both"), default="pd")
    p.add_argument("--subset", help="only the clips of this action label (manifests)")
    p.add_argument("--objects", help="folder of <object>.obj meshes for InterMimic .pt clips")
    p.add_argument("--json", help="write one row per clip to this JSON file")
    p.add_argument("--force", action="store_true", help="overwrite the --json file when it exists")
    p.add_argument("--mass-mode", choices=("density", "fixed"), default=None,
                   help="object mass rule (default: cfg/sim/mujoco.yaml)")
    p.add_argument("--max-seconds", type=float, default=None, help="replay at most this long per clip")
    p.add_argument("--max-envs", type=int, default=0,
                   help="at most this many clips per batch (default 0: every clip in one batch)")
    p.add_argument("--collision", choices=("coacd", "convex_hull"), default="coacd",
                   help="object collision shape: coacd hulls (Table 7, cached) or one convex hull (instant)")
    p.add_argument("--no-ground", action="store_true",
                   help="keep the clip's height (default: stance feet on the floor, human and object together)")
    p.add_argument("--no-fix-penetration", action="store_true",
                   help="keep object-floor and hand-object penetrations (default: object lifted out of the floor, "
                        "hands following it, hands and fingers moved out of the object)")
    p.set_defaults(func=run)


def _clips(args: argparse.Namespace) -> list[ClipEntry]:
    """The clips of every input (files, folders, manifests), ``--subset`` applied, each file once."""
    from hoi_sim.motions.manifest import resolve_motions

    if args.max_envs < 0:
        raise InputError(f"--max-envs must be ≥ 0, got {args.max_envs}")
    if args.max_seconds is not None and not args.max_seconds > 0:
        raise InputError(f"--max-seconds must be > 0, got {args.max_seconds}")
    clips = {}
    for p in args.motions:
        for c in resolve_motions(p, args.subset):
            clips.setdefault(c.path.resolve(), c)
    return list(clips.values())


def _prepared(clips: list[ClipEntry], args: argparse.Namespace) -> tuple[list[HOIMotion], list[dict]]:
    """(prepared motions, their rows so far: name, frames, fps and what the preparation did)."""
    from hoi_sim.motions import penetration
    from hoi_sim.motions.grounding import report_of
    from hoi_sim.motions.manifest import load_clip
    from hoi_sim.motions.reference import reference_lines

    motions, rows = [], []
    for c in clips:
        motion = load_clip(c, args.objects, ground=not args.no_ground, fix_penetration=not args.no_fix_penetration)
        row: dict = {"clip": motion.name, "file": str(c.path), "frames": motion.num_frames, "fps": motion.fps}
        for line in reference_lines(motion):
            print(f"{motion.name}: {line}", flush=True)
        grounding, pen = report_of(motion), penetration.report_of(motion)
        if grounding is not None:
            row["ground_dz_mm"] = grounding.dz_m * MM
            row["stance_foot_median_mm"] = grounding.median_after_m * MM
        if pen is not None:
            row["hand_penetration_mm"] = [pen.hand_max_before_m * MM, pen.hand_max_after_m * MM]
        motions.append(motion)
        rows.append(row)
    return motions, rows


def _fmt(v: object) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.1f}"
    if isinstance(v, dict):
        return f"{v.get('name')}#{v.get('hash')}"
    return str(v)


COLUMNS = {
    "pd": ("clip", "env", "object", "skeleton", "reset_error_mm", "reset_drop_mm", "frames_survived", "pd_steps",
           "seconds_survived", "mpjpe_mm", "mpjpe22_mm", "object_error_mm"),
    "kinematic": ("clip", "env", "object", "skeleton", "reset_error_mm", "max_obj_penetration_mm",
                  "max_ground_penetration_mm", "frames_contact_apart", "frames_foot_floating", "max_foot_float_mm",
                  "kin_frames"),
}


def run(args: argparse.Namespace) -> int:
    from hoi_sim.eval.replay import ReplayOptions, replay_batch
    from hoi_sim.io_utils import check_writable, write_json_atomic
    from hoi_sim.motions.manifest import check_clips
    from hoi_sim.sim.config import SimConfig

    if args.json:
        check_writable(args.json, args.force, "--json")
    clips = _clips(args)
    cfg = SimConfig.for_backend("mujoco")
    if args.mass_mode:
        cfg = cfg.with_overrides(mass_mode=args.mass_mode)
    modes = ("pd", "kinematic") if args.mode == "both" else (args.mode,)
    opts = ReplayOptions(modes, args.max_seconds, args.collision)
    check_clips(clips, args.objects)  # every clip validated before any is prepared
    motions, rows = _prepared(clips, args)
    size = args.max_envs or len(motions)
    for b, start in enumerate(range(0, len(motions), size)):
        t0 = time.perf_counter()
        chunk = motions[start:start + size]
        for i, result in enumerate(replay_batch(chunk, cfg, opts, batch=b), start):
            rows[i] = {**result, **{k: v for k, v in rows[i].items() if k != "clip"}}
        print(f"[batch {b}] {len(chunk)} clip(s) in one batch: {time.perf_counter() - t0:.1f} s", file=sys.stderr,
              flush=True)
    for mode in modes:
        cols = COLUMNS[mode]
        print(f"\n{mode} replay")
        print(" | ".join(cols))
        for r in rows:
            print(" | ".join(f"{r[c]:.3f}" if c == "reset_error_mm" else _fmt(r.get(c)) for c in cols))
    worst = max(rows, key=lambda r: r["reset_error_mm"])
    print(f"\nlargest reset error: {worst['reset_error_mm']:.3f} mm ({worst['clip']}); {len(rows)} clip(s), "
          f"{len({(r['object']['hash'], r['skeleton']) for r in rows})} asset group(s)")
    if args.json:
        write_json_atomic(args.json, {"mode": args.mode, "rows": rows}, indent=1)
        print(f"wrote {args.json}", file=sys.stderr)
    return 0
