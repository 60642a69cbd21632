"""Mixed subset against single clips: ``HOIEnv.step`` control steps/s of one batch mixing 3 objects and 2 skeletons
(sub2 largetable and woodchair, sub8 plasticbox: three asset groups) against batches of the same number of envs on
each of those clips alone, in one process, alternating rounds (medians; zero residual actions).

``mixed_vs_single`` = mixed ÷ the mean of the three single-clip rates (issue target ≥ 0.85); also each single's
ratio and ``mixed_vs_time_weighted`` (÷ the harmonic mean of the singles: what the same envs split evenly over the
three clips would cost with no mixing overhead). ``hoi-sim bench env_throughput`` runs it after its own figures
(``--no-mixed`` skips it); alone: ``python benchmarks/mixed_subset.py [--num-envs 64] [--steps 20] [--rounds 3]``.
Needs ``../shared/data/intermimic`` (``$HOI_SIM_INTERMIMIC``); without it :func:`measure` returns None. Ends with one
JSON line.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from hoi_sim.io_utils import dumps_json

MIXED_CLIPS = ("OMOMO_new/sub2_largetable_000.pt", "OMOMO_new/sub2_woodchair_000.pt",
               "OMOMO_retarget_sub8/sub8_plasticbox_000.pt")


def shared_root() -> Path:
    """The shared InterMimic data folder (``$HOI_SIM_INTERMIMIC`` or ``../shared/data/intermimic``)."""
    return Path(os.environ.get("HOI_SIM_INTERMIMIC", Path(__file__).resolve().parents[2] / "shared" / "data" /
                               "intermimic"))


def build_env(preset: str, reward: str, num_envs: int, motions: str | Path, tmp: str,
              objects: str | Path | None = None) -> Any:
    """``HOIEnv`` as ``hoi-sim train train=<preset> motions=<motions>`` builds it, reset (``objects``: the meshes of
    InterMimic ``.pt`` clips, default beside them)."""
    from hoi_sim.commands.hydra_config import compose
    from hoi_sim.envs.factory import make_env
    from hoi_sim.train.job import build_library, clips_of, env_config, job_from_config

    overrides = [f"motions={motions}", f"train={preset}", f"num_envs={num_envs}", f"reward={reward}",
                 f"out={tmp}/run"] + ([f"motions.objects_dir={objects}"] if objects is not None else [])
    job = job_from_config(compose(overrides))
    ecfg = env_config(job)
    ecfg.backend_kwargs["log_mapping"] = False
    env = make_env(ecfg, build_library(clips_of(job), job.motions.objects_dir, ecfg.device))
    env.reset()
    return env


def measure(num_envs: int = 64, steps: int = 20, rounds: int = 3, preset: str = "cpu_track",
            reward: str = "tr_lr_cr") -> dict | None:
    """Control steps/s (batch steps × ``num_envs``) of the mixed and single-clip batches and their ratios, or None
    without the shared clips."""
    root = shared_root()
    if not all((root / c).is_file() for c in MIXED_CLIPS):
        return None
    envs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="hoi_sim_mixed_") as tmp:
        mixed = Path(tmp) / "mixed"
        mixed.mkdir()
        for c in MIXED_CLIPS:
            (mixed / Path(c).name).symlink_to(root / c)
        envs["mixed"] = build_env(preset, reward, num_envs, mixed, tmp, root / "objects")
        for c in MIXED_CLIPS:
            envs[Path(c).stem] = build_env(preset, reward, num_envs, root / c, tmp, root / "objects")
    rates: dict[str, list[float]] = {k: [] for k in envs}
    for _ in range(rounds):
        for k, env in envs.items():
            zero = torch.zeros(num_envs, env.num_actions)
            env.step(zero)
            t = time.perf_counter()
            for _ in range(steps):
                env.step(zero)
            rates[k].append(num_envs * steps / (time.perf_counter() - t))
    med = {k: statistics.median(v) for k, v in rates.items()}
    singles = [med[Path(c).stem] for c in MIXED_CLIPS]
    res = {"mixed_groups": int(envs["mixed"].lib.num_groups), "num_envs": num_envs,
           "control_env_steps_per_s": {k: round(v, 1) for k, v in med.items()},
           "mixed_vs_single": med["mixed"] / statistics.mean(singles),
           "mixed_vs_time_weighted": med["mixed"] / statistics.harmonic_mean(singles),
           "mixed_vs_each": {Path(c).stem: med["mixed"] / med[Path(c).stem] for c in MIXED_CLIPS}}
    for env in envs.values():
        env.close()
    return res


def report(res: dict) -> None:
    """Print the figures of :func:`measure`."""
    rates = res["control_env_steps_per_s"]
    print(f"mixed subset ({res['mixed_groups']} asset groups, {res['num_envs']} envs): {rates['mixed']:.0f} control "
          f"env-steps/s; single clips: " + ", ".join(f"{k} {v:.0f}" for k, v in rates.items() if k != "mixed"))
    print(f"mixed_vs_single {res['mixed_vs_single']:.2f} (vs the mean of the singles; target ≥ 0.85), "
          f"vs time-weighted {res['mixed_vs_time_weighted']:.2f}, vs each: "
          + ", ".join(f"{k} {v:.2f}" for k, v in res["mixed_vs_each"].items()))


def main(argv: list[str] | None = None) -> dict | None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--num-envs", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20, help="control steps per measurement")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds (medians)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    res = measure(args.num_envs, args.steps, args.rounds)
    if res is None:
        print(f"mixed subset: skipped, {shared_root()} does not hold {', '.join(MIXED_CLIPS)}")
        return None
    report(res)
    print(dumps_json(res))
    return res


if __name__ == "__main__":
    main()
