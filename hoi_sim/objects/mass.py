"""Object mass from its convex hulls: Table 7 density (1000 kg/m³) or the fixed static / dynamic masses.

Rules (Table 7, DESIGN §5.2):
- ``mass_mode="density"`` (default): every hull has density ``density``; mass = density × Σ hull volumes.
- ``mass_mode="fixed"``: the motion's ``meta["mass_mode"]`` picks the mass, ``static_mass`` (10000 kg) for an
  object annotated static and ``dynamic_mass`` (0.5 kg) for a dynamic one; the hulls get the uniform density
  mass / Σ volumes, so the inertia keeps the shape's distribution.
Volumes are summed per hull (overlaps count twice), as MuJoCo and PhysX do for compound shapes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import ConvexHull as _QHull

from hoi_sim.errors import InputError
from hoi_sim.objects.hulls import ConvexHull

DEFAULT_DENSITY = 1000.0
STATIC_MASS = 10000.0
DYNAMIC_MASS = 0.5
MASS_MODES = ("density", "fixed")
MOTION_MASS_MODES = ("dynamic", "static")


@dataclass(frozen=True)
class ObjectMass:
    """Resolved mass: ``density`` (kg/m³) to give every hull geom, total ``mass`` (kg), ``volume`` (m³), ``rule``."""

    density: float
    mass: float
    volume: float
    rule: str


def hull_volumes(hulls: list[ConvexHull]) -> np.ndarray:
    """Volume (m³) [H] of each hull's convex hull (qhull); 0 for a degenerate (flat) hull."""
    out = []
    for h in hulls:
        try:
            out.append(float(_QHull(np.asarray(h.vertices, np.float64)).volume))
        except Exception:  # noqa: BLE001 - qhull raises QhullError for flat or tiny point sets
            out.append(0.0)
    return np.asarray(out, dtype=np.float64)


def resolve_object_mass(hulls: list[ConvexHull], *, mass_mode: str = "density",
                        motion_mass_mode: str = "dynamic", density: float = DEFAULT_DENSITY,
                        static_mass: float = STATIC_MASS, dynamic_mass: float = DYNAMIC_MASS) -> ObjectMass:
    """Density and mass of an object made of ``hulls`` under the rules of the module docstring.

    Args:
        hulls: convex parts (object frame, m).
        mass_mode: ``density`` or ``fixed``.
        motion_mass_mode: the motion's ``meta["mass_mode"]``, ``dynamic`` or ``static``.
        density, static_mass, dynamic_mass: Table 7 values (kg/m³, kg, kg).
    """
    if mass_mode not in MASS_MODES:
        raise InputError(f"mass_mode must be one of {MASS_MODES}, got {mass_mode!r}")
    if motion_mass_mode not in MOTION_MASS_MODES:
        raise InputError(f"motion mass mode must be one of {MOTION_MASS_MODES}, got {motion_mass_mode!r}")
    volume = float(hull_volumes(hulls).sum())
    if volume <= 0.0:
        raise InputError("object hulls have zero volume")
    if mass_mode == "density":
        if density <= 0:
            raise InputError(f"density must be positive, got {density}")
        return ObjectMass(density=float(density), mass=float(density) * volume, volume=volume,
                          rule=f"density {density:g} kg/m^3")
    mass = static_mass if motion_mass_mode == "static" else dynamic_mass
    if mass <= 0:
        raise InputError(f"{motion_mass_mode} mass must be positive, got {mass}")
    return ObjectMass(density=float(mass) / volume, mass=float(mass), volume=volume,
                      rule=f"fixed {motion_mass_mode} mass {mass:g} kg")
