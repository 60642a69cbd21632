"""``train(job)``: rl-games PPO on the HOI imitation env.

rl-games is driven through its documented extension points only: the env is registered with
``vecenv.register`` + ``env_configurations.register`` (IsaacGymEnvs style), the network with
``model_builder.register_network``, the agent on ``Runner.algo_factory``, and progress/checkpoints come from an
``AlgoObserver``. Timeouts bootstrap the value and terminations do not: the env returns ``dones = terminated |
truncated`` and ``infos["time_outs"] = truncated``, and rl-games 1.6.5 (``value_bootstrap: True``) adds
γ·V(s_t)·time_out to the reward of timed-out steps (``a2c_common.play_steps``), the IsaacGymEnvs approximation of
bootstrapping from the final state.

Run folder layout: ``nn/config.yaml`` (the resolved config), ``nn/provenance.json`` (package version, git commit
and library versions of every session, resumes included: ``hoi_sim.provenance``), ``nn/last.pth`` +
``nn/ep_<epoch>.pth`` (resumable rl-games checkpoints: model with its input normaliser, optimizer, epoch, frame),
``nn/ep_0.pth`` (the untrained policy), ``summaries/`` (TensorBoard), ``progress.csv`` (one row per epoch, see
:class:`~hoi_sim.train.agent.ProgressObserver`; with ``train.eval_every`` > 0 also the metrics of a deterministic
rollout of every training clip by the ``make_evaluator`` given to :func:`train`; ``hoi-sim train`` passes
:class:`~hoi_sim.eval.periodic.PeriodicEval`, since training sits below evaluation and does not import it).
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from hoi_sim.errors import InputError
from hoi_sim.io_utils import write_text_atomic
from hoi_sim.motions.manifest import check_clips, read_clip
from hoi_sim.provenance import record_session
from hoi_sim.train.agent import LAST, HoiA2CAgent, ProgressObserver, register_networks
from hoi_sim.train.checkpoint import load_checkpoint, resume_checkpoint
from hoi_sim.train.config import ALGO_NAME, resolve_device, rlgames_params
from hoi_sim.train.job import (
    CONFIG_NAME,
    TrainJob,
    build_library,
    check_assets,
    check_env_keys,
    clips_of,
    env_config,
    write_reward,
)
from hoi_sim.train.run_folder import check_out_dir, ensure_unlocked, run_lock, truncate_progress


@dataclass
class TrainResult:
    """What a finished run left: its folder, last checkpoint, final epoch and frame count."""

    run_dir: Path
    checkpoint: Path
    epoch: int
    frames: int


_counter = itertools.count()
log = logging.getLogger(__name__)
MakeEvaluator = Callable[..., Any]
"""``make_evaluator(job, library, reward_path=...)`` -> an evaluator for ``train.eval_every``: called as
``evaluator(model) -> {column: value}`` (:data:`~hoi_sim.train.agent.EVAL_COLUMNS`) and closed with ``close()``."""


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and ``random``: network initialisation and action sampling."""
    import random

    import numpy as np

    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def run_checkpoint(job: TrainJob, run: Path) -> Path | None:
    """The checkpoint ``job`` continues from in ``run`` (None: a fresh start); ``InputError`` when a fresh start
    would overwrite a run folder's training."""
    nn_dir = run / "nn"
    if job.ppo.resume == "auto":  # continue this run folder if it holds a checkpoint (e.g. a requeued SLURM job)
        ckpt = nn_dir / LAST if (nn_dir / LAST).is_file() else None
    else:
        ckpt = resume_checkpoint(job.ppo.resume) if job.ppo.resume else None
    if ckpt is None and (nn_dir / LAST).exists():
        raise InputError(f"{run} already holds a training run; continue it with train.resume={run} "
                         "or choose another out=DIR")
    return ckpt


def preflight(job: TrainJob, run_dir: str | os.PathLike | None = None) -> Path:
    """Everything a training checks before it writes anything or builds any physics: ``out`` is not a file nor
    locked by a running training, a fresh start does not overwrite a run, the checkpoint to resume loads with
    ``weights_only=True``, every clip is valid (``motions.checked``) and its assets can be simulated together
    (``check_assets``: any mix on mujoco).
    Returns the run folder."""
    check_env_keys(job)
    run = check_out_dir(run_dir or job.out)
    ensure_unlocked(run)
    ckpt = run_checkpoint(job, run)
    if ckpt is not None:
        load_checkpoint(ckpt, resumable=True)
    clips = clips_of(job)
    check_clips(clips, job.motions.objects_dir)
    check_assets([read_clip(c, job.motions.objects_dir) for c in clips], [str(c.path) for c in clips],
                 str(job.sim.get("backend", "mujoco")))
    return run


