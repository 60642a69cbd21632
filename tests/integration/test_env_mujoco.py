"""HOIEnv on the MuJoCo CPU backend with a real OMOMO_new clip (skips without ../shared).

Default: 64 envs × 60 control steps with random actions (≈15–25 s on 2 cores). The full 64 × 300 run (≈60 s
quiet, ≈120 s on a loaded 2-core machine) is marked ``slow`` and runs with ``HOI_SIM_SLOW_TESTS=1``.
A NaN written into one env's MuJoCo state is detected, that env is reset and counted, and the others go on.
"""

from __future__ import annotations

import pytest
import torch

from hoi_sim.envs import EnvCfg, HOIEnv
from hoi_sim.motions.library import MotionLibrary

NUM_ENVS = 64


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def env(omomo_clips, objects_dir) -> HOIEnv:
    from hoi_sim.motions.intermimic import from_intermimic

    clip = next(p for p in omomo_clips if p.stem == "sub2_largetable_000")
    lib = MotionLibrary([from_intermimic(clip, objects_dir)])
    cfg = EnvCfg(num_envs=NUM_ENVS, backend="mujoco", reward="tr_lr_cr", state_init="hybrid", seed=0,
                 backend_kwargs={"object_collision": "convex_hull", "log_mapping": False})
    e = HOIEnv(cfg, lib)
    yield e
    e.close()


def _run(env: HOIEnv, steps: int) -> dict:
    g = torch.Generator().manual_seed(0)
    obs = env.reset()
    assert obs.shape == (NUM_ENVS, 3198) and bool(torch.isfinite(obs).all())
    done = 0
    for _ in range(steps):
        obs, r, te, tr, info = env.step(torch.rand(NUM_ENVS, 153, generator=g) * 2 - 1)
        assert bool(torch.isfinite(obs).all()) and bool(torch.isfinite(r).all())
        assert not bool((te & tr).any())
        done += int((te | tr).sum())
        for v in info["reward_terms"].values():
            assert bool(torch.isfinite(v).all())
    return {"done": done, "bad_total": info["bad_env_total"]}


@pytest.mark.slow
def test_random_actions_64_envs_300_steps(env: HOIEnv) -> None:
    """The acceptance run: 64 envs × 300 control steps of random actions on a real clip, no exception."""
    out = _run(env, 300)
    assert out["done"] > 0  # random PD targets make the humanoid fail: resets are exercised


def test_corrupted_env_is_reset_and_counted(env: HOIEnv) -> None:
    env.reset()
    zero = torch.zeros(NUM_ENVS, 153)
    hold = (env.state.dof_pos - env.action_offset) / env.action_scale  # hold the reference pose
    env.step(hold)
    before_total = env.bad_env_total
    progress = env.progress.clone()
    victim = 5
    env.backend.datas[victim].qpos[:] = float("nan")
    _, r, te, tr, info = env.step(hold)
    assert bool(info["bad_envs"][victim]) and info["bad_env_count"] >= 1
    assert env.bad_env_total == before_total + info["bad_env_count"]
    assert bool(te[victim]) and float(r[victim]) == 0.0 and int(env.progress[victim]) == 0
    others = ~(te | tr)
    assert int(others.sum()) > NUM_ENVS // 2  # holding the reference pose, most envs go on
    assert torch.equal(env.progress[others], progress[others] + 1)
    s = env.state
    assert bool(torch.isfinite(s.body_pos).all()) and bool(torch.isfinite(s.obj_pos).all())
    obs, *_ = env.step(zero)
    assert bool(torch.isfinite(obs).all())
