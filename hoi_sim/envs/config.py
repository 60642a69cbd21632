"""Typed configuration of the HOI imitation env (Hydra stays at the CLI edge; yaml in ``hoi_sim/cfg/env``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from hoi_sim.config_mapping import from_mapping
from hoi_sim.envs.actions import ActionCfg
from hoi_sim.envs.observations import load_observation_set
from hoi_sim.envs.psi import PsiCfg
from hoi_sim.envs.terminations import TerminationSet, load_termination_set, termination_set_for_reward
from hoi_sim.errors import InputError

STATE_INITS = ("start", "random", "hybrid")


@dataclass
class EnvCfg:
    """The HOI imitation env.

    Attributes:
        num_envs: N parallel envs.
        backend: sim backend name for ``hoi_sim.sim.make_backend`` (``mujoco``, ``mjwarp``, ``fake``).
        backend_kwargs: extra keyword arguments for the backend constructor.
        device: torch device of the library and all env tensors (the backend's device is used when it differs).
        reward: a named reward set (``tr``, ``tr_lr``, ``tr_lr_cr``, ``intermimic``) or a yaml path.
        state_init: ``start`` (frame 0), ``random`` (uniform start frame) or ``hybrid`` (frame 0 with probability
            ``hybrid_start_prob``, else random) — InterMimic's reference state initialisation without PSI.
        start_range: where random start frames come from: ``clip`` (uniform over the whole clip, the default) or
            ``intermimic`` (InterMimic's [0, max(1, T − rollout_length)), which is only frame 0 for every clip
            shorter than ``rollout_length`` — all OMOMO clips at 300 — so no episode would start in contact).
        psi: physical state initialisation (``hoi_sim.envs.psi``; ``slots: 1`` = off).
        action: how actions become PD targets (``hoi_sim.envs.actions.ActionCfg``: mode, residual scale, fingers,
            knee scale, clip).
        termination_set: ``auto`` (the set documented for the reward setting,
            ``hoi_sim/cfg/termination/<reward>.yaml``), a set name or a yaml path.
        terminations: per-term overrides of that set: term → mapping of settings, or ``None`` to switch it off.
        rollout_length: episode length cap in control steps (a timeout, not a termination).
        obs_horizons: reference look-ahead of each observation block, in control steps (InterMimic: 1 and 16).
        observation: the terms of one observation block: a named set (``hoi_sim/cfg/observation/<name>.yaml``,
            default ``intermimic``, InterMimic's 1599-number teacher block) or a yaml path (docs/observations.md).
        contact_source: which sim contact flag the observation, InterMimic reward and hand termination read:
            ``any`` (InterMimic: ground included) or ``obj``.
        max_abs_position: a body farther than this from the origin (m) marks the env as exploded.
        max_abs_velocity: a body or DOF velocity above this (m/s or rad/s) marks the env as exploded.
        seed: seed of the env's sampling generator.
        return_final_obs: also return ``info["final_obs"]`` [N, num_obs] (observations of finished envs before
            their reset; 0 elsewhere) and ``info["_final_obs"]`` [N] bool (gymnasium's same-step autoreset).
    """

    num_envs: int = 64
    backend: str = "mujoco"
    backend_kwargs: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    reward: str = "tr_lr_cr"
    state_init: str = "hybrid"
    hybrid_start_prob: float = 0.1
    start_range: str = "clip"
    rollout_length: int = 300
    obs_horizons: tuple[int, ...] = (1, 16)
    observation: str = "intermimic"
    contact_source: str = "any"
    max_abs_position: float = 1.0e3
    max_abs_velocity: float = 1.0e4
    seed: int = 0
    return_final_obs: bool = False
    psi: PsiCfg = field(default_factory=PsiCfg)
    action: ActionCfg = field(default_factory=ActionCfg)
    termination_set: str = "auto"
    terminations: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.psi, dict):
            self.psi = from_mapping(PsiCfg, self.psi, "env.psi")
        if isinstance(self.action, dict):
            self.action = from_mapping(ActionCfg, self.action, "env.action")
        self.terminations = dict(self.terminations or {})
        self.termination_terms()  # unknown terms or keys fail here, at construction
        load_observation_set(self.observation)  # so do unknown observation sets and terms
        self.obs_horizons = tuple(int(h) for h in self.obs_horizons)
        if self.state_init not in STATE_INITS:
            raise InputError(f"state_init must be one of {STATE_INITS}, got {self.state_init!r}")
        if self.start_range not in ("clip", "intermimic"):
            raise InputError(f"start_range must be 'clip' or 'intermimic', got {self.start_range!r}")
        if self.contact_source not in ("any", "obj"):
            raise InputError(f"contact_source must be 'any' or 'obj', got {self.contact_source!r}")
        if self.num_envs < 1 or self.rollout_length < 1 or not self.obs_horizons:
            raise InputError("num_envs and rollout_length must be ≥ 1 and obs_horizons non-empty")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EnvCfg:
        """Build from plain data, rejecting unknown keys with a clear error."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InputError(f"unknown env config keys {sorted(unknown)}")
        return cls(**dict(d))

    @classmethod
    def from_yaml(cls, name_or_path: str | Path) -> EnvCfg:
        """A file in ``hoi_sim/cfg/env`` by name (``default``, ``intermimic``, ``test``) or a yaml path: a preset of
        this dataclass (its Hydra ``defaults`` list names the schema, ``hoi_sim.commands.config_schema``, and is
        skipped here)."""
        p = Path(name_or_path)
        if p.suffix not in (".yaml", ".yml"):
            p = Path(__file__).resolve().parents[1] / "cfg" / "env" / f"{name_or_path}.yaml"
        if not p.is_file():
            raise InputError(f"env config {p} does not exist")
        data = yaml.safe_load(p.read_text()) or {}
        defaults = data.pop("defaults", [])
        if any(d not in ("schema", "_self_") for d in defaults):
            raise InputError(f"{p}: from_yaml reads presets of the schema alone, not defaults {defaults}")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def termination_terms(self) -> TerminationSet:
        """The enabled termination terms: the named set (``auto``: the reward setting's) with the overrides."""
        name = termination_set_for_reward(self.reward) if self.termination_set == "auto" else self.termination_set
        return load_termination_set(name, self.terminations)

