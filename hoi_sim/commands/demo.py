"""``hoi-sim demo``: the embedded end-to-end run, with nothing from ``../shared`` and no licensed file.

1. scene: the package's own scripted clip (neutral humanoid puts both palms on a static box, ``demo_scene``);
2. ``hoi-sim synth``: a synthetic annotated session (proxy body, rendered masks, §9.6 contact pairs, noisy init);
3. ``hoi-sim solve``: 4DHOISolver on it (metrics against the ground truth in ``solve/metrics.json``);
4. ``hoi-sim convert``: retarget the solver output to a 52-body motion file (``motion.npz``), validated;
5. ``hoi-sim train``: a brief CPU PPO run per reward setting (tr, tr_lr, tr_lr_cr);
6. ``hoi-sim eval``: the Table-1-style report (``report.md``/``.csv``/``.json``/``.png``);
7. ``hoi-sim render``: an mp4 of the tr_lr_cr policy with the reference as a ghost (``demo.mp4``).

Each step is the public command, called in-process, so the demo exercises exactly what users run.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from hoi_sim.errors import HoiSimError

REWARDS = ("tr", "tr_lr", "tr_lr_cr")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="end-to-end demo on the embedded scene (synth → solve → retarget → train → "
                                    "eval → render)", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("demo_out"), help="output folder (default: ./demo_out)")
    p.add_argument("--frames", type=int, default=60, help="clip length in frames at 30 fps (default 60)")
    p.add_argument("--epochs", type=int, default=30, help="PPO epochs per reward setting (default 30)")
    p.add_argument("--num-envs", type=int, default=32, help="parallel envs for training (default 32)")
    p.add_argument("--solver-config", default="fast", help="solver preset (default: fast)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a reduced run for tests (fewer frames, epochs, pixels)")
    p.set_defaults(func=run)


def _step(name: str, argv: list[str], t0: float) -> None:
    from hoi_sim import cli

    print(f"[demo {time.time() - t0:6.1f} s] {name}: hoi-sim {' '.join(argv)}", flush=True)
    rc = cli.main(argv)
    if rc != 0:
        raise HoiSimError(f"demo step '{name}' failed (exit {rc}); see the message above")


def run(args: argparse.Namespace) -> int:
    from hoi_sim.demo_scene import scripted_reach_motion
    from hoi_sim.motions import save_motion

    t0 = time.time()
    out: Path = args.out.resolve()
    frames, epochs, envs, size = args.frames, args.epochs, args.num_envs, "192x192"
    if args.quick:
        frames, epochs, envs, size = min(frames, 24), min(epochs, 2), min(envs, 8), "96x96"
    out.mkdir(parents=True, exist_ok=True)

    reference = out / "reference_motion.npz"
    save_motion(scripted_reach_motion(num_frames=frames), reference)
    print(f"[demo {time.time() - t0:6.1f} s] scene: {reference} ({frames} frames, palms onto a static box)")

    session = out / "session"
    _step("synth", ["synth", str(reference), "-o", str(session), "--seed", str(args.seed), "--size", size,
                    "--force"], t0)
    solved = out / "solve"
    _step("solve", ["solve", str(session), "-o", str(solved), "--config", args.solver_config, "--body", "proxy"], t0)
    motion = out / "motion.npz"
    _step("retarget", ["convert", str(solved / "hoi_sequence.npz"), "-o", str(motion), "--action", "touch",
                       "--force"], t0)
    _step("validate", ["validate", str(motion)], t0)

    runs = []
    for reward in REWARDS:
        run_dir = out / "runs" / reward
        if run_dir.exists():  # the demo's own earlier run: start afresh (a user's run would be resumed instead)
            shutil.rmtree(run_dir)
        _step(f"train {reward}", ["train", f"motions={motion}", f"reward={reward}", "train=cpu_small",
                                  f"num_envs={envs}", f"train.max_epochs={epochs}", f"seed={args.seed}",
                                  f"out={run_dir}"], t0)
        runs.append(run_dir)
    _step("eval", ["eval", "checkpoint=" + ",".join(str(r) for r in runs), f"motions={motion}", f"out={out}"], t0)
    video = out / "demo.mp4"
    _step("render", ["render", str(motion), "--checkpoint", str(runs[-1]), "-o", str(video), "--width", "512",
                     "--height", "384", "--force"], t0)

    _print_survival(out / "report.json")
    print(f"\ndemo finished in {time.time() - t0:.0f} s; outputs in {out}:")
    for label, path in (("session", session), ("solver output", solved / "hoi_sequence.npz"),
                        ("solver metrics", solved / "metrics.json"), ("motion", motion),
                        ("checkpoints", out / "runs"), ("report", out / "report.md"),
                        ("report data", out / "report.json"), ("plot", out / "report.png"), ("video", video)):
        print(f"  {label:15s} {path}{'' if path.exists() else '  (missing!)'}")
    return 0


def _print_survival(report: Path) -> None:
    """One line per policy: control steps it stayed up from frame 0 against the clip's (report.json)."""
    import json

    if not report.is_file():
        return
    clips = json.loads(report.read_text()).get("clips", [])
    length = {c["clip"]: c["frames"] for c in clips if c.get("setting") == "reference"}
    print()
    for c in (c for c in clips if c.get("setting") != "reference"):
        total = max(1, int(length.get(c["clip"], c["frames"] + 1)) - 1)
        end = "" if c.get("reached_end") else f", then ended ({c.get('ended_by') or 'terminated'})"
        print(f"[demo] {c['setting']}: stayed up {c['frames']} of {total} control steps "
              f"({100.0 * c['frames'] / total:.0f}% of the clip){end}")
    print("[demo] these are seconds-long trainings; for a policy that tracks a whole clip, train "
          "`hoi-sim train train=cpu_track motions=CLIP` (docs/training.md)")
