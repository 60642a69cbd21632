"""Views of a ``HOIEnv`` for RL libraries: rl-games (IsaacGymEnvs-style registration) and gymnasium.

* :class:`RlGamesVecEnv` (``IVecEnv``): torch in, torch out; ``dones = terminated | truncated`` and
  ``infos["time_outs"] = truncated`` so rl-games (``value_bootstrap: True``) bootstraps timeouts only.
  :func:`register_rlgames` registers an env creator under a name (``vecenv.register`` +
  ``env_configurations.register``), which a Runner config then names in ``config.env_name``.
* :class:`GymVectorEnv` (``gymnasium.vector.VectorEnv``): numpy arrays, autoreset in the same step (the env resets
  finished envs inside ``step``; ``infos["final_obs"]`` holds their last observations).
* :class:`GymEnv` (``gymnasium.Env``): a single-env view (``num_envs`` must be 1), for gymnasium tooling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv

from hoi_sim.envs.hoi_env import HOIEnv

try:  # rl-games is a dependency, but keep the gymnasium views importable without it
    from rl_games.common import env_configurations, vecenv
    from rl_games.common.ivecenv import IVecEnv
except ImportError:  # pragma: no cover
    IVecEnv = object  # type: ignore[assignment,misc]
    env_configurations = vecenv = None  # type: ignore[assignment]


def _spaces(env: HOIEnv) -> tuple[spaces.Box, spaces.Box]:
    obs = spaces.Box(-np.inf, np.inf, (env.num_obs,), np.float32)
    act = spaces.Box(-1.0, 1.0, (env.num_actions,), np.float32)
    return obs, act


# --------------------------------------------------------------------------------------------- rl-games
class RlGamesVecEnv(IVecEnv):  # type: ignore[misc,valid-type]
    """rl-games vec-env over a built ``HOIEnv``; tensors are moved to ``device`` (rl-games' ``ppo_device``)."""

    def __init__(self, env: HOIEnv, device: str | torch.device | None = None) -> None:
        self.env = env
        self.device = torch.device(device) if device is not None else env.device
        self.observation_space, self.action_space = _spaces(env)

    def step(self, actions: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, dict]:
        obs, reward, terminated, truncated, info = self.env.step(actions.to(self.env.device))
        info = dict(info)
        info["time_outs"] = truncated.to(self.device)
        dones = (terminated | truncated).to(self.device, torch.uint8)
        return {"obs": obs.to(self.device)}, reward.to(self.device), dones, info

    def reset(self) -> dict[str, torch.Tensor]:
        return {"obs": self.env.reset().to(self.device)}

    def get_number_of_agents(self) -> int:
        return 1

    def get_env_info(self) -> dict[str, Any]:
        return {"observation_space": self.observation_space, "action_space": self.action_space, "agents": 1,
                "value_size": 1}

    def seed(self, seed: int) -> None:
        self.env.generator.manual_seed(int(seed))

    def set_train_info(self, env_frames: int, *args: Any, **kwargs: Any) -> None:
        pass

    def get_env_state(self) -> None:
        return None

    def set_env_state(self, env_state: Any) -> None:
        pass


def register_rlgames(name: str, creator: Callable[..., HOIEnv], device: str | torch.device | None = None) -> None:
    """Make ``creator(**env_config)`` available to rl-games as ``config.env_name = name``.

    Registers a vec-env type ``HOI_SIM_<NAME>`` (``vecenv.register``) and the env name
    (``env_configurations.register``) with ``vecenv_type`` and ``env_creator``, as IsaacGymEnvs does.
    """
    if vecenv is None:
        raise ImportError("rl-games is not installed")
    vec_type = f"HOI_SIM_{name.upper()}"
    vecenv.register(vec_type, lambda config_name, num_actors, **kw: RlGamesVecEnv(creator(**kw), device))
    env_configurations.register(name, {"vecenv_type": vec_type, "env_creator": lambda **kw: creator(**kw)})


# --------------------------------------------------------------------------------------------- gymnasium
def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _info_np(info: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in info.items():
        if isinstance(v, dict):
            out[k] = _info_np(v)
        elif isinstance(v, torch.Tensor):
            out[k] = _np(v)
        else:
            out[k] = v
    return out


class GymVectorEnv(VectorEnv):
    """gymnasium ``VectorEnv`` of the N envs (numpy float32 observations [N, num_obs], actions [N, 153])."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(self, env: HOIEnv) -> None:
        if not env.cfg.return_final_obs:
            raise ValueError("GymVectorEnv needs EnvCfg.return_final_obs=True (same-step autoreset)")
        self.env = env
        self.num_envs = env.num_envs
        self.single_observation_space, self.single_action_space = _spaces(env)
        self.observation_space = spaces.Box(-np.inf, np.inf, (env.num_envs, env.num_obs), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (env.num_envs, env.num_actions), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        if seed is not None:
            self.env.generator.manual_seed(int(seed))
        return _np(self.env.reset()).astype(np.float32), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        a = torch.as_tensor(np.asarray(actions, np.float32), device=self.env.device)
        obs, reward, terminated, truncated, info = self.env.step(a)
        return (_np(obs).astype(np.float32), _np(reward).astype(np.float64), _np(terminated), _np(truncated),
                _info_np(info))

    def close_extras(self, **kwargs: Any) -> None:
        self.env.close()


class GymEnv(gym.Env):
    """Single-env gymnasium view (the wrapped env must have ``num_envs == 1``)."""

    metadata = {"render_modes": []}

    def __init__(self, env: HOIEnv) -> None:
        if env.num_envs != 1:
            raise ValueError(f"GymEnv wraps one env; got num_envs={env.num_envs} (use GymVectorEnv)")
        self.env = env
        self.observation_space, self.action_space = _spaces(env)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:
            self.env.generator.manual_seed(int(seed))
        return _np(self.env.reset()[0]).astype(np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        a = torch.as_tensor(np.asarray(action, np.float32), device=self.env.device)[None]
        obs, reward, terminated, truncated, info = self.env.step(a)
        info_np = {k: v for k, v in _info_np(info).items() if k in ("reward_terms", "terminations", "bad_env_count")}
        return (_np(obs[0]).astype(np.float32), float(reward[0]), bool(terminated[0]), bool(truncated[0]), info_np)

    def close(self) -> None:
        self.env.close()
