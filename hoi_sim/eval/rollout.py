"""Deterministic rollouts over every clip: env i plays clip i from frame 0 until it terminates or reaches the
clip's last frame; finished envs are frozen (not reset) and the rest go on.

Recorded per clip (K = control steps executed, frames 0..K; frame 0 is the reference start state):
simulated and reference body positions/rotations, root, DOFs and object pose, the interaction graph, the rewards
and whether the clip ended by reaching its last frame (success) or by a termination, and which termination terms
fired at that step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from hoi_sim.envs.hoi_env import HOIEnv
from hoi_sim.motions.library import MotionLibrary

TERMINATION_MODES = ("setting", "training")
"""What ends an evaluation rollout: the reward setting's documented termination set at its own thresholds, or the
training run's set with its preset's overrides."""


def eval_env_overrides(terminations: str, longest_frames: int) -> dict:
    """Env keys an evaluation sets over the job's env group: frame-0 starts, episodes as long as the longest clip
    (``longest_frames``), and with ``terminations="setting"`` no per-term overrides, so the reward setting's
    documented set (``hoi_sim/cfg/termination/<set>.yaml``) decides success, as InterMimic's success rate does."""
    out: dict = {"state_init": "start", "rollout_length": int(longest_frames) + 1}
    if terminations == "setting":
        out["terminations"] = {}
    return out


class ClipEnv(HOIEnv):
    """``HOIEnv`` whose env i always starts clip ``assigned[i]`` at frame ``start_frames[i]`` (default 0) and is
    not reset once it finishes (``finished[i]`` turns True instead). Env i gets clip i's assets (``env_clips``)."""

    def __init__(self, *args, assigned: torch.Tensor, start_frames: torch.Tensor | None = None, **kwargs) -> None:
        kwargs.setdefault("env_clips", assigned)
        super().__init__(*args, **kwargs)
        self.assigned = assigned.to(self.device, torch.long)
        self.start_frames = (torch.zeros_like(self.assigned) if start_frames is None
                             else start_frames.to(self.device, torch.long))
        self.finished = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        self._started = False

    def reset_envs(self, env_ids: torch.Tensor) -> None:
        env_ids = env_ids.to(self.device, torch.long)
        if self._started:
            self.finished[env_ids] = True
            return
        super().reset_envs(env_ids)
        mids = self.assigned[env_ids]
        frames = self.start_frames[env_ids]
        self.motion_ids[env_ids] = mids
        self.start_time[env_ids] = self.lib.frame_time(mids, frames)
        self.backend.reset(env_ids, self.lib.frame_state(mids, frames).reset_state())

    def reset(self) -> torch.Tensor:
        self._started = False
        self.finished.zero_()
        obs = super().reset()
        self._started = True
        return obs


_SIM = ("root_pos", "root_quat", "dof_pos", "body_pos", "body_quat", "obj_pos", "obj_quat")


@dataclass
class ClipRollout:
    """One clip's rollout. Arrays over frames 0..K (K = ``steps``), world frame, m, wxyz:

    sim_* / ref_*: root_pos [K+1,3], root_quat [K+1,4], dof_pos [K+1,153], body_pos [K+1,52,3],
    body_quat [K+1,52,4], obj_pos [K+1,3], obj_quat [K+1,4]; ig_active [K+1,E] bool; ig_body [E];
    ig_body_offset [E,3]; ig_obj_point [E,3]; obj_points [P,3] (object frame); rewards [K].
    """

    clip: str
    motion_index: int
    steps: int
    reached_end: bool
    terminated: bool
    fps: float
    """Control rate of the rollout (1 / control_dt)."""
    sim: dict[str, np.ndarray] = field(default_factory=dict)
    ref: dict[str, np.ndarray] = field(default_factory=dict)
    ig_active: np.ndarray | None = None
    ig_body: np.ndarray | None = None
    ig_body_offset: np.ndarray | None = None
    ig_obj_point: np.ndarray | None = None
    obj_points: np.ndarray | None = None
    rewards: np.ndarray | None = None
    ended_by: tuple[str, ...] = ()
    """The termination terms that fired at the step the rollout ended (``bad_physics`` for a non-finite or
    exploded state); empty when it reached the clip's end or a step cap."""

    @property
    def episode_return(self) -> float:
        return float(self.rewards.sum()) if self.rewards is not None else 0.0


