"""The vectorized HOI imitation env, its typed configs, and adapters for rl-games and gymnasium."""

from hoi_sim.envs.backend import make_env_backend, object_hulls
from hoi_sim.envs.config import EnvCfg
from hoi_sim.envs.factory import make_env
from hoi_sim.envs.hoi_env import HOIEnv

__all__ = ["EnvCfg", "HOIEnv", "make_env", "make_env_backend", "object_hulls"]
