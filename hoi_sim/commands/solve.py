"""``hoi-sim solve SESSION [-o OUT]``: run 4DHOISolver on an annotation session.

Reads the session (release A or B layout), runs stage 1 (object pose by least squares, limb IK), stage 2 (keyframe
refinement) and post-processing, and writes into OUT (default ``SESSION/final_optimized_parameters``):
``hoi_sequence.npz`` (camera-frame SMPL-X + object pose + contacts), ``all_parameters_<stamp>.json`` (the app's
format), ``solver_config.yaml``; and, when the session holds synthetic ground truth (``ground_truth.npz``),
``metrics.json`` with the errors of the solution and of the initialisation (``init_*``).
``metrics.json`` also holds ``contact_excess_cm`` / ``penetration_excess_cm``: the solution's contact distance and
penetration minus the ground truth's own (real motions are not contact-perfect either).
A session that lacks required files fails with one line naming them, after reading what is there.

``hoi-sim solve DIR [-o OUT]`` on a folder of session folders solves each into ``OUT/<name>/`` (default
``DIR/solved``) with a progress line and ETA per session; sessions finished by an earlier (or killed) run are
skipped, a bad session is reported and skipped, ``OUT/summary.json`` and ``OUT/summary.md`` list what was solved
and what failed and why, and the exit status is 1 when any session failed (``hoi_sim.recon.batch``).
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hoi_sim.errors import HoiSimError, InputError
from hoi_sim.io_utils import write_json_atomic, write_text_atomic

CFG_DIR = Path(__file__).resolve().parents[1] / "cfg" / "recon"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("solve", help="4DHOISolver on an annotation session", description=__doc__.split("\n")[0])
    p.add_argument("session", type=Path, nargs="?",
                   help="session folder (video.mp4, obj_org.obj, motion/, kp_record_*.json …), or a folder of "
                        "session folders to solve them all (batch: resumable, one summary)")
    p.add_argument("-o", "--out", type=Path, default=None,
                   help="output folder (default: SESSION/final_optimized_parameters; batch: DIR/solved, one "
                        "sub-folder per session plus summary.json and summary.md)")
    p.add_argument("--explain", action="store_true",
                   help="print every loss weight with what it multiplies and its unit; with a session, also the "
                        "weighted terms and their shares at the first and last step of stage 1 and stage 2")
    p.add_argument("--redo", action="store_true", help="batch: solve again the sessions an earlier run finished")
    p.add_argument("--config", default="default",
                   help=f"solver preset name in {CFG_DIR.relative_to(CFG_DIR.parents[2])} or a YAML path")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. --set stage2.steps=30 (repeatable)")
    p.add_argument("--body", choices=("auto", "smplx", "proxy"), default="auto",
                   help="body model: SMPL-X when configured (HOI_SIM_SMPLX_MODEL), else the proxy; a synthetic "
                        "session uses the body model its ground truth was made with")
    p.add_argument("--drop-last-frame", action="store_true",
                   help="end the frame range before the last annotated frame (release A's solver)")
    p.add_argument("--no-masks", action="store_true", help="do not read the masks (mask loss off)")
    p.add_argument("--ingest-only", action="store_true",
                   help="stop after ingest: write the initialisation as the result (and its metrics)")
    p.set_defaults(func=run)


def load_solver_config(name_or_path: str, overrides: list[str]):
    """SolverConfig from a preset (``hoi_sim/cfg/recon/<name>.yaml``) or a YAML path, plus ``key=value`` overrides."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from hoi_sim.recon.config import SolverConfig

    path = Path(name_or_path)
    if not path.suffix:
        path = CFG_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        presets = ", ".join(sorted(p.stem for p in CFG_DIR.glob("*.yaml")))
        raise InputError(f"--config {name_or_path}: not found (presets: {presets})")
    try:
        cfg = OmegaConf.load(path)
        for item in overrides:
            if "=" not in item:
                raise InputError(f"--set {item!r}: expected KEY=VALUE")
        if overrides:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
        data = OmegaConf.to_container(cfg, resolve=True) or {}
    except OmegaConfBaseException as exc:
        raise InputError(f"{path}: {str(exc).splitlines()[0]}") from None
    try:
        return SolverConfig.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: {exc}") from None


def _call_solver(inp, cfg, body_model, progress) -> Any:
    try:
        from hoi_sim.recon.solver import solve
    except ModuleNotFoundError as exc:
        if exc.name == "hoi_sim.recon.solver":
            raise HoiSimError("4DHOISolver is not available in this build (hoi_sim.recon.solver missing); "
                              "use --ingest-only") from None
        raise
    params = inspect.signature(solve).parameters
    kwargs = {"progress": progress} if "progress" in params else {}
    if "body_model" in params:
        kwargs["body_model"] = body_model
    return solve(inp, cfg, **kwargs)


