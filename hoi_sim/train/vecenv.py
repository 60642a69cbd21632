"""Registration of an already built ``HOIEnv`` with rl-games (IsaacGymEnvs style), for one training run.

The vec-env itself is :class:`hoi_sim.envs.adapters.RlGamesVecEnv` (``dones = terminated | truncated``,
``infos["time_outs"] = truncated`` so rl-games bootstraps timeouts only; tensors moved to the PPO device).
"""

from __future__ import annotations

from typing import Any

import torch
from rl_games.common import env_configurations, vecenv

from hoi_sim.envs.adapters import RlGamesVecEnv


def register_env(name: str, env: Any, device: str | torch.device) -> RlGamesVecEnv:
    """Register a built env under ``name`` for rl-games (``config.env_name = name``); returns the wrapper."""
    wrapped = RlGamesVecEnv(env, device)
    vecenv.register(name, lambda config_name, num_actors, **kwargs: wrapped)
    env_configurations.register(name, {"vecenv_type": name, "env_creator": lambda **kwargs: wrapped})
    return wrapped
