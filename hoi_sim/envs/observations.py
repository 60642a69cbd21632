"""Observation sets: named terms in order, the layout derived from them, and the builder (docs/observations.md).

A set is ``hoi_sim/cfg/observation/<name>.yaml`` (or any yaml path): a ``name`` and the ``terms`` of one block, in
order, each a name in ``hoi_sim.envs.obs_terms.OBS_TERMS``. The observation is one block per reference horizon
(``EnvCfg.obs_horizons``), in that order: ``[N, len(horizons) · block_size]``. The default set ``intermimic`` is
InterMimic's 1599-number teacher block (reference/intermimic-notes.md §4.3). Where a term lies is read from the
layout (:class:`ObsLayout`: term name → slice), never from index numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import yaml

from hoi_sim.config_mapping import named_set_file
from hoi_sim.envs.obs_terms import OBS_TERMS, BodySubsets, ObsTerm, RefFrame, SimFrame
from hoi_sim.errors import InputError
from hoi_sim.motions.library import MotionState

if TYPE_CHECKING:
    from hoi_sim.sim.base import SimState

CFG_DIR = Path(__file__).resolve().parents[1] / "cfg" / "observation"
DEFAULT_SET = "intermimic"


@dataclass(frozen=True)
class ObservationSet:
    """A named, ordered tuple of observation terms (one block)."""

    name: str
    terms: tuple[ObsTerm, ...]


def load_observation_set(name_or_path: str | Path) -> ObservationSet:
    """An observation set by name (``hoi_sim/cfg/observation/<name>.yaml``) or yaml path; ``InputError`` naming the
    file and the term for an unknown or repeated term, an unknown key or an empty set."""
    p = named_set_file("observation", name_or_path, CFG_DIR)
    data = yaml.safe_load(p.read_text()) or {}
    if not isinstance(data, dict) or set(data) - {"name", "terms"}:
        extra = sorted(set(data) - {"name", "terms"}) if isinstance(data, dict) else data
        raise InputError(f"{p}: an observation set holds 'name' and 'terms' only, got {extra!r}")
    names = data.get("terms") or []
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InputError(f"{p}: 'terms' must be a non-empty list of term names, got {names!r}")
    for n in names:
        if n not in OBS_TERMS:
            raise InputError(f"{p}: unknown observation term {n!r}; known: {', '.join(sorted(OBS_TERMS))}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(f"{p}: observation term(s) {repeated} listed more than once")
    return ObservationSet(name=str(data.get("name", p.stem)), terms=tuple(OBS_TERMS[n] for n in names))


@dataclass(frozen=True)
class ObsLayout:
    """Where each term lies in the observation, derived from the set's terms and the horizons.

    Attributes:
        terms: the block's terms in order.
        horizons: reference look-ahead of each block (control steps).
        block: term name → slice of its columns within one block.
        block_size: numbers per block.
        size: numbers per env, ``len(horizons) · block_size``.
    """

    terms: tuple[ObsTerm, ...]
    horizons: tuple[int, ...]
    block: dict[str, slice] = field(init=False)
    block_size: int = field(init=False)
    size: int = field(init=False)

    def __post_init__(self) -> None:
        block, at = {}, 0
        for t in self.terms:
            block[t.name] = slice(at, at + t.width)
            at += t.width
        object.__setattr__(self, "block", block)
        object.__setattr__(self, "block_size", at)
        object.__setattr__(self, "size", at * len(self.horizons))

    def slice(self, name: str, block: int = 0) -> slice:
        """Columns of term ``name`` in block ``block`` (the block of ``horizons[block]``) of the observation."""
        if name not in self.block:
            raise KeyError(f"observation term {name!r} is not in this layout; it has {list(self.block)}")
        s, off = self.block[name], block * self.block_size
        return slice(s.start + off, s.stop + off)

    def rows(self, obs: torch.Tensor, block: int = 0) -> dict[str, torch.Tensor]:
        """Term name → ``obs[:, columns]`` [N, width] of block ``block`` of observations obs [N, size]."""
        return {t.name: obs[:, self.slice(t.name, block)] for t in self.terms}


class ObservationBuilder:
    """Builds ``[N, layout.size]`` observations from an observation set.

    Simulation-only terms are computed once per call and repeated in every block; reference terms are computed
    per horizon. Non-finite values (only possible in an env being reset for a bad state) are replaced by 0.

    Args:
        obs_set: the terms of one block.
        horizons: reference look-ahead of each block (control steps), in order.
        device: torch device of the env tensors.
    """

    def __init__(self, obs_set: ObservationSet, horizons: Sequence[int], device: torch.device) -> None:
        self.obs_set = obs_set
        self.layout = ObsLayout(obs_set.terms, tuple(int(h) for h in horizons))
        self.bodies = BodySubsets(device)
        self.uses_ref = any(t.uses_ref for t in obs_set.terms)
        """Whether any term reads the reference (else the caller may pass no references)."""
        self._checked = False

    def frame(self, sim: SimState, contact: torch.Tensor, obj_points: torch.Tensor | None,
              nearest: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> SimFrame:
        """The simulated side of one call: ``SimState`` sim, contact [N,52] bool, obj_points [N,P,3] (m, object
        frame; None with ``nearest``), and optionally the nearest-sample search to use (``SimFrame``)."""
        return SimFrame(sim, contact, obj_points, self.bodies, nearest)

    def __call__(self, frame: SimFrame, refs: Sequence[MotionState] | MotionState | None) -> torch.Tensor:
        """Observations [N, layout.size] of ``frame`` against ``refs``: one ``MotionState`` [N] per horizon, or
        one stacked ``MotionState`` [len(horizons)·N] (horizon i in rows i·N … (i+1)·N − 1, as
        ``HOIEnv.stacked_references`` gives it); None when no term reads the reference.

        With several horizons the reference terms run once, on the stacked rows against the frame tiled as many
        times (:class:`~hoi_sim.envs.obs_terms.TiledFrame`): the same numbers as one call per horizon, in half
        the tensor operations for InterMimic's two horizons."""
        nb, n = len(self.layout.horizons), frame.n
        ref = self._stacked(refs, nb, n) if self.uses_ref else None
        sim_vals = {t.name: t.fn(frame) for t in self.layout.terms if not t.uses_ref}
        if ref is None or nb == 1:
            rf = RefFrame(ref, self.bodies) if ref is not None else None
            block = [t.fn(frame, rf) if t.uses_ref else sim_vals[t.name] for t in self.layout.terms]
            if not self._checked:
                self._check_widths(block)
            out = torch.cat(block * nb if ref is None else block, -1)
        else:
            tf, rf = frame.tiled(nb), RefFrame(ref, self.bodies)
            block = [t.fn(tf, rf) if t.uses_ref else sim_vals[t.name].repeat(nb, 1) for t in self.layout.terms]
            if not self._checked:
                self._check_widths([b[:n] for b in block])
            out = torch.cat(block, -1).view(nb, n, -1).transpose(0, 1).reshape(n, -1)
        return out.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)

    @staticmethod
    def _stacked(refs: Sequence[MotionState] | MotionState | None, nb: int, n: int) -> MotionState:
        """One ``MotionState`` of nb·N rows from ``refs`` (checked)."""
        if isinstance(refs, MotionState):
            if int(refs.root_pos.shape[0]) != nb * n:
                raise ValueError(f"a stacked reference for {nb} horizons of {n} envs needs {nb * n} rows, got "
                                 f"{int(refs.root_pos.shape[0])}")
            return refs
        if refs is None or len(refs) != nb:
            raise ValueError(f"{nb} horizons need {nb} references, got {None if refs is None else len(refs)}")
        if nb == 1:
            return refs[0]
        return MotionState(**{f.name: torch.cat([getattr(r, f.name) for r in refs]) for f in fields(MotionState)})

    def _check_widths(self, block: list[torch.Tensor]) -> None:
        for t, v in zip(self.layout.terms, block, strict=True):
            if v.dim() != 2 or v.shape[1] != t.width:
                raise RuntimeError(f"observation term {t.name!r} returned shape {tuple(v.shape)}, declared width "
                                   f"{t.width}")
        self._checked = True