def as_sequence(result: Any, inp, body_model=None):
    """The solver's result (``SolverResult``: human, obj_R, obj_t) as a camera-frame HOISequence.

    ``cam_to_world``: the session's static camera when known (synthetic, z-up world); else, with GVHMR global params
    and a body model, the per-frame pelvis-based camera → GVHMR-world map (y up) of the released code."""
    import numpy as np

    from hoi_sim.recon.sequence import HOISequence

    if isinstance(result, HOISequence):
        return result
    if not all(hasattr(result, k) for k in ("human", "obj_R", "obj_t")):
        raise HoiSimError(f"solver returned {type(result).__name__}, which has no human/obj_R/obj_t")
    diag = getattr(result, "diagnostics", {}) or {}
    kf = getattr(result, "keyframes", None)
    c2w, up = None, None
    if inp.cam_to_world is not None:
        c2w, up = np.repeat(inp.cam_to_world[None], inp.num_frames, axis=0), "z"
    elif inp.human_global is not None and body_model is not None:
        from hoi_sim.recon.post import camera_to_world

        Rd, td = camera_to_world(body_model, inp.human_incam, inp.human_global, None, inp.num_frames)
        c2w = np.repeat(np.eye(4)[None], inp.num_frames, axis=0)
        c2w[:, :3, :3], c2w[:, :3, 3] = Rd, td
        up = "y (GVHMR world, pelvis-based per-frame map)"
    return HOISequence(human=result.human, obj_vertices=inp.object.vertices, obj_faces=inp.object.faces,
                       obj_R=np.asarray(result.obj_R, np.float64), obj_t=np.asarray(result.obj_t, np.float64),
                       contact_vertex=inp.contact_vertex, K=inp.K, fps=inp.fps, start_frame=inp.start_frame,
                       image_size=inp.image_size, cam_to_world=c2w,
                       meta={"object_file_scale": inp.object.scale, "object_user_scale": inp.object.user_scale,
                             "world_up": up,
                             "diagnostics": diag, "keyframes": [] if kf is None else np.asarray(kf).tolist()})


