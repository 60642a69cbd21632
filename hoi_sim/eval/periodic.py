"""Deterministic evaluation during training: every ``PPOConfig.eval_every`` epochs the running policy plays every
training clip from frame 0 (``hoi_sim.eval.rollout``: env i plays clip i, frozen once it ends) and the
:class:`~hoi_sim.train.agent.ProgressObserver` logs ``eval_mpjpe_mm``, ``eval_clip_frac`` and ``eval_success``.
``hoi-sim train`` hands :class:`PeriodicEval` to ``hoi_sim.train.runner.train`` as its ``make_evaluator`` (training
sits below evaluation and does not import it).

The eval env is a separate :class:`~hoi_sim.eval.rollout.ClipEnv` built from the job's own env config
(:func:`hoi_sim.train.job.env_config` with ``state_init="start"``, one env per clip) on the training library, built
at the first evaluation and reused. Its terminations are the reward setting's documented set at its own thresholds,
as in ``hoi-sim eval``: a preset's tighter early termination (``cpu_track``) is for training samples, not the
success test. The policy is rl-games' running model (with its input normaliser), used as
:class:`~hoi_sim.eval.policy.Policy` (deterministic mean action clipped to [−1, 1]) in eval mode under
``torch.no_grad``; the model's mode is restored afterwards.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from hoi_sim.eval import metrics as M

if TYPE_CHECKING:
    from hoi_sim.eval.rollout import ClipEnv, ClipRollout
    from hoi_sim.motions.library import MotionLibrary
    from hoi_sim.train.job import TrainJob


def summarize_rollouts(rollouts: Sequence[ClipRollout], clip_length_s: Sequence[float],
                       control_dt: float) -> dict[str, float]:
    """Training-eval columns of deterministic rollouts, one per clip.

    Args:
        rollouts: one :class:`~hoi_sim.eval.rollout.ClipRollout` per clip (frames 0..K, K = ``steps``).
        clip_length_s: [C] each clip's length in s (``(num_frames − 1) / fps``).
        control_dt: control period of the rollouts (s).

    Returns:
        ``eval_mpjpe_mm``: per clip the MPJPE over all 52 bodies and the frames survived (1..K), in mm, then the
        mean over clips (NaN when no clip survived a step); ``eval_clip_frac``: per clip the time survived over
        the clip's length (1 when it reached the last frame, at most 1), mean over clips; ``eval_success``:
        fraction of clips whose rollout reached the last frame.
    """
    if len(rollouts) != len(clip_length_s):
        raise ValueError(f"{len(rollouts)} rollouts for {len(clip_length_s)} clip lengths")
    if not rollouts:
        nan = float("nan")
        return {"eval_mpjpe_mm": nan, "eval_clip_frac": nan, "eval_success": nan}
    mpjpe, frac = [], []
    for r, length in zip(rollouts, clip_length_s):
        sl = slice(1, r.steps + 1)
        mpjpe.append(M.mpjpe(r.sim["body_pos"][sl], r.ref["body_pos"][sl]) if r.steps > 0 else float("nan"))
        frac.append(1.0 if r.reached_end else min(1.0, r.steps * control_dt / max(float(length), 1e-9)))
    survived = [v for v in mpjpe if not np.isnan(v)]
    return {"eval_mpjpe_mm": float(np.mean(survived)) if survived else float("nan"),
            "eval_clip_frac": float(np.mean(frac)),
            "eval_success": M.success_rate([r.reached_end for r in rollouts])}


class PeriodicEval:
    """``evaluator(model) -> {eval_mpjpe_mm, eval_clip_frac, eval_success}`` for the ``ProgressObserver``.

    Args:
        job: the training job (its env group, backend, seed; its ``ppo`` for the :class:`Policy` wrapper).
        library: the training library (every clip is rolled out once; all hold the backend's one object).
        reward_path: the composed reward set written beside the checkpoints (None for a built-in name), so the
            eval env builds the same reward as the training env.
        max_steps: cap on control steps per clip (0 = the whole clip).
    """

    def __init__(self, job: TrainJob, library: MotionLibrary, *, reward_path: str | Path | None = None,
                 max_steps: int = 0) -> None:
        self.job = job
        self.library = library
        self.reward_path = reward_path
        self.max_steps = int(max_steps)
        self.env: ClipEnv | None = None

    def build_env(self) -> ClipEnv:
        """The eval env (built once): one env per clip, frame-0 starts, episodes as long as the longest clip."""
        if self.env is None:
            from hoi_sim.eval.rollout import ClipEnv, eval_env_overrides
            from hoi_sim.train.job import env_config

            lib = self.library
            cfg = env_config(self.job, num_envs=lib.num_motions, reward_path=self.reward_path,
                             **eval_env_overrides("setting", int(lib.num_frames.max())))
            self.env = ClipEnv(cfg, lib, assigned=torch.arange(lib.num_motions))
        return self.env

    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        """Roll out every clip with ``model``'s deterministic action; the model's train/eval mode is restored."""
        from hoi_sim.eval.policy import Policy
        from hoi_sim.eval.rollout import rollout_clips

        env = self.build_env()
        device = next(model.parameters()).device
        policy = Policy(model, self.job, Path(self.job.out) / "nn" / "running.pth", -1, device)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                rollouts = rollout_clips(env, policy.act, self.max_steps)
        finally:
            model.train(was_training)
        lengths = self.library.length_s[env.assigned].tolist()
        return summarize_rollouts(rollouts, lengths, env.control_dt)

    def close(self) -> None:
        """Close the eval env's backend (when it was built)."""
        if self.env is not None:
            self.env.close()
            self.env = None

    def __enter__(self) -> PeriodicEval:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
