"""Typed simulation settings (``SimConfig``): the paper's Table 7 values plus the backend's own choices.

Hydra stays at the CLI edge; library code takes this dataclass. ``SimConfig.from_table7()`` reads
``cfg/sim/table7.yaml``; ``SimConfig.from_yaml(path)`` reads a backend file such as ``cfg/sim/mujoco.yaml``, whose
``table7`` values (if any) override the paper's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from hoi_sim.errors import InputError

CFG_DIR = Path(__file__).resolve().parents[1] / "cfg" / "sim"


@dataclass(frozen=True)
class SimConfig:
    """Physics settings. Units: seconds, metres, kg, kg/m³.

    The first block mirrors Table 7 (names from ``table7.yaml``); the second block holds MuJoCo-side choices that
    Table 7 does not fix (see ``docs/physics.md``).
    """

    # --- Table 7 ---
    sim_dt: float = 1.0 / 60.0
    control_dt: float = 1.0 / 30.0
    num_envs: int = 1024
    substeps: int = 4
    position_iterations: int = 8
    velocity_iterations: int = 1
    contact_offset: float = 0.2
    rest_offset: float = 0.0
    max_depenetration_velocity: float = 20.0
    object_friction: float = 0.6
    object_static_mass: float = 10000.0
    object_dynamic_mass: float = 0.5
    object_restitution: float = 0.05
    ground_restitution: float = 0.1
    object_density: float = 1000.0
    object_max_convex_hulls: int = 64
    # --- backend choices (not in Table 7) ---
    ground_friction: float = 0.9
    """InterMimic's ground friction (static = dynamic 0.9); Table 7 gives none."""
    contact_timeconst: float = 0.02
    """MuJoCo solref time constant (s) of object and ground contacts; must be ≥ 2 × physics dt."""
    self_collision: bool = False
    """InterMimic (Isaac Gym collision filter 1) disables humanoid self-collision."""
    solver_iterations: int = 50
    """MuJoCo Newton solver iterations (PhysX position/velocity iterations have no MuJoCo counterpart)."""
    use_contact_offset: bool = True
    """Map contact/rest offset onto geom margin/gap (True) or leave MuJoCo's default zero margin (False)."""
    mass_mode: str = "density"
    """``density`` (Table 7 density for every object) or ``fixed`` (static → static mass, dynamic → dynamic mass)."""
    contact_force_threshold: float = 0.1
    """A body is "in contact" when a component of its net contact force exceeds this (N), as in InterMimic."""
    nthread: int = 0
    """Threads of the MuJoCo batch (0: one per usable core, ``hoi_sim.threads.usable_cores``: the affinity mask)."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def decimation(self) -> int:
        """Sim steps per control step (2 for 1/60 and 1/30)."""
        d = self.control_dt / self.sim_dt
        if abs(d - round(d)) > 1e-6 or round(d) < 1:
            raise InputError(f"control dt {self.control_dt} is not a whole multiple of sim dt {self.sim_dt}")
        return int(round(d))

    @property
    def physics_dt(self) -> float:
        """Integrator step (s) = sim_dt / substeps (1/240)."""
        return self.sim_dt / self.substeps

    @property
    def physics_steps_per_control(self) -> int:
        """Physics steps in one control step (8)."""
        return self.decimation * self.substeps

    @staticmethod
    def restitution_to_dampratio(e: float) -> float:
        """Damping ratio ζ of a linear spring-damper whose bounce has coefficient of restitution ``e`` (0 < e < 1):
        e = exp(−ζπ/√(1−ζ²))  ⇔  ζ = −ln e / √(π² + ln² e). e → 0 gives ζ → 1 (critically damped)."""
        if e <= 0.0:
            return 1.0
        if e >= 1.0:
            return 0.0
        le = math.log(e)
        return -le / math.sqrt(math.pi**2 + le**2)

    def with_overrides(self, **kw: Any) -> SimConfig:
        """Copy with some fields replaced (unknown names raise ``InputError``)."""
        names = {f.name for f in fields(self)}
        bad = sorted(set(kw) - names)
        if bad:
            raise InputError(f"unknown sim setting(s): {', '.join(bad)}")
        return replace(self, **kw)

    @classmethod
    def from_table7(cls, path: str | Path | None = None) -> SimConfig:
        """Table 7 values from ``cfg/sim/table7.yaml`` (everything else at its default)."""
        from hoi_sim.sim.table7 import load_table7

        return cls().with_overrides(**load_table7(path).settings())

    @classmethod
    def from_yaml(cls, path: str | Path) -> SimConfig:
        """Table 7 then the ``settings`` mapping of a backend yaml (e.g. ``cfg/sim/mujoco.yaml``)."""
        p = Path(path)
        if not p.is_file():
            raise InputError(f"sim config not found: {p}")
        data = yaml.safe_load(p.read_text()) or {}
        settings = data.get("settings", {}) or {}
        if not isinstance(settings, dict):
            raise InputError(f"{p}: 'settings' must be a mapping")
        return cls.from_table7().with_overrides(**settings)

    @classmethod
    def for_backend(cls, name: str) -> SimConfig:
        """``cfg/sim/<name>.yaml`` if it exists, else Table 7 alone."""
        p = CFG_DIR / f"{name}.yaml"
        return cls.from_yaml(p) if p.is_file() else cls.from_table7()