def _body_model(kind: str, gt_path: Path):
    """The body model to solve (and score) with; a synthetic session's ground truth names its own."""
    import torch

    from hoi_sim.body import load_body_model

    if gt_path.is_file():
        from hoi_sim.recon.sequence import load_sequence

        made_with = load_sequence(gt_path).meta.get("body_model")
        if made_with in ("proxy", "smplx") and kind == "auto":
            kind = made_with
    try:
        return load_body_model(kind, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise InputError(f"--body {kind}: {str(exc).splitlines()[0]}") from None


def _num(v: float | None) -> str:
    return f"{v:9.3f}" if v is not None and math.isfinite(v) else f"{'n/a':>9s}"


def _write_outputs(out: Path, seq, inp, files, cfg, metrics: dict | None) -> Path:
    """Write every output into a hidden staging folder inside ``out``, then move each file into ``out`` (rename):
    a kill or a failure while writing leaves no half-written output there. Returns the path of the
    ``all_parameters_*.json`` written."""
    from hoi_sim.recon.sequence import save_sequence, write_all_parameters

    out.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".solve-partial-", dir=out))
    try:
        save_sequence(seq, stage / "hoi_sequence.npz")
        kp = json.loads(files.annotations.read_text())
        js = write_all_parameters(seq, stage, object_scale=inp.object.user_scale,
                                  kp_records={k: v for k, v in kp.items() if k.isdigit()},
                                  human_global=inp.human_global, object_mesh_path=str(files.mesh.resolve()))
        if cfg is not None:
            import yaml

            write_text_atomic(stage / "solver_config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        if metrics is not None:
            write_json_atomic(stage / "metrics.json", metrics, indent=1)
        for p in sorted(stage.iterdir()):
            os.replace(p, out / p.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out / js.name


def _solve_session(session: Path, out: Path, args: argparse.Namespace, cfg, say) -> tuple[dict | None, dict]:
    """Ingest, solve, score (with ground truth) and write one session into ``out``; returns its metrics (None
    without ground truth) and the solver's diagnostics."""
    from hoi_sim.recon.ingest import describe_missing, load_session, locate
    from hoi_sim.recon.sequence import load_sequence

    files = locate(session)
    if files.missing:
        raise InputError(describe_missing(files))
    say(f"ingest {session} (layout {files.layout})")
    inp = load_session(session, load_masks=not args.no_masks, drop_last_frame=args.drop_last_frame)
    dof = inp.dof_per_frame()
    say(f"  frames {inp.start_frame}..{inp.end_frame - 1} of {inp.video_num_frames} ({inp.width}x{inp.height}, "
        f"{inp.fps:g} fps), object {inp.object.num_vertices} vertices, "
        f"{int(inp.active_pairs().sum())} 3D pairs in {len(inp.contact_frames())} frames, "
        f"{int(inp.track_valid().sum())} 2D points, DoF min {int(dof.min())}, static={inp.static}, "
        f"masks={'yes' if inp.object_masks is not None else 'no'}")
    gt_path = session / "ground_truth.npz"
    body = _body_model(args.body, gt_path)
    if args.ingest_only:
        from hoi_sim.recon.gt_eval import sequence_from_input

        seq = sequence_from_input(inp)
    else:
        say(f"solve with body model '{getattr(body, 'name', type(body).__name__)}'")
        seq = as_sequence(_call_solver(inp, cfg, body, say), inp, body)
        times = {k: v for k, v in seq.meta.get("diagnostics", {}).items() if k.startswith("t_")}
        if times:
            say("  timings: " + ", ".join(f"{k[2:-2]} {v:.2f}s" for k, v in times.items()))
    seq.meta.setdefault("provenance", {}).update({"session": str(session), "ingest": inp.provenance,
                                                  "solver": "ingest-only" if args.ingest_only else "4DHOISolver"})
    metrics = None
    if gt_path.is_file():  # scored before anything is written: a failure leaves the outputs as they were
        from hoi_sim.recon.gt_eval import metrics_with_init, sequence_from_input

        say("scoring against ground_truth.npz")
        metrics = metrics_with_init(seq, sequence_from_input(inp), load_sequence(gt_path), body)
    js = _write_outputs(out, seq, inp, files, cfg, metrics)
    say(f"wrote {out / 'hoi_sequence.npz'} and {js.name}" + (" and metrics.json" if metrics else ""))
    return metrics, seq.meta.get("diagnostics", {})


def _print_metrics(metrics: dict) -> None:
    from hoi_sim.recon.gt_eval import REPORT_KEYS

    print(f"{'metric':22s} {'init':>9s} {'solved':>9s}")
    for k in REPORT_KEYS:
        print(f"{k:22s} {_num(metrics.get('init_' + k))} {_num(metrics.get(k))}")


def _run_batch(args: argparse.Namespace, cfg) -> int:
    """``hoi-sim solve DIR`` on a folder of sessions: see :mod:`hoi_sim.recon.batch`."""
    from hoi_sim.recon.batch import discover_sessions, run_batch

    out: Path = args.out or (args.session / "solved")
    if out.exists() and not out.is_dir():
        raise InputError(f"-o {out}: is an existing file, not a folder")
    sessions = discover_sessions(args.session, exclude=out)
    if not sessions:
        raise InputError(f"{args.session}: no session folders inside")
    print(f"batch: {len(sessions)} sessions under {args.session} -> {out}", flush=True)

    def solve_one(session: Path, staging: Path, log) -> dict | None:
        return _solve_session(session, staging, args, cfg, log)[0]

    summary = run_batch(sessions, out, solve_one, say=lambda m: print(m, flush=True), redo=args.redo)
    print(f"solved {len(summary.solved)} ({len(summary.resumed)} from an earlier run), failed {len(summary.failed)}; "
          f"summary: {out / 'summary.json'}, {out / 'summary.md'}")
    for f in summary.failed:
        print(f"hoi-sim solve: failed: {f['session']}: {f['reason']}", file=sys.stderr)
    return 1 if summary.failed else 0


def run(args: argparse.Namespace) -> int:
    from hoi_sim.recon.batch import is_session_folder

    t0 = time.time()

    def progress(msg: str) -> None:
        print(f"[{time.time() - t0:6.1f}s] {msg}", flush=True)

    cfg = None if args.ingest_only else load_solver_config(args.config, args.set)
    if args.explain:
        from hoi_sim.recon.explain import weights_table

        print(weights_table(cfg or load_solver_config(args.config, args.set)))
        if args.session is None:
            return 0
    if args.session is None:
        raise InputError("a session folder (or a folder of sessions) is required unless --explain is given")
    if not args.session.is_dir():
        raise InputError(f"{args.session}: session folder not found")
    if not is_session_folder(args.session) and any(p.is_dir() for p in args.session.iterdir()):
        return _run_batch(args, cfg)
    out: Path = args.out or (args.session / "final_optimized_parameters")
    if out.exists() and not out.is_dir():
        raise InputError(f"-o {out}: is an existing file, not a folder")
    metrics, diag = _solve_session(args.session, out, args, cfg, progress)
    if metrics is not None:
        _print_metrics(metrics)
    if args.explain and cfg is not None:
        from hoi_sim.recon.explain import balance_table

        print(balance_table(diag, cfg))
    progress("done")
    sys.stdout.flush()
    return 0