def _snap(src, names=_SIM) -> dict[str, torch.Tensor]:
    return {n: getattr(src, n).detach().to("cpu", torch.float32).clone() for n in names}


def rollout_clips(env: ClipEnv, act: Callable[[torch.Tensor], torch.Tensor], max_steps: int = 0) -> list[ClipRollout]:
    """Roll out every env of ``env`` (one clip each) with actions ``act(obs) -> [N,153]``.

    ``max_steps`` > 0 caps the steps per clip (a clip cut by the cap counts as not reaching its end).
    """
    lib: MotionLibrary = env.lib
    n = env.num_envs
    obs = env.reset()
    assert env.state is not None
    sims = [_snap(env.state)]
    refs = [_snap(env.reference(0))]
    ig_active = [env.reference(0).ig_active.cpu().clone()]
    rewards: list[torch.Tensor] = []
    steps = torch.zeros(n, dtype=torch.long)
    reached = torch.zeros(n, dtype=torch.bool)
    terminated = torch.zeros(n, dtype=torch.bool)
    ended_by: list[tuple[str, ...]] = [()] * n
    limit = int((lib.num_frames[env.assigned] - 1 - env.start_frames).max().item())
    if max_steps > 0:
        limit = min(limit, max_steps)
    for _ in range(limit):
        running = (~env.finished).cpu()
        if not bool(running.any()):
            break
        obs, reward, term, trunc, info = env.step(act(obs).to(env.device))
        ref = env.reference(0)
        sims.append(_snap(env.state))
        refs.append(_snap(ref))
        ig_active.append(ref.ig_active.cpu().clone())
        rewards.append(reward.detach().cpu().float())
        steps += running.long()
        reached |= running & trunc.cpu()
        ended = running & term.cpu()
        terminated |= ended
        if bool(ended.any()):
            _record_causes(ended_by, ended, info)
    out = []
    sim = {k: torch.stack([s[k] for s in sims], 1).numpy() for k in _SIM}
    ref = {k: torch.stack([s[k] for s in refs], 1).numpy() for k in _SIM}
    act_mask = torch.stack(ig_active, 1).numpy()
    rew = torch.stack(rewards, 1).numpy() if rewards else np.zeros((n, 0), np.float32)
    fps = 1.0 / env.control_dt
    for i in range(n):
        k = int(steps[i])
        m = int(env.assigned[i])
        out.append(ClipRollout(
            clip=lib.names[m], motion_index=m, steps=k, reached_end=bool(reached[i]), terminated=bool(terminated[i]),
            fps=fps, sim={key: v[i, :k + 1] for key, v in sim.items()},
            ref={key: v[i, :k + 1] for key, v in ref.items()},
            ig_active=act_mask[i, :k + 1], ig_body=lib.ig_body[m].cpu().numpy(),
            ig_body_offset=lib.ig_body_offset[m].cpu().numpy(), ig_obj_point=lib.ig_obj_point[m].cpu().numpy(),
            obj_points=lib.obj_points[m].cpu().numpy(), rewards=rew[i, :k], ended_by=ended_by[i]))
    return out


def _record_causes(ended_by: list[tuple[str, ...]], ended: torch.Tensor, info: dict) -> None:
    """Write into ``ended_by[i]``, for each env i that terminated this step (``ended`` [N] bool), the names of the
    termination terms of ``info["terminations"]`` that fired for it, or ``bad_physics`` (``info["bad_envs"]``)."""
    fired = {name: mask.detach().cpu() for name, mask in info.get("terminations", {}).items()}
    bad = info.get("bad_envs")
    bad = bad.detach().cpu() if bad is not None else torch.zeros_like(ended)
    for i in ended.nonzero(as_tuple=False).flatten().tolist():
        names = tuple(name for name, mask in fired.items() if bool(mask[i]))
        ended_by[i] = (("bad_physics",) if bool(bad[i]) else ()) + names
