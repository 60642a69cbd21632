"""Training throughput: PPO samples/s (rl-games, ``hoi-sim train``) beside env stepping alone, in the same run.

Both halves use the same env (N envs, default 64, MuJoCo CPU backend, one clip):
- ``env``: ``HOIEnv.step`` with random actions (σ = 0.2) — the baseline;
- ``ppo``: ``hoi_sim.train.train`` for a few epochs (policy inference, env stepping, GAE and the PPO update);
  samples/s over the epochs after the first (warm-up), from the run's ``progress.csv``.
``"ratio"`` = ppo samples/s ÷ env samples/s (1.0 would mean learning costs nothing beyond stepping).
Ends with one JSON line.

Usage: ``python benchmarks/train_throughput.py [--num-envs 64] [--epochs 4] [--preset cpu_small|intermimic]
[--motion PATH] [KEY=VALUE ...]`` (default motion: the synthetic toy clip of ``hoi_sim.envs.toy``; extra Hydra
overrides, e.g. ``train.cpu_bf16=true``, apply to both halves).
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

import torch

from hoi_sim.commands.hydra_config import compose
from hoi_sim.envs.factory import make_env
from hoi_sim.io_utils import dumps_json
from hoi_sim.threads import auto_threads, rerun_with_sleeping_threads
from hoi_sim.train.job import build_library, clips_of, env_config, job_from_config
from hoi_sim.train.runner import train


def env_only(job, steps: int, seed: int = 0) -> float:
    """Env samples per second of ``steps`` control steps with random actions."""
    ecfg = env_config(job)
    env = make_env(ecfg, build_library(clips_of(job), job.motions.objects_dir, ecfg.device))
    gen = torch.Generator().manual_seed(seed)
    env.reset()
    env.step(torch.zeros(env.num_envs, env.num_actions))  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        env.step(0.2 * torch.randn(env.num_envs, env.num_actions, generator=gen))
    dt = time.perf_counter() - t0
    env.close()
    return env.num_envs * steps / dt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--num-envs", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--preset", default="cpu_small", help="train preset (hoi_sim/cfg/train)")
    ap.add_argument("--motion", default=None, help="motion file/folder/manifest (default: synthetic toy clip)")
    ap.add_argument("overrides", nargs="*", help="extra Hydra overrides for the training job")
    args = ap.parse_args()
    rerun_with_sleeping_threads()

    with tempfile.TemporaryDirectory(prefix="hoi_sim_bench_") as tmp:
        motion = args.motion
        if motion is None:
            from hoi_sim.envs.toy import toy_motion
            from hoi_sim.motions import save_motion

            motion = str(save_motion(toy_motion(120), Path(tmp) / "toy.npz"))
        cfg = compose([f"motions={motion}", f"train={args.preset}", f"num_envs={args.num_envs}", "env=test",
                       f"train.max_epochs={args.epochs}", f"train.save_every={args.epochs}", "train.progress_every=0",
                       f"out={tmp}/run", *args.overrides])
        cfg.pop("eval", None)
        cfg.pop("checkpoint", None)
        job = job_from_config(cfg)
        horizon = job.ppo.horizon_length
        torch.set_num_threads(auto_threads(job.ppo.torch_threads))  # the same torch threads as the training half
        env_sps = env_only(job, steps=horizon * max(1, args.epochs - 1))
        train(job)
        rows = list(csv.DictReader(open(Path(tmp) / "run" / "progress.csv")))
    first, last = rows[0], rows[-1]
    frames = float(last["frames"]) - float(first["frames"])
    secs = float(last["elapsed_s"]) - float(first["elapsed_s"])
    ppo_sps = frames / secs if secs > 0 else float("nan")
    print(f"env stepping alone: {env_sps:.0f} samples/s; PPO training: {ppo_sps:.0f} samples/s "
          f"({args.num_envs} envs, preset {args.preset}, horizon {horizon}, epochs 2..{args.epochs})")
    print(dumps_json({"benchmark": "train_throughput", "num_envs": args.num_envs, "preset": args.preset,
                      "epochs": args.epochs, "env_samples_per_s": round(env_sps, 1),
                      "ppo_samples_per_s": round(ppo_sps, 1), "ratio": round(ppo_sps / env_sps, 3),
                      "torch_threads": auto_threads(job.ppo.torch_threads),
                      "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "cpu_bf16": job.ppo.cpu_bf16,
                      "overrides": args.overrides}))


if __name__ == "__main__":
    main()
