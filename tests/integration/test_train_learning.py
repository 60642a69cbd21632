"""Learning check: a short, seeded PPO run of TR+LR+CR with the ``train=cpu_track`` preset (residual actions, fingers
on the reference, PSI, tighter early termination) on one OMOMO_new clip (32 envs, CPU) raises both the mean episode
length and the mean episode return of the deterministic policy over the untrained one (``nn/ep_0.pth``), measured
from the same 32 start frames spread over the clip.

The shipped ``tr_lr_cr`` puts the LR and CR penalties inside R_tr's exponent (R = exp(−(E_p + E_v + λ_lr R_lr +
λ_c Σ‖…‖²)) > 0, docs/rewards.md). With the paper's additive −λ terms the per-step reward of an untrained policy is
negative (TR ≈ 0 while the contact penalty stays) and PPO first learns to end episodes early.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hoi_sim.cli import main

EPOCHS = 30
NUM_ENVS = 32
CAP = 40  # control steps per evaluation episode

POSITIVE_CR = ["reward=tr_lr_cr"]


def _measure(checkpoint) -> tuple[float, float]:
    """(mean episode length, mean episode return) of the deterministic policy from 32 fixed start frames."""
    from hoi_sim.eval.policy import load_policy
    from hoi_sim.eval.rollout import ClipEnv, rollout_clips
    from hoi_sim.motions.library import MotionLibrary
    from hoi_sim.motions.manifest import load_clip
    from hoi_sim.train.job import clips_of, env_config, write_reward

    policy = load_policy(checkpoint)
    motion = load_clip(clips_of(policy.job)[0])
    reward = write_reward(policy.job, checkpoint.parent / "eval_reward.yaml")
    cfg = env_config(policy.job, num_envs=NUM_ENVS, reward_path=reward, state_init="start",
                     rollout_length=motion.num_frames + 1)
    starts = torch.linspace(0, motion.num_frames - CAP - 1, NUM_ENVS).long()
    env = ClipEnv(cfg, MotionLibrary([motion]), assigned=torch.zeros(NUM_ENVS, dtype=torch.long),
                  start_frames=starts)
    try:
        rollouts = rollout_clips(env, policy.act, CAP)
    finally:
        env.close()
    return float(np.mean([r.steps for r in rollouts])), float(np.mean([r.episode_return for r in rollouts]))


@pytest.mark.slow
@pytest.mark.shared_data
def test_ppo_improves_episode_length_and_reward(omomo_dir, tmp_path):
    from hoi_sim.motions import save_motion
    from hoi_sim.motions.manifest import load_clip

    clip = save_motion(load_clip(omomo_dir / "sub2_largetable_000.pt"), tmp_path / "sub2_largetable_000.npz")
    run = tmp_path / "run"
    rc = main(["train", f"motions={clip}", "train=cpu_track", "env=test", "env.rollout_length=120",
               f"num_envs={NUM_ENVS}", f"train.max_epochs={EPOCHS}", "train.eval_every=0",
               f"train.save_every={EPOCHS}", "train.progress_every=5", "seed=0", f"out={run}", *POSITIVE_CR])
    assert rc == 0
    len0, ret0 = _measure(run / "nn" / "ep_0.pth")
    len1, ret1 = _measure(run / "nn" / "last.pth")
    print(f"untrained: length {len0:.2f}, return {ret0:.3f}; after {EPOCHS} epochs: length {len1:.2f}, "
          f"return {ret1:.3f}")
    assert len1 > len0 + 0.5
    assert ret1 > ret0 + 0.05
