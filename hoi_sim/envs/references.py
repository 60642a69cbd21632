"""The env's reference queries against the motion library, one batched query per observation.

The observation asks for the reference at several horizons in one query (rows stacked horizon by horizon). The rows
of the horizon 1 step ahead are kept: the next step's PD targets and, after that step, its reward and terminations
read the reference at exactly that time, so they reuse the rows instead of querying again. The library computes
each row from its own clip and time alone, so a kept row is the number a fresh query gives, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from hoi_sim.motions.library import MotionLibrary, MotionState


def block_rows(stacked: MotionState, n: int, i: int) -> MotionState:
    """Block i (rows i·n … (i+1)·n − 1) of a stacked ``MotionState``."""
    return MotionState(**{f.name: getattr(stacked, f.name)[i * n:(i + 1) * n] for f in fields(MotionState)})


def split_rows(stacked: MotionState, n: int) -> list[MotionState]:
    """A stacked ``MotionState`` of k·n rows → its k blocks of n rows."""
    return [block_rows(stacked, n, i) for i in range(int(stacked.root_pos.shape[0]) // n)]


@dataclass
class _Kept:
    """motion_ids, times: [N] clips and reference times (s) of the kept block; stacked: the [H·N] query; block:
    the horizon's index; rows: its [N] rows (sliced on first use)."""

    motion_ids: torch.Tensor
    times: torch.Tensor
    stacked: MotionState
    block: int
    rows: MotionState | None = None


class ReferenceQueries:
    """Reference states of N envs from ``library``, keeping the 1-step-ahead rows of the last stacked query."""

    def __init__(self, library: MotionLibrary) -> None:
        self.lib = library
        self._kept: _Kept | None = None

    def stacked(self, motion_ids: torch.Tensor, horizons: tuple[int, ...], times: list[torch.Tensor]
                ) -> MotionState:
        """[len(horizons)·N] rows: clip ``motion_ids`` [N] at ``times[i]`` [N] (s) in block i; keeps the block of
        horizon 1 when there is one."""
        big = self.lib.state(motion_ids.repeat(len(horizons)), torch.cat(times))
        self._kept = None
        if 1 in horizons:
            i = horizons.index(1)
            self._kept = _Kept(motion_ids.clone(), times[i], big, i)
        return big

    def kept(self, motion_ids: torch.Tensor, t: torch.Tensor) -> MotionState | None:
        """The kept rows when they are clips ``motion_ids`` [N] at times t [N] (s), else None."""
        kept = self._kept
        if kept is None or not torch.equal(kept.times, t) or not torch.equal(kept.motion_ids, motion_ids):
            return None
        if kept.rows is None:
            kept.rows = block_rows(kept.stacked, int(motion_ids.shape[0]), kept.block)
        return kept.rows

    def state(self, motion_ids: torch.Tensor, t: torch.Tensor) -> MotionState:
        """[N] reference of clips ``motion_ids`` at times t (s): the kept rows, else a library query."""
        hit = self.kept(motion_ids, t)
        return hit if hit is not None else self.lib.state(motion_ids, t)

    def dof_pos(self, motion_ids: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """[N,153] reference hinge angles (rad): the kept rows' where the library lerps the angles (its
        ``dof_pos`` and ``state`` then agree bit for bit), else ``lib.dof_pos``."""
        hit = self.kept(motion_ids, t) if self.lib.dof_interp == "lerp" else None
        return hit.dof_pos if hit is not None else self.lib.dof_pos(motion_ids, t)
