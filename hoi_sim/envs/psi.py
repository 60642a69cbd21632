"""Physical state initialisation (PSI, InterMimic; reference/intermimic-notes.md §4.6).

Every (clip, frame) has ``slots`` reset states: slot 0 is the kinematic reference (weight 1, never decays); slots
1..S−1 hold simulated states that were later survived, each with a weight. A reset at frame f draws a slot with
probability ∝ weight. When an episode ends after E control steps from start frame s, each step k in
[margin, E − margin) (frame s + k) gets the score (E − k) / (H − k), H = min(steps to the clip end, rollout
length): the fraction of the remaining horizon the policy survived from that state. Where the score exceeds
``score_threshold`` the lowest-weight simulated slot of that frame is overwritten with the simulated state and its
weight set to the score. Simulated weights decay by ``(1 − decay)`` at every reset event.

Departure from InterMimic: it updates the buffer only for clips longer than its rollout length and episodes
longer than 30 steps, which with OMOMO clips (121–312 frames) and 300-step rollouts leaves PSI almost inert; here
every episode of at least ``min_episode_steps`` updates it, and start frames cover the whole clip.
States are stored only where a control step lands on a clip frame (always when control dt is a multiple of 1/fps).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from hoi_sim.errors import InputError
from hoi_sim.sim.base import ResetState

_FIELDS = tuple(f.name for f in fields(ResetState))


@dataclass
class PsiCfg:
    """PSI settings. ``slots`` 1 switches PSI off (reference states only); InterMimic's train configs use 3."""

    slots: int = 1
    score_threshold: float = 0.5
    margin: int = 10
    min_episode_steps: int = 30
    decay: float = 1.0e-5

    def __post_init__(self) -> None:
        if self.slots < 1 or self.margin < 0 or not 0.0 <= self.score_threshold < 1.0:
            raise InputError("env.psi: slots ≥ 1, margin ≥ 0 and 0 ≤ score_threshold < 1 required")


def _width(name: str) -> int:
    return 153 if name.startswith("dof") else (4 if name.endswith("quat") else 3)


_WIDTHS = tuple(_width(n) for n in _FIELDS)
STATE_DIM = sum(_WIDTHS)  # 332, as InterMimic's hoi_refs


def flatten_state(s: ResetState) -> torch.Tensor:
    """[n, 332]: the ResetState fields of ``s`` concatenated in ``ResetState`` order."""
    return torch.cat([getattr(s, n) for n in _FIELDS], -1)


def unflatten_state(x: torch.Tensor) -> ResetState:
    """Inverse of :func:`flatten_state`: [n, 332] → ResetState."""
    parts = torch.split(x, _WIDTHS, dim=-1)
    return ResetState(**dict(zip(_FIELDS, (p.contiguous() for p in parts))))


class PhysicalStateBuffer:
    """PSI slots for every frame of a motion library (module docstring).

    Args:
        cfg: PSI settings (``slots`` > 1 to enable).
        total_frames: frames of all clips together (library ``num_frames.sum()``).
        num_envs, max_steps: per-env history length (the env's ``rollout_length``).
        device: torch device.
    """

    def __init__(self, cfg: PsiCfg, total_frames: int, num_envs: int, max_steps: int,
                 device: torch.device | str) -> None:
        self.cfg = cfg
        self.enabled = cfg.slots > 1
        s = max(cfg.slots - 1, 0)
        self.states = torch.zeros(total_frames, s, STATE_DIM, device=device)
        self.weights = torch.zeros(total_frames, s, device=device)
        self.history = torch.zeros(num_envs, max_steps + 1, STATE_DIM, device=device) if self.enabled else None
        self.rows = torch.full((num_envs, max_steps + 1), -1, dtype=torch.long, device=device) \
            if self.enabled else None
        """[N, L] library row of each recorded step (−1: the step fell between frames)."""
        self.writes = 0
        self.draws = 0

    def draw(self, global_frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """[n] slot per reset at library rows ``global_frames`` [n]: 0 = reference, k ≥ 1 = simulated slot k."""
        n = global_frames.shape[0]
        if not self.enabled or n == 0:
            return torch.zeros(n, dtype=torch.long, device=global_frames.device)
        self.weights.mul_(1.0 - self.cfg.decay)
        w = torch.cat([torch.ones(n, 1, device=self.weights.device), self.weights[global_frames]], 1)
        slot = torch.multinomial(w.cpu(), 1, generator=generator).flatten().to(global_frames.device)
        self.draws += int((slot > 0).sum())
        return slot

    def stored(self, global_frames: torch.Tensor, slots: torch.Tensor) -> ResetState:
        """The simulated states (slots ≥ 1) at ``global_frames`` [n]."""
        return unflatten_state(self.states[global_frames, slots - 1])

    def record(self, steps: torch.Tensor, state: ResetState, rows: torch.Tensor) -> None:
        """Keep every env's state after its control step number ``steps`` [N]; ``rows`` [N] long: the library row
        (clip frame) that step lands on, −1 where it falls between frames."""
        if not self.enabled:
            return
        assert self.history is not None and self.rows is not None
        k = steps.clamp(max=self.history.shape[1] - 1)
        env = torch.arange(k.shape[0], device=k.device)
        self.history[env, k] = flatten_state(state)
        self.rows[env, k] = rows

    def episode_end(self, env_ids: torch.Tensor, lengths: torch.Tensor, horizons: torch.Tensor) -> None:
        """Score and store the finished episodes of ``env_ids`` [n]: steps survived [n], steps available H [n]
        (min of the clip's remaining steps and the rollout length)."""
        if not self.enabled:
            return
        assert self.history is not None and self.rows is not None
        c = self.cfg
        for i, e, h in zip(env_ids.tolist(), lengths.tolist(), horizons.tolist()):
            if e < c.min_episode_steps:
                continue
            k = torch.arange(c.margin, max(c.margin, e - c.margin), device=self.weights.device)
            if k.numel() == 0:
                continue
            score = (e - k).float() / (h - k).clamp_min(1).float()
            rows = self.rows[i, k]
            keep = (score > c.score_threshold) & (rows >= 0)
            k, score, rows = k[keep], score[keep], rows[keep]
            if k.numel() == 0:
                continue
            slot = self.weights[rows].argmin(-1)
            self.states[rows, slot] = self.history[i, k]
            self.weights[rows, slot] = score
            self.writes += int(k.numel())
