"""Imitation benchmark: train ``train=cpu_track`` on one clip for at most M minutes of wall time, evaluate the
deterministic policy from frame 0, and compare with PD replay of the same clip (no policy).

Usage: ``hoi-sim bench imitation CLIP [--minutes M] [--out DIR] [--reward tr_lr_cr] [KEY=VALUE ...]``
(CLIP: a HOIMotion ``.npz`` or an InterMimic ``.pt``; extra KEY=VALUE go to ``hoi-sim train`` as Hydra overrides).

Steps, each a ``hoi-sim`` command so that the benchmark exercises what a user runs:
1. ``hoi-sim train train=cpu_track motions=CLIP reward=R train.max_minutes=M out=DIR/run``;
2. ``hoi-sim eval checkpoint=DIR/run/nn/best.pth motions=CLIP out=DIR/eval`` (deterministic, frame 0, the run's
   own env): the policy of the run's best periodic evaluation (``train.eval_every``: furthest into the clip, then
   lowest MPJPE); the last policy is evaluated too, into ``DIR/eval_last``;
3. ``hoi-sim plot DIR/run -o DIR/curves.png``;
4. PD replay of the clip under the run's physics settings (``hoi_sim.commands.replay.replay_pd``).

Last line, one JSON object: ``clip, minutes, control_steps_per_s`` (training env steps per wall second, evaluations
excluded), ``success`` (the policy reached the clip's last frame), ``ended_by`` (the termination terms that ended its
rollout; null when it reached the end), ``mpjpe_mm`` (52 bodies), ``contact_mm``
(surface contact, mean over active graph edges), ``jitter`` (Eq. 24, m/s³), ``reference_contact_mm`` (the clip's own
contact, the floor a policy is judged against), ``frames_survived``, ``pd_replay_mpjpe_mm``,
``pd_replay_seconds``, ``curve_png``, ``run_dir``, ``checkpoint`` (``best`` or ``last``: which policy the fields
above describe), ``best_epoch``, ``package`` (``{hoi_sim, commit, dirty}``: the code that trained and evaluated;
``hoi_sim.provenance``), and ``last``: ``{success, frames_survived, mpjpe_mm, contact_mm, ended_by}`` of the
last policy.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hoi_sim.io_utils import dumps_json
from hoi_sim.train.checkpoint import BEST, BEST_JSON


def _hoi_sim(*args: str) -> None:
    cmd = [sys.executable, "-m", "hoi_sim.cli", *args]
    print("$ hoi-sim " + " ".join(args), flush=True)
    rc = subprocess.call(cmd)
    if rc != 0:
        raise SystemExit(f"bench imitation: `hoi-sim {args[0]}` failed with exit code {rc}")


def _mean_fps(progress: Path) -> float:
    """Training env steps per second (the ``fps`` column, evaluations excluded) over the run's last epoch."""
    with progress.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return float("nan")
    return float(rows[-1]["fps"])


def _policy_row(report: Path) -> tuple[dict, dict]:
    """(policy, reference) per-clip results of ``report.json`` for the one clip evaluated: each a dict of the
    metrics plus ``frames`` (frames reached) and ``success`` (1.0 when the rollout reached the last frame)."""
    data = json.loads(report.read_text())
    out: dict[str, dict] = {}
    for c in data.get("clips", []):
        key = "reference" if c.get("setting") == "reference" else "policy"
        out.setdefault(key, {**(c.get("metrics") or {}), "frames": c.get("frames"),
                             "success": 1.0 if c.get("reached_end") else 0.0, "ended_by": c.get("ended_by", "")})
    return out.get("policy", {}), out.get("reference", {})


def _num(v: object) -> float | None:
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clip", help="a HOIMotion .npz or an InterMimic .pt file")
    ap.add_argument("--minutes", type=float, default=30.0, help="training wall-time budget (default 30)")
    ap.add_argument("--out", default=None, help="output folder (default: a new temporary folder, kept)")
    ap.add_argument("--reward", default="tr_lr_cr", help="reward setting (tr, tr_lr, tr_lr_cr, intermimic)")
    ap.add_argument("--objects", default=None, help="object meshes of a .pt clip (default: objects/ beside it)")
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides for hoi-sim train")
    args = ap.parse_intermixed_args()  # overrides may follow the options
    clip = Path(args.clip)
    if not clip.is_file() or clip.suffix not in (".npz", ".pt"):
        raise SystemExit(f"bench imitation: {clip} is not a .npz or .pt motion file")
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="hoi_sim_imitation_"))
    out.mkdir(parents=True, exist_ok=True)
    run, ev, ev_last, png = out / "run", out / "eval", out / "eval_last", out / "curves.png"
    extra = [f"motions.objects_dir={args.objects}"] if args.objects else []
    t0 = time.perf_counter()
    _hoi_sim("train", "train=cpu_track", f"motions={clip}", f"reward={args.reward}",
             f"train.max_minutes={args.minutes}", f"out={run}", *extra, *args.overrides)
    train_s = time.perf_counter() - t0
    best = run / "nn" / BEST
    _hoi_sim("eval", f"checkpoint={run}", f"motions={clip}", f"out={ev_last}", *extra)
    if best.is_file():
        _hoi_sim("eval", f"checkpoint={best}", f"motions={clip}", f"out={ev}", *extra)
    else:  # no periodic evaluation ran (train.eval_every=0 or a run shorter than one period)
        ev = ev_last
    _hoi_sim("plot", str(run), "-o", str(png))

    from hoi_sim.eval.replay import replay_pd
    from hoi_sim.motions.manifest import load_clip
    from hoi_sim.provenance import provenance
    from hoi_sim.train.job import job_from_config, load_run_config, sim_config

    prov = provenance()
    sim_cfg = sim_config(job_from_config(load_run_config(run)).sim)
    pd = replay_pd(load_clip(clip, args.objects), sim_cfg)
    pol, ref = _policy_row(ev / "report.json")
    last, _ = _policy_row(ev_last / "report.json")
    best_meta = run / "nn" / BEST_JSON
    best_epoch = json.loads(best_meta.read_text()).get("epoch") if ev != ev_last and best_meta.is_file() else None
    result = {
        "clip": clip.stem, "minutes": round(train_s / 60.0, 2),
        "control_steps_per_s": round(_mean_fps(run / "progress.csv"), 1),
        "success": _num(pol.get("success")), "ended_by": pol.get("ended_by") or None,
        "mpjpe_mm": _num(pol.get("mpjpe_mm")),
        "contact_mm": _num(pol.get("contact_mm")), "jitter": _num(pol.get("jitter")),
        "reference_contact_mm": _num(ref.get("contact_mm")), "frames_survived": _num(pol.get("frames")),
        "pd_replay_mpjpe_mm": _num(pd.get("mpjpe_mm")), "pd_replay_seconds": _num(pd.get("seconds_survived")),
        "curve_png": str(png), "run_dir": str(run),
        "checkpoint": "best" if ev != ev_last else "last", "best_epoch": best_epoch,
        "package": {k: prov[k] for k in ("hoi_sim", "commit", "dirty")},
        "last": {"success": _num(last.get("success")), "frames_survived": _num(last.get("frames")),
                 "mpjpe_mm": _num(last.get("mpjpe_mm")), "contact_mm": _num(last.get("contact_mm")),
                 "ended_by": last.get("ended_by") or None},
    }
    print(dumps_json(result))


if __name__ == "__main__":
    main()
