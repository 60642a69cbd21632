"""Reward sets: a dict of named terms with weights and an explicit combination rule.

Evaluation of a set (docs/rewards.md):

1. ``raw_i = TERMS[kernel_i](ctx, **params_i)``, shape [N];
2. ``value_i = w_i · raw_i`` (form ``linear``), ``exp(−w_i · raw_i)`` (form ``exp``) or ``raw_i`` (form ``factor``:
   the kernel already returns a factor in (0, 1]);
3. terms sharing a ``group`` are multiplied into one group value (so an ``exp`` group is ``exp(−Σ w_i raw_i)``);
   a term without a group is its own group;
4. the groups are combined by ``combine``: ``sum`` or ``product``.

A term set to ``None`` (or with ``enabled: false``) is dropped, as in mjlab. The named sets live in
``hoi_sim/cfg/reward/<name>.yaml``: ``tr``, ``tr_lr``, ``tr_lr_cr`` and ``intermimic``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch
import yaml

from hoi_sim.errors import InputError
from hoi_sim.rewards.terms import TERMS, RewardContext

FORMS = ("linear", "exp", "factor")
COMBINE = ("sum", "product")
NAMED_SETS = ("tr", "tr_lr", "tr_lr_cr", "intermimic")


@dataclass
class RewardTermCfg:
    """One term: ``kernel`` (a name in ``terms.TERMS``), ``weight``, ``form`` (linear | exp | factor),
    optional ``group`` and kernel ``params``."""

    kernel: str
    weight: float = 1.0
    form: str = "linear"
    group: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kernel not in TERMS:
            raise InputError(f"unknown reward kernel {self.kernel!r}; known: {', '.join(sorted(TERMS))}")
        if self.form not in FORMS:
            raise InputError(f"reward term form must be one of {FORMS}, got {self.form!r}")


@dataclass
class RewardSetCfg:
    """A named set of terms (``None`` disables a term) and the rule combining their groups."""

    name: str
    combine: str = "sum"
    terms: dict[str, RewardTermCfg | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.combine not in COMBINE:
            raise InputError(f"reward set combine must be one of {COMBINE}, got {self.combine!r}")

    def active_terms(self) -> dict[str, RewardTermCfg]:
        return {n: t for n, t in self.terms.items() if t is not None}


def reward_set_from_dict(d: dict[str, Any]) -> RewardSetCfg:
    """Build a :class:`RewardSetCfg` from plain data (a yaml file or a Hydra node turned into a dict)."""
    terms: dict[str, RewardTermCfg | None] = {}
    for name, t in (d.get("terms") or {}).items():
        if t is None or (isinstance(t, dict) and not t.get("enabled", True)):
            terms[name] = None
            continue
        t = {k: v for k, v in dict(t).items() if k != "enabled"}
        unknown = set(t) - {"kernel", "weight", "form", "group", "params"}
        if unknown:
            raise InputError(f"reward term {name!r}: unknown keys {sorted(unknown)}")
        t.setdefault("kernel", name)
        t["params"] = dict(t.get("params") or {})
        t["weight"] = float(t.get("weight", 1.0))
        terms[name] = RewardTermCfg(**t)
    return RewardSetCfg(name=str(d.get("name", "custom")), combine=str(d.get("combine", "sum")), terms=terms)


def load_reward_set(name_or_path: str | Path) -> RewardSetCfg:
    """A named set (``tr``, ``tr_lr``, ``tr_lr_cr``, ``intermimic``) or a yaml file path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        if not p.exists():
            raise InputError(f"reward set file {p} does not exist")
        text = p.read_text()
    else:
        f = resources.files("hoi_sim").joinpath("cfg", "reward", f"{name_or_path}.yaml")
        if not f.is_file():
            raise InputError(f"unknown reward set {name_or_path!r}; named sets: {', '.join(NAMED_SETS)}")
        text = f.read_text()
    return reward_set_from_dict(yaml.safe_load(text))


class RewardSet:
    """Evaluates a :class:`RewardSetCfg` on a :class:`RewardContext`."""

    def __init__(self, cfg: RewardSetCfg) -> None:
        self.cfg = cfg
        self.terms = cfg.active_terms()
        if not self.terms:
            raise InputError(f"reward set {cfg.name!r} has no active term")

    def __call__(self, ctx: RewardContext) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Returns the reward [N] and a dict of per-term tensors [N]: ``raw/<term>``, ``weighted/<term>``
        (the term's value after its form and weight) and ``group/<group>``."""
        info: dict[str, torch.Tensor] = {}
        groups: dict[str, torch.Tensor] = {}
        for name, t in self.terms.items():
            raw = TERMS[t.kernel](ctx, **t.params)
            if t.form == "linear":
                val = t.weight * raw
            elif t.form == "exp":
                val = torch.exp(-t.weight * raw)
            else:
                val = raw
            info[f"raw/{name}"] = raw
            info[f"weighted/{name}"] = val
            g = t.group or name
            groups[g] = val if g not in groups else groups[g] * val
        total = None
        for g, v in groups.items():
            info[f"group/{g}"] = v
            if total is None:
                total = v
            else:
                total = total + v if self.cfg.combine == "sum" else total * v
        assert total is not None
        return total, info
