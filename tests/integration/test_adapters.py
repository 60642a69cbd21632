"""Adapters: gymnasium's env checker on the single-env view, the vector view, and an rl-games Runner that builds
its agent and player from the registration and runs one short epoch (fake backend: fast, no physics engine)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

from hoi_sim.envs import EnvCfg, HOIEnv
from hoi_sim.envs.adapters import GymEnv, GymVectorEnv, RlGamesVecEnv, register_rlgames
from hoi_sim.envs.toy import toy_motion
from hoi_sim.motions.library import MotionLibrary
from hoi_sim.sim.fake import FakeBackend

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def lib() -> MotionLibrary:
    return MotionLibrary([toy_motion(30, seed=0)])


def make(lib: MotionLibrary, n: int, **kw) -> HOIEnv:
    cfg = EnvCfg(num_envs=n, backend="fake", state_init="random", rollout_length=20, **kw)
    return HOIEnv(cfg, lib, FakeBackend(n))


def test_gymnasium_env_checker_single_view(lib: MotionLibrary) -> None:
    env = GymEnv(make(lib, 1))
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    obs2, r, te, tr, info = env.step(env.action_space.sample())
    assert obs2.shape == (3198,) and obs2.dtype == np.float32 and isinstance(r, float)
    with pytest.raises(ValueError):
        GymEnv(make(lib, 2))


def test_gymnasium_vector_view(lib: MotionLibrary) -> None:
    venv = GymVectorEnv(make(lib, 3, return_final_obs=True))
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (3, 3198) and venv.single_action_space.shape == (153,)
    done_seen = False
    for _ in range(25):
        obs, r, te, tr, info = venv.step(venv.action_space.sample())
        assert obs.shape == (3, 3198) and r.shape == (3,) and te.dtype == bool
        if (te | tr).any():
            done_seen = True
            assert np.array_equal(info["_final_obs"], te | tr)
            assert np.abs(info["final_obs"][te | tr]).sum() > 0
    assert done_seen
    with pytest.raises(ValueError):
        GymVectorEnv(make(lib, 2))


def _rlg_config(name: str, num_actors: int) -> dict:
    return {"params": {
        "seed": 1,
        "algo": {"name": "a2c_continuous"},
        "model": {"name": "continuous_a2c_logstd"},
        "network": {"name": "actor_critic", "separate": True,
                    "space": {"continuous": {"mu_activation": "None", "sigma_activation": "None",
                                             "mu_init": {"name": "default"},
                                             "sigma_init": {"name": "const_initializer", "val": -2.9},
                                             "fixed_sigma": True}},
                    "mlp": {"units": [32, 32], "activation": "relu", "initializer": {"name": "default"}}},
        "config": {"name": "hoi_test", "env_name": name, "device": "cpu", "ppo_device": "cpu", "device_name": "cpu",
                   "multi_gpu": False, "ppo": True, "mixed_precision": False, "normalize_input": True,
                   "normalize_value": False, "normalize_advantage": True, "value_bootstrap": True,
                   "num_actors": num_actors, "reward_shaper": {"scale_value": 1.0}, "gamma": 0.99, "tau": 0.95,
                   "learning_rate": 2e-5, "lr_schedule": "constant", "score_to_win": 1e9, "max_epochs": 1,
                   "save_best_after": 100, "save_frequency": 0, "print_stats": False, "grad_norm": 1.0,
                   "entropy_coef": 0.0, "truncate_grads": False, "e_clip": 0.2, "horizon_length": 4,
                   "minibatch_size": 8, "mini_epochs": 1, "critic_coef": 5, "clip_value": False,
                   "bounds_loss_coef": 10, "torch_compile": False, "env_config": {},
                   "player": {"use_vecenv": True, "games_num": 1, "deterministic": True}},
    }}


def test_rlgames_runner_builds_agent_and_player(lib: MotionLibrary, tmp_path, monkeypatch) -> None:
    from rl_games.torch_runner import Runner

    monkeypatch.chdir(tmp_path)  # rl-games writes runs/ and nn/ under the working directory
    n = 2
    register_rlgames("hoi_sim_test", lambda **kw: make(lib, n), device="cpu")
    runner = Runner()
    runner.load(_rlg_config("hoi_sim_test", n))
    agent = runner.algo_factory.create(runner.algo_name, base_name="run", params=runner.params)
    assert isinstance(agent.vec_env, RlGamesVecEnv)
    assert agent.obs_shape == (3198,) and agent.actions_num == 153
    agent.init_tensors()
    agent.obs = agent.env_reset()
    before = [p.detach().clone() for p in agent.model.parameters()]
    agent.train_epoch()  # one rollout of 4 steps × 2 envs and one PPO update
    after = list(agent.model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))  # the update changed the weights
    player = runner.create_player()
    assert player.actions_num == 153
    obs = player.env_reset(player.env)
    player.has_batch_dimension = True  # what Player.run() sets for a batched vec-env
    action = player.get_action(obs, is_deterministic=True)
    assert tuple(action.shape) == (n, 153)
