"""``hoi-sim train KEY=VALUE …``: train one imitation policy per action subset (rl-games PPO), configured with Hydra.

    hoi-sim train motions=PATH [motions.subset=LABEL] reward=tr|tr_lr|tr_lr_cr|intermimic sim=mujoco|mjwarp \\
                  num_envs=N train.max_epochs=E seed=S out=DIR [train=cpu_small] [train.resume=DIR|auto]
    hoi-sim train -m motions=MANIFEST motions.subset=A,B,C [hydra/launcher=slurm]   (one run per subset)

PATH is a motion file (.npz HOIMotion or InterMimic .pt), a folder of them or a manifest (.yaml/.csv labelling clips
with actions). The config tree is hoi_sim/cfg (config.yaml); see docs/training.md.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hoi_sim.commands.hydra_config import CFG_DIR, compose, normalize_overrides, plain_config
from hoi_sim.errors import HoiSimError

_STATE: dict[str, list] = {"failures": [], "results": []}


def _task(cfg: Any) -> None:
    """The Hydra task: one training run in ``hydra.runtime.output_dir``."""
    from hydra.core.hydra_config import HydraConfig

    from hoi_sim.eval.periodic import PeriodicEval
    from hoi_sim.train.job import job_from_config
    from hoi_sim.train.runner import train

    run_dir = HydraConfig.get().runtime.output_dir
    plain = plain_config(cfg, drop=("eval", "checkpoint"))
    plain["out"] = str(run_dir)
    try:
        result = train(job_from_config(plain), run_dir, make_evaluator=PeriodicEval)
    except Exception as exc:  # noqa: BLE001 - one line per failed job (Hydra would print a trimmed traceback)
        from hoi_sim.errors import debug_enabled, one_line

        if debug_enabled():
            raise
        what = "error" if isinstance(exc, HoiSimError) else f"unexpected error: {type(exc).__name__}"
        print(f"hoi-sim train: {what}: {one_line(exc)}", file=sys.stderr, flush=True)
        _STATE["failures"].append(one_line(exc))
        if "BasicLauncher" not in str(HydraConfig.get().launcher.get("_target_", "BasicLauncher")):
            raise  # a job of a cluster launcher (submitit): let the scheduler see the failure
        return
    _STATE["results"].append(result)
    print(f"[train] done: epoch {result.epoch}, {result.frames} frames; checkpoint {result.checkpoint}", flush=True)


def run_hydra(overrides: list[str], multirun: bool = False, cfg_only: str | None = None) -> int:
    """Run the Hydra app (``@hydra.main``) with ``overrides``; returns 0, or 1 if a job failed."""
    import hydra

    if not multirun and not cfg_only:  # one-line errors before Hydra writes anything (its own message is a page)
        from hoi_sim.train.job import job_from_config
        from hoi_sim.train.runner import preflight

        plain = {k: v for k, v in compose(overrides).items() if k not in ("eval", "checkpoint")}
        preflight(job_from_config(plain))
    from hoi_sim.commands.config_schema import register_schemas

    register_schemas()
    app = hydra.main(config_path=str(CFG_DIR), config_name="config", version_base="1.3")(_task)
    argv = ["hoi-sim-train", *normalize_overrides(overrides)]
    if cfg_only:  # Hydra accepts one of --cfg / --multirun
        argv += ["--cfg", cfg_only]
    elif multirun:
        argv.append("--multirun")
    _STATE["failures"].clear()
    _STATE["results"].clear()
    saved = sys.argv
    sys.argv = argv
    try:
        app()
    except SystemExit as exc:  # Hydra exits on config errors after printing them
        if exc.code not in (0, None):
            raise HoiSimError("invalid configuration, or a job failed (see the messages above)") from None
    finally:
        sys.argv = saved
    return 1 if _STATE["failures"] else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train imitation policies (rl-games PPO; Hydra overrides)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="Hydra overrides")
    p.add_argument("-m", "--multirun", action="store_true", help="one run per combination of swept values")
    p.add_argument("--cfg", choices=("job", "hydra", "all"), help="print the composed config and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_hydra(list(args.overrides), multirun=args.multirun, cfg_only=args.cfg)
