"""Simulation backends behind one interface (DESIGN §5.3, docs/contracts.md).

``make_backend(name, **kw)`` imports the backend lazily: ``mujoco`` (CPU, default), ``mjwarp`` (GPU, extra ``gpu``),
``fake`` (kinematic, for tests). The state dataclasses and the abstract class live in ``hoi_sim.sim.base``.
"""

from __future__ import annotations

import importlib
from typing import Any

from hoi_sim.errors import InputError
from hoi_sim.sim.base import ResetState, SimBackend, SimState
from hoi_sim.sim.config import SimConfig

_BACKENDS: dict[str, tuple[str, str]] = {
    "mujoco": ("hoi_sim.sim.mujoco", "MujocoBackend"),
    "mjwarp": ("hoi_sim.sim.mjwarp", "MjWarpBackend"),
    "fake": ("hoi_sim.sim.fake", "FakeBackend"),
}

BACKEND_NAMES: tuple[str, ...] = tuple(_BACKENDS)


def make_backend(name: str, **kw: Any) -> SimBackend:
    """Build the backend ``name`` with keyword arguments passed to its constructor.

    Raises ``InputError`` for an unknown name or a backend whose dependencies are not installed.
    """
    if name not in _BACKENDS:
        raise InputError(f"unknown sim backend {name!r} (choose from {', '.join(BACKEND_NAMES)})")
    module, cls = _BACKENDS[name]
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        hint = " (pip install 'hoi-sim[gpu]')" if name == "mjwarp" else ""
        raise InputError(f"sim backend {name!r} is not available: {e}{hint}") from e
    return getattr(mod, cls)(**kw)


__all__ = ["BACKEND_NAMES", "ResetState", "SimBackend", "SimConfig", "SimState", "make_backend"]
