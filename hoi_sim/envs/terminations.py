"""Early terminations: pure tensor tests (InterMimic's, reference/intermimic-notes.md §4.4) and the named terms
that compose a setting's termination set.

Each test returns an [N] bool mask. N envs, Kb key bodies, P object surface points. The sets live in
``hoi_sim/cfg/termination/<name>.yaml``; the env uses the set named like its reward set unless told otherwise
(``EnvCfg.termination_set``), with per-term overrides (``EnvCfg.terminations``). Every term waits
``grace_steps`` control steps after a reset (InterMimic: tests apply when progress > 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import yaml

from hoi_sim.config_mapping import from_mapping, named_set_file
from hoi_sim.errors import InputError

if TYPE_CHECKING:
    from hoi_sim.sim.base import SimState


def bad_state(s: SimState, max_abs_position: float, max_abs_velocity: float) -> torch.Tensor:
    """[N] bool: the backend flagged env i, or a number of its state is not finite, or a body or the object lies
    beyond ``max_abs_position`` (m), or a body or DOF moves faster than ``max_abs_velocity`` (m/s, rad/s)."""
    rows = (s.root_pos, s.root_quat, s.body_pos, s.body_lin_vel, s.body_ang_vel, s.dof_pos, s.dof_vel, s.obj_pos,
            s.obj_quat, s.obj_lin_vel, s.obj_ang_vel)
    ok = torch.isfinite(torch.cat([t.flatten(1) for t in rows], 1)).all(-1)  # one pass over the rows side by side
    big_pos = torch.maximum(s.body_pos.abs().flatten(1).amax(-1), s.obj_pos.abs().amax(-1))
    big_vel = torch.maximum(s.body_lin_vel.abs().flatten(1).amax(-1), s.dof_vel.abs().amax(-1))
    return s.bad.to(torch.bool) | ~ok | (big_pos > max_abs_position) | (big_vel > max_abs_velocity)


def fallen(root_pos: torch.Tensor, height: float) -> torch.Tensor:
    """Root height below ``height`` (m): root_pos [N,3] → [N]."""
    return root_pos[:, 2] < height


def key_body_error(ref_key_pos: torch.Tensor, sim_key_pos: torch.Tensor, threshold: float,
                   reduce: str = "mean") -> torch.Tensor:
    """Mean (or max) key-body distance (m) above ``threshold``: [N,Kb,3] ×2 → [N]."""
    d = (ref_key_pos - sim_key_pos).norm(dim=-1)
    return (d.amax(-1) if reduce == "max" else d.mean(-1)) > threshold


def object_error(ref_points: torch.Tensor, sim_points: torch.Tensor, threshold: float) -> torch.Tensor:
    """Mean distance (m) of corresponding object surface samples above ``threshold``: [N,P,3] ×2 → [N]."""
    return (ref_points - sim_points).norm(dim=-1).mean(-1) > threshold


def interaction_graph_broken(sim_key_pos: torch.Tensor, sim_points: torch.Tensor, ref_key_pos: torch.Tensor,
                             ref_points: torch.Tensor, ratio: float = 2.0, floor: float = 0.5) -> torch.Tensor:
    """InterMimic's IG test on e_kj = x_k − p_j (key body k, object point j), sim and reference:
    any pair with ‖e − e_ref‖ > ratio·max(‖e_ref‖, floor) or > ratio·max(‖e‖, floor). → [N] bool."""
    diff = torch.cdist(sim_key_pos - ref_key_pos, sim_points - ref_points)  # ‖e_sim − e_ref‖, [N,Kb,P]
    lim = ratio * torch.minimum(torch.cdist(ref_key_pos, ref_points).clamp_min(floor),
                                torch.cdist(sim_key_pos, sim_points).clamp_min(floor))
    return (diff > lim).flatten(1).any(-1)


def hand_missing(label: torch.Tensor, contact: torch.Tensor, hand_ids: torch.Tensor) -> torch.Tensor:
    """The reference says the hand touches (a label > 0.1 among ``hand_ids``) and none of its bodies touches:
    label [N,52], contact [N,52] bool, hand_ids [H] → [N] bool."""
    ref_touch = (label[:, hand_ids] > 0.1).any(-1)
    sim_touch = contact[:, hand_ids].any(-1)
    return ref_touch & ~sim_touch


# ---------------------------------------------------------------------------------------------------------------
# Named termination terms, composed per reward setting (hoi_sim/cfg/termination/<set>.yaml), as rewards are.

@dataclass
class FallCfg:
    """Root (Pelvis) height below ``height`` (m). InterMimic tests it after step 1 (``grace_steps`` 1)."""

    height: float = 0.3
    grace_steps: int = 1


@dataclass
class BodyErrorCfg:
    """Key-body position error (m) over the 21 key bodies above ``threshold``; ``reduce``: mean (InterMimic) or max
    (PHC-style: any key body farther than the threshold)."""

    threshold: float = 0.5
    reduce: str = "mean"
    grace_steps: int = 1

    def __post_init__(self) -> None:
        if self.reduce not in ("mean", "max"):
            raise InputError(f"body_error.reduce must be 'mean' or 'max', got {self.reduce!r}")


@dataclass
class ObjectErrorCfg:
    """Mean distance (m) between simulated and reference object surface samples above ``threshold``."""

    threshold: float = 0.5
    grace_steps: int = 1


@dataclass
class InteractionGraphCfg:
    """InterMimic's IG test: any (key body, object point) with |e − e_ref| > ratio·max(|e_ref|, floor) or
    > ratio·max(|e|, floor) (m)."""

    ratio: float = 2.0
    floor: float = 0.5
    grace_steps: int = 1


@dataclass
class HandContactCfg:
    """A hand misses a reference contact for more than ``max_steps`` consecutive control steps."""

    max_steps: int = 10
    grace_steps: int = 1


TERM_TYPES: dict[str, type] = {"fall": FallCfg, "body_error": BodyErrorCfg, "object_error": ObjectErrorCfg,
                               "interaction_graph": InteractionGraphCfg, "hand_contact": HandContactCfg}
"""Every termination term by name; a set enables a subset of them."""
CFG_DIR = Path(__file__).resolve().parents[1] / "cfg" / "termination"


@dataclass
class TerminationSet:
    """The enabled terms of one setting (name → its settings dataclass); terms absent or ``None`` are off."""

    name: str
    terms: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        return self.terms.get(name)


def _term(name: str, params: dict[str, Any] | None, where: str) -> Any:
    if name not in TERM_TYPES:
        raise InputError(f"{where}: unknown termination {name!r}; known: {sorted(TERM_TYPES)}")
    return from_mapping(TERM_TYPES[name], params, f"{where}: termination {name!r}")


def load_termination_set(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> TerminationSet:
    """A termination set by name (``hoi_sim/cfg/termination/<name>.yaml``) or yaml path, with ``overrides``
    (term → mapping of changed settings, or ``None`` to switch the term off; a term the set lacks is switched on
    with its defaults plus the given settings)."""
    p = named_set_file("termination", name_or_path, CFG_DIR)
    data = yaml.safe_load(p.read_text()) or {}
    raw: dict[str, Any] = {k: (dict(v) if v is not None else None) for k, v in (data.get("terms") or {}).items()}
    for k, v in (overrides or {}).items():
        if v is None:
            raw[k] = None
        elif not isinstance(v, dict):
            raise InputError(f"env.terminations.{k}: give a mapping of settings or null (off), got {v!r}")
        else:
            merged = dict(raw.get(k) or {})
            merged.update(dict(v))
            raw[k] = merged
    terms = {k: _term(k, v, str(p)) for k, v in raw.items() if v is not None}
    return TerminationSet(name=str(data.get("name", p.stem)), terms=terms)


def termination_set_for_reward(reward: str) -> str:
    """The termination set documented for a reward setting: the set named like the reward set (``tr``, ``tr_lr``,
    ``tr_lr_cr``, ``intermimic``); for a reward yaml path, the set named like its ``name`` field; else ``tr``
    (no contact-based terminations unless asked)."""
    name = reward
    p = Path(reward)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        name = str((yaml.safe_load(p.read_text()) or {}).get("name", p.stem))
    return name if (CFG_DIR / f"{name}.yaml").is_file() else "tr"
