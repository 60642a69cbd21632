"""The paper's Table 7 (``cfg/sim/table7.yaml``) and how each backend maps every row.

``load_table7()`` parses and checks the file (15 rows, each with the printed hyperparameter and value);
``mapping(backend)`` says per row whether the backend reproduces it exactly, approximately (and how) or not at all;
``describe_mapping()`` is the text printed by ``hoi-sim info --sim`` and logged by the backends at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hoi_sim.errors import InputError

TABLE7_PATH = Path(__file__).resolve().parents[1] / "cfg" / "sim" / "table7.yaml"
NUM_ROWS = 15


@dataclass(frozen=True)
class Table7Row:
    """One row: the printed cells, the SimConfig field name(s) and parsed value(s)."""

    hyperparameter: str
    value: str
    key: tuple[str, ...]
    parsed: tuple[Any, ...]


@dataclass(frozen=True)
class Table7:
    """All rows of Table 7 in the paper's order."""

    rows: tuple[Table7Row, ...]

    def settings(self) -> dict[str, Any]:
        """``{SimConfig field: value}`` for every row."""
        out: dict[str, Any] = {}
        for r in self.rows:
            out.update(dict(zip(r.key, r.parsed)))
        return out


def load_table7(path: str | Path | None = None) -> Table7:
    """Read and check ``table7.yaml`` (default: the packaged one). Raises ``InputError`` on a malformed file."""
    p = Path(path) if path is not None else TABLE7_PATH
    try:
        data = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise InputError(f"cannot read Table 7 file {p}: {e}") from e
    rows_in = (data or {}).get("rows")
    if not isinstance(rows_in, list) or len(rows_in) != NUM_ROWS:
        raise InputError(f"{p}: expected {NUM_ROWS} rows under 'rows'")
    rows = []
    for i, r in enumerate(rows_in):
        try:
            key = r["key"] if isinstance(r["key"], list) else [r["key"]]
            parsed = r["parsed"] if isinstance(r["parsed"], list) else [r["parsed"]]
            rows.append(Table7Row(str(r["hyperparameter"]), str(r["value"]), tuple(key), tuple(parsed)))
        except (KeyError, TypeError) as e:
            raise InputError(f"{p}: row {i + 1} needs hyperparameter, value, key, parsed ({e})") from e
        if len(rows[-1].key) != len(rows[-1].parsed):
            raise InputError(f"{p}: row {i + 1}: key and parsed differ in length")
    return Table7(tuple(rows))


# Per row: (status, how). status ∈ {"exact", "approximate", "not applicable"}.
_MUJOCO: dict[str, tuple[str, str]] = {
    "Sim dt": ("exact", "sim step 1/60 s = 4 MuJoCo steps of opt.timestep 1/240 s"),
    "Control dt": ("exact", "one step() = 2 sim steps = 8 physics steps via mujoco.rollout(nstep=8); PD targets"
                            " held constant (zero-order hold)"),
    "Number of envs": ("exact", "config value (training default 1024); CPU runs usually override it (64)"),
    "Number of substeps": ("exact", "opt.timestep = sim_dt / 4 = 1/240 s, integrator implicitfast"),
    "Number of pos iterations": ("not applicable", "PhysX TGS solver iterations; MuJoCo uses its Newton solver"
                                                   " (opt.iterations = solver_iterations, converged)"),
    "Number of vel iterations": ("not applicable", "PhysX-only; MuJoCo has no separate velocity pass"),
    "Contact offset": ("approximate", "geom gap = contact offset - rest offset = 0.2 on every geom; MuJoCo 4 sums"
                                      " margin and gap over a pair and detects it within margin + gap, as PhysX,"
                                      " but such inactive contacts carry no force (no speculative contacts)"),
    "Rest offset": ("exact", "geom margin = rest offset = 0: forces start at distance 0 (pair margin = sum)"),
    "Max depenetration velocity": ("approximate", "no velocity clamp in MuJoCo; penetration is resolved by the"
                                                  " soft-contact spring (solref time constant 0.02 s), which"
                                                  " bounds the recovery speed"),
    "Object friction": ("exact", "object geoms friction 0.6 with geom priority 1, so every object contact uses"
                                 " 0.6 (MuJoCo would otherwise take the max of the pair)"),
    "Object static mass": ("exact", "mass_mode 'fixed' and a static motion: free body of mass 10000 kg,"
                                    " inertia scaled from the hull shape"),
    "Object dynamic mass": ("exact", "mass_mode 'fixed' and a dynamic motion: mass 0.5 kg, inertia scaled"
                                     " from the hull shape"),
    "Object & ground restitution": ("approximate", "solref (timeconst 0.02, dampratio ζ) with"
                                                   " e = exp(-ζπ/√(1-ζ²)): e 0.05 → ζ 0.69 (object geoms),"
                                                   " e 0.1 → ζ 0.59 (ground); priority 1 on both"),
    "Object density": ("exact", "mass_mode 'density': geom density 1000 kg/m³ over the convex hulls"),
    "Object max convex hulls": ("approximate", "coacd (not V-HACD) with max_convex_hull 64, cached by mesh"
                                               " hash; each hull a mesh geom"),
}

# mujoco-warp runs the same MjModel (hoi_sim.sim.mjwarp); only the stepping differs.
_MJWARP: dict[str, tuple[str, str]] = {
    **_MUJOCO,
    "Control dt": ("exact", "one step() = 2 sim steps = 8 mujoco_warp.step calls (one captured graph); PD targets"
                            " held constant (zero-order hold)"),
}

_BACKENDS: dict[str, dict[str, tuple[str, str]]] = {"mujoco": _MUJOCO, "mjwarp": _MJWARP}


def mapping(backend: str = "mujoco") -> list[tuple[Table7Row, str, str]]:
    """``[(row, status, how)]`` for every Table 7 row under ``backend`` (mujoco, mjwarp or fake)."""
    table = load_table7()
    if backend == "fake":
        return [(r, "not applicable", "kinematic fake backend: no physics") for r in table.rows]
    rules = _BACKENDS.get(backend)
    if rules is None:
        raise InputError(f"no Table 7 mapping for backend {backend!r} (known: {', '.join(sorted(_BACKENDS))})")
    return [(r, *rules[r.hyperparameter]) for r in table.rows]


def describe_mapping(backend: str = "mujoco") -> str:
    """Human-readable Table 7 → backend mapping (one line per row plus the fixed choices)."""
    lines = [f"Table 7 → {backend} backend (cfg/sim/table7.yaml; details in docs/physics.md):"]
    for row, status, how in mapping(backend):
        lines.append(f"  {row.hyperparameter:28s} {row.value:11s} {status:14s} {how}")
    if backend in _BACKENDS:
        lines.append("  not in Table 7: humanoid self-collision off (as InterMimic), ground friction 0.9"
                     " (InterMimic), contact = net force component > 0.1 N (InterMimic), PD = MuJoCo position"
                     " actuators (kp, kv) integrated by implicitfast")
    return "\n".join(lines)