def train(job: TrainJob, run_dir: str | os.PathLike | None = None, *,
          make_evaluator: MakeEvaluator | None = None) -> TrainResult:
    """Train one policy for ``job``; returns where it went. ``run_dir`` defaults to ``job.out``; ``make_evaluator``
    gives the ``train.eval_every`` evaluation (none without it).

    The run folder is locked for the whole training (a second training into it is refused); a resumed run's
    ``progress.csv`` is cut back to the restored epoch first, so each epoch appears once."""
    check_env_keys(job)
    run = check_out_dir(run_dir or job.out)
    with run_lock(run):
        ckpt = run_checkpoint(job, run)
        resumed = load_checkpoint(ckpt, resumable=True) if ckpt else None  # weights_only=True, before any work
        clips = clips_of(job)
        check_clips(clips, job.motions.objects_dir)
        truncate_progress(run, int(resumed["epoch"]) if resumed else 0)
        return _train(job, run, clips, ckpt, resumed, make_evaluator)


def _train(job: TrainJob, run: Path, clips: list, ckpt: Path | None, resumed: dict[str, Any] | None,
           make_evaluator: MakeEvaluator | None = None) -> TrainResult:
    from rl_games.torch_runner import Runner

    from hoi_sim.envs.adapters import register_rlgames
    from hoi_sim.envs.factory import make_env

    nn_dir = run / "nn"
    nn_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(nn_dir / CONFIG_NAME, yaml.safe_dump(job.resolved, sort_keys=False))
    record_session(nn_dir, epoch=int(resumed["epoch"]) if resumed else 0)
    reward_path = write_reward(job, nn_dir / "reward.yaml")
    device = resolve_device(job.ppo.device)
    ecfg = env_config(job, reward_path=reward_path)
    library = build_library(clips, job.motions.objects_dir, ecfg.device, ecfg.backend)
    env = make_env(ecfg, library)
    name = f"hoi_sim_{os.getpid()}_{next(_counter)}"
    register_rlgames(name, lambda **kw: env, device)  # the built env, wrapped by envs.adapters.RlGamesVecEnv
    register_networks()
    params = rlgames_params(job.ppo, env_name=name, num_envs=env.num_envs, seed=job.seed, run_dir=run,
                            device=device)
    evaluator = (make_evaluator(job, library, reward_path=reward_path)
                 if make_evaluator is not None and job.ppo.eval_every > 0 else None)
    if job.ppo.eval_every > 0 and make_evaluator is None:
        log.warning("train.eval_every=%d but no evaluator was given to train(): progress.csv gets no eval columns "
                    "(`hoi-sim train` passes hoi_sim.eval.periodic.PeriodicEval)", job.ppo.eval_every)
    observer = ProgressObserver(run, max_epochs=job.ppo.max_epochs, save_every=job.ppo.save_every,
                                keep=job.ppo.keep_checkpoints, progress_every=job.ppo.progress_every,
                                eval_every=job.ppo.eval_every, evaluator=evaluator,
                                max_minutes=job.ppo.max_minutes)
    runner = Runner(algo_observer=observer)

    def make_agent(**kw: Any) -> HoiA2CAgent:
        agent = HoiA2CAgent(**kw)
        agent.preloaded = resumed  # restore() takes the state read above (never rl-games' unpickling loader)
        return agent

    runner.algo_factory.register_builder(ALGO_NAME, make_agent)
    runner.load({"params": params})
    print(f"[train] {len(clips)} clip(s), {env.num_envs} envs, obs {env.num_obs}, reward {job.reward_name}, "
          f"backend {ecfg.backend}, PPO on {device}; run folder {run}"
          + (f"; resuming from {ckpt}" if ckpt else ""), flush=True)
    seed_everything(job.seed)  # rl-games skips seeding when the seed is 0 (``if self.seed:``)
    try:
        runner.run({"train": True, "play": False, "checkpoint": str(ckpt) if ckpt else None})
    finally:
        env.close()
        if evaluator is not None:
            evaluator.close()
    state = load_checkpoint(nn_dir / LAST)
    return TrainResult(run, nn_dir / LAST, int(state["epoch"]), int(state["frame"]))

