"""rl-games ``IVecEnv`` view of a built ``HOIEnv`` and its registration (IsaacGymEnvs style).

``step`` returns ``({"obs": [N, num_obs]}, reward [N], dones [N] uint8, infos)`` with ``dones = terminated |
truncated`` and ``infos["time_outs"] = truncated`` (so rl-games bootstraps timeouts only). Tensors move between
the env's device and the PPO device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from rl_games.common import env_configurations, vecenv
from rl_games.common.ivecenv import IVecEnv


class RlGamesVecEnv(IVecEnv):
    """Wraps an env with ``reset() -> obs``, ``step(actions) -> (obs, reward, terminated, truncated, info)``,
    ``num_envs``, ``num_obs``, ``num_actions`` and ``device``.

    Args:
        env: the HOI env.
        device: where rl-games keeps its tensors (observations and rewards are moved there).
    """

    def __init__(self, env: Any, device: str | torch.device) -> None:
        self.env = env
        self.device = torch.device(device)

    def _obs(self, obs: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"obs": obs.to(self.device, torch.float32)}

    def step(self, actions: torch.Tensor):  # noqa: ANN201 - rl-games' tuple
        obs, reward, terminated, truncated, info = self.env.step(actions.to(self.env.device))
        dones = (terminated | truncated).to(self.device, torch.uint8)
        info = dict(info)
        info["time_outs"] = truncated.to(self.device)
        return self._obs(obs), reward.to(self.device, torch.float32), dones, info

    def reset(self) -> dict[str, torch.Tensor]:
        return self._obs(self.env.reset())

    def get_number_of_agents(self) -> int:
        return 1

    def get_env_info(self) -> dict[str, Any]:
        from gymnasium import spaces

        return {
            "observation_space": spaces.Box(-np.inf, np.inf, (int(self.env.num_obs),), np.float32),
            "action_space": spaces.Box(-1.0, 1.0, (int(self.env.num_actions),), np.float32),
            "agents": 1,
            "value_size": 1,
        }


def register_env(name: str, env: Any, device: str | torch.device) -> RlGamesVecEnv:
    """Register a built env under ``name`` for rl-games (``config.env_name = name``); returns the wrapper."""
    wrapped = RlGamesVecEnv(env, device)
    vecenv.register(name, lambda config_name, num_actors, **kwargs: wrapped)
    env_configurations.register(name, {"vecenv_type": name, "env_creator": lambda **kwargs: wrapped})
    return wrapped
