"""Build the HOI env from typed configs (its backend: :func:`hoi_sim.envs.backend.make_env_backend`)."""

from __future__ import annotations

from hoi_sim.envs.config import EnvCfg
from hoi_sim.envs.hoi_env import HOIEnv
from hoi_sim.motions.library import MotionLibrary
from hoi_sim.sim import SimBackend


def make_env(cfg: EnvCfg, library: MotionLibrary, backend: SimBackend | None = None) -> HOIEnv:
    """``HOIEnv(cfg, library, backend)`` (backend built from ``cfg`` when not given)."""
    return HOIEnv(cfg, library, backend)
