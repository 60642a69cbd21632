"""The vectorized HOI imitation env (DESIGN §5.4) on any ``hoi_sim.sim`` backend.

Per env: an asset group (``env_group``: skeleton and object, fixed by the backend; ``hoi_sim.envs.backend``), a
clip of that group (``motion_ids``, drawn again among the group's clips at each reset) and a start time;
``progress`` counts control steps since the reset, so the reference time is ``start_time + progress · control_dt``
(the library interpolates between frames). One ``step(actions)``: actions → PD targets (offset/scale rule) →
backend step → reward against the post-step reference → terminations and timeouts → reset of finished envs
(reference state init) → observations.
Terminations (fall, tracking errors, IG test, missed hand contact) cut bootstrapping; timeouts (end of the clip or
``rollout_length``) do not, and are returned separately. An env whose physics state is invalid (backend ``bad``
flag, NaN/inf, or beyond ``max_abs_*``) gets reward 0, is marked terminated, reset and counted; the others go on.
"""

from __future__ import annotations

from dataclasses import fields
from functools import partial
from typing import Any

import torch

from hoi_sim import rotations as rot
from hoi_sim import skeleton as sk
from hoi_sim.envs import terminations as term
from hoi_sim.envs.actions import ActionMap
from hoi_sim.envs.config import EnvCfg
from hoi_sim.envs.observations import ObservationBuilder, load_observation_set
from hoi_sim.envs.psi import PhysicalStateBuffer
from hoi_sim.envs.references import ReferenceQueries, split_rows
from hoi_sim.errors import InputError
from hoi_sim.motions.library import MotionLibrary, MotionState
from hoi_sim.rewards import RewardContext, RewardSet, load_reward_set
from hoi_sim.sim.base import SimBackend, SimState


class HOIEnv:
    """N parallel HOI imitation envs.

    Args:
        cfg: env settings.
        library: reference clips (of any skeletons and objects on ``mujoco``; ``hoi_sim.envs.backend``).
        backend: a built backend; default ``hoi_sim.envs.backend.make_env_backend(cfg, library, env_clips)``.
        env_clips: [N] clip of each env, when the caller fixes them (its asset group becomes the env's).

    Attributes:
        num_envs, num_obs (``len(cfg.obs_horizons)`` × the observation set's block size, 1599 for InterMimic's),
        obs_layout (term name → columns), num_actions (153, or 63 with fingers on the
        reference), device, env_group ([N] long asset group), motion_ids ([N] long clip), action_map
        (``hoi_sim.envs.actions.ActionMap``), term_set (the enabled terminations), psi
        (``hoi_sim.envs.psi.PhysicalStateBuffer``).
    """

    def __init__(self, cfg: EnvCfg, library: MotionLibrary, backend: SimBackend | None = None,
                 env_clips: torch.Tensor | None = None) -> None:
        if backend is None:
            from hoi_sim.envs.backend import make_env_backend

            backend = make_env_backend(cfg, library, env_clips)
        self.cfg = cfg
        self.backend = backend
        self.device = backend.device
        if library.device != self.device:
            raise InputError(f"motion library is on {library.device}, backend on {self.device}")
        self.lib = library
        self.refs = ReferenceQueries(library)
        self.num_envs = backend.num_envs
        self.env_group, self._group_clips = self._asset_groups(backend, library)
        self.action_map = ActionMap(cfg.action, backend.dof_limits.to(self.device))
        self.num_actions = self.action_map.num_actions
        self.feedforward = self._feedforward_table()
        """[total frames, 153] PD-target offsets (rad) added to the reference (``env.action.feedforward``), or None."""
        self.obs_builder = ObservationBuilder(load_observation_set(cfg.observation), cfg.obs_horizons, self.device)
        self.obs_layout = self.obs_builder.layout
        """Where each observation term lies (``hoi_sim.envs.observations.ObsLayout``: term name → slice)."""
        self.num_obs = self.obs_layout.size
        self.control_dt = float(backend.control_dt)
        self.reward_set = RewardSet(load_reward_set(cfg.reward))
        self.term_set = cfg.termination_terms()
        self.psi = PhysicalStateBuffer(cfg.psi, int(library.num_frames.sum()), backend.num_envs,
                                       cfg.rollout_length, self.device)
        self.generator = torch.Generator().manual_seed(int(cfg.seed))
        n, dev = self.num_envs, self.device
        self.motion_ids = torch.zeros(n, dtype=torch.long, device=dev)
        self.start_time = torch.zeros(n, device=dev)
        self.progress = torch.zeros(n, dtype=torch.long, device=dev)
        self.hand_miss = torch.zeros(n, 2, dtype=torch.long, device=dev)
        self.start_row = torch.zeros(n, dtype=torch.long, device=dev)
        self.episode_return = torch.zeros(n, device=dev)
        self.bad_env_total = 0
        self._key = torch.tensor(sk.body_ids(sk.KEY_BODIES), device=dev)
        self._cloud_radius = library.obj_points.norm(dim=-1).amax(-1)  # [M] m: farthest surface sample per clip
        self._hands = (torch.tensor(sk.body_ids(sk.LEFT_HAND), device=dev),
                       torch.tensor(sk.body_ids(sk.RIGHT_HAND), device=dev))
        self._state: SimState | None = None

    @staticmethod
    def _asset_groups(backend: SimBackend, lib: MotionLibrary) -> tuple[torch.Tensor, torch.Tensor | None]:
        """([N] long asset group of each env, [G, M] bool clips of each group or None for one group)."""
        n, groups = backend.num_envs, getattr(backend, "env_group", None)
        if lib.num_groups == 1 or (groups is None and getattr(backend, "model", None) is None):
            return torch.zeros(n, dtype=torch.long, device=backend.device), None  # (a backend without assets)
        if groups is None or len(getattr(backend, "models", ())) != lib.num_groups:
            raise InputError(f"the library holds {lib.num_groups} asset groups (skeleton × object) but the backend "
                             "was not built for them: build it with hoi_sim.envs.backend.make_env_backend")
        mask = lib.clip_group[None, :] == torch.arange(lib.num_groups, device=lib.device)[:, None]
        return groups.to(backend.device, torch.long), mask

    def _feedforward_table(self) -> torch.Tensor | None:
        if self.cfg.action.feedforward == "none":
            return None
        models, index = getattr(self.backend, "models", None), getattr(self.backend, "index", None)
        if models is None and getattr(self.backend, "model", None) is not None:
            models = [self.backend.model]
        if models is None or index is None:
            raise InputError(f"env.action.feedforward={self.cfg.action.feedforward} needs a MuJoCo scene "
                             f"(sim=mujoco or mjwarp), not backend {self.cfg.backend!r}")
        from hoi_sim.envs.feedforward import gravity_offsets  # MuJoCo only where it is asked for

        d = self.lib.data
        row_group = torch.repeat_interleave(self.lib.clip_group, self.lib.num_frames).cpu()
        ff = torch.zeros_like(d["dof_pos"], device="cpu")
        for g, model in enumerate(models):  # each clip's rows on its own group's scene
            rows = row_group == g
            if rows.any():
                ff[rows] = torch.as_tensor(gravity_offsets(
                    model, index, d["root_pos"][rows].cpu().double().numpy(),
                    d["root_quat"][rows].cpu().double().numpy(), d["dof_pos"][rows].cpu().double().numpy()),
                    dtype=torch.float32)
        return ff.to(self.device)

    def _ref_targets(self) -> torch.Tensor | None:
        """[N, 153] reference hinge angles at the end of the step, plus the feed-forward (rad), or None when the
        action mode does not use them."""
        if not self.action_map.needs_reference:
            return None
        t = self.ref_time(1)
        q = self.refs.dof_pos(self.motion_ids, t)
        if self.feedforward is not None:
            q = q + self.lib.interp_rows(self.feedforward, self.motion_ids, t)
        return q

    # ------------------------------------------------------------------ resets
    def _start_frames(self, motion_ids: torch.Tensor) -> torch.Tensor:
        n = motion_ids.shape[0]
        if self.cfg.state_init == "start":
            return torch.zeros(n, dtype=torch.long, device=self.device)
        max_steps = self.cfg.rollout_length if self.cfg.start_range == "intermimic" else 1
        frames = self.lib.sample_start_frames(motion_ids, max_steps, self.generator)
        if self.cfg.state_init == "hybrid":
            at_zero = torch.rand(n, generator=self.generator).to(self.device) < self.cfg.hybrid_start_prob
            frames = torch.where(at_zero, torch.zeros_like(frames), frames)
        return frames

    def reset_envs(self, env_ids: torch.Tensor) -> None:
        """Reference state init of ``env_ids`` [n]: new clip and start frame, state written into the backend."""
        env_ids = env_ids.to(self.device, torch.long)
        n = int(env_ids.shape[0])
        if n == 0:
            return
        cand = None if self._group_clips is None else self._group_clips[self.env_group[env_ids]]
        mids = self.lib.sample_motions(n, self.generator, candidates=cand)  # a clip of the env's asset group
        frames = self._start_frames(mids)
        self.motion_ids[env_ids] = mids
        self.start_time[env_ids] = self.lib.frame_time(mids, frames)
        self.progress[env_ids] = 0
        self.hand_miss[env_ids] = 0
        self.episode_return[env_ids] = 0.0
        frames = torch.minimum(frames, self.lib.num_frames[mids] - 1)
        self.start_row[env_ids] = self.lib.frame_start[mids] + frames
        state = self.lib.frame_state(mids, frames).reset_state()
        if self.psi.enabled:  # physical state init: some resets start from a stored simulated state
            slot = self.psi.draw(self.start_row[env_ids], self.generator)
            sim = (slot > 0).nonzero(as_tuple=False).flatten()
            if sim.numel():
                stored = self.psi.stored(self.start_row[env_ids][sim], slot[sim])
                for f in fields(stored):
                    getattr(state, f.name)[sim] = getattr(stored, f.name)
        self.backend.reset(env_ids, state)

    def reset(self) -> torch.Tensor:
        """Reset every env; returns observations [N, num_obs]."""
        self.reset_envs(torch.arange(self.num_envs, device=self.device))
        self._state = self.backend.state()
        return self.observe(self._state)

    # ------------------------------------------------------------------ reference and observations
    def ref_time(self, steps_ahead: int = 0) -> torch.Tensor:
        """[N] reference time (s) ``steps_ahead`` control steps after the current one (clamped by the library)."""
        return self.start_time + (self.progress + steps_ahead).to(torch.float32) * self.control_dt

    def reference(self, steps_ahead: int = 0) -> MotionState:
        """The reference [N] ``steps_ahead`` control steps after the current one."""
        return self.refs.state(self.motion_ids, self.ref_time(steps_ahead))

    def stacked_references(self, horizons: tuple[int, ...]) -> MotionState:
        """``reference(h)`` for every h, stacked: [len(horizons)·N] rows, horizon i in rows i·N … (i+1)·N − 1;
        one batched library query (``hoi_sim.envs.references``: its 1-step-ahead rows serve the next step)."""
        return self.refs.stacked(self.motion_ids, horizons, [self.ref_time(h) for h in horizons])

    def references(self, horizons: tuple[int, ...]) -> list[MotionState]:
        """``reference(h)`` for every h, gathered from the library in one batched query."""
        return split_rows(self.stacked_references(horizons), self.num_envs)

    def _contact(self, s: SimState) -> torch.Tensor:
        return s.contact_any if self.cfg.contact_source == "any" else s.contact_obj

    def _obj_points_world(self, pos: torch.Tensor, quat: torch.Tensor, env_ids: torch.Tensor | None = None
                          ) -> torch.Tensor:
        """[n,P,3] object surface samples of envs ``env_ids`` (default all) moved by poses pos [n,3], quat [n,4]."""
        mids = self.motion_ids if env_ids is None else self.motion_ids[env_ids]
        return torch.baddbmm(pos[:, None], self.lib.obj_points[mids], rot.quat_to_matrix(quat).transpose(-1, -2))

    def observe(self, s: SimState) -> torch.Tensor:
        """Observation [N, num_obs] of state ``s``: the terms of ``cfg.observation`` (layout ``obs_layout``), one
        block per reference horizon Δ = ``cfg.obs_horizons``."""
        search = partial(self.lib.surface.vec, clip_ids=self.motion_ids, workers=self.backend.host_threads)
        frame = self.obs_builder.frame(s, self._contact(s), None, search)
        refs = self.stacked_references(self.cfg.obs_horizons) if self.obs_builder.uses_ref else None
        return self.obs_builder(frame, refs)

    # ------------------------------------------------------------------ step
    def _bad(self, s: SimState) -> torch.Tensor:
        return term.bad_state(s, self.cfg.max_abs_position, self.cfg.max_abs_velocity)

    def _terminations(self, s: SimState, ref: MotionState) -> dict[str, torch.Tensor]:
        """[N] bool mask per enabled termination term (``self.term_set``); each waits its ``grace_steps``."""
        ts = self.term_set
        out: dict[str, torch.Tensor] = {}
        k = self._key
        if (c := ts.get("fall")) is not None:
            out["fall"] = term.fallen(s.root_pos, c.height) & (self.progress > c.grace_steps)
        if (c := ts.get("body_error")) is not None:
            out["body_error"] = term.key_body_error(ref.body_pos[:, k], s.body_pos[:, k], c.threshold,
                                                    c.reduce) & (self.progress > c.grace_steps)
        c_obj, c_ig = ts.get("object_error"), ts.get("interaction_graph")
        if c_obj is not None or c_ig is not None:
            mean_gap, max_gap = self._object_gap(s, ref, c_obj.threshold if c_obj is not None else None)
            if c_obj is not None:
                out["object_error"] = (mean_gap > c_obj.threshold) & (self.progress > c_obj.grace_steps)
            if c_ig is not None:
                out["interaction_graph"] = (self._ig_broken(s, ref, max_gap, c_ig.ratio, c_ig.floor)
                                            & (self.progress > c_ig.grace_steps))
        if (c := ts.get("hand_contact")) is not None:
            contact = self._contact(s)
            for i, ids in enumerate(self._hands):
                miss = term.hand_missing(ref.contact_label, contact, ids)
                self.hand_miss[:, i] = (self.hand_miss[:, i] + 1) * miss.long()
            out["hand_contact"] = (self.hand_miss > c.max_steps).any(-1) & (self.progress > c.grace_steps)
        return out

    def _object_gap(self, s: SimState, ref: MotionState, threshold: float | None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per env, over the object's surface samples P_j, gap_j = ‖(R_sim − R_ref) P_j + (p_sim − p_ref)‖ (m):
        (the mean gap where it may exceed ``threshold``, else an upper bound of it that does not; an upper bound of
        the largest gap), both [N]. The bound ‖Δp‖ + ‖ΔR‖_F · max_j ‖P_j‖ ≥ every gap_j spares the [N,P] table for
        envs that cannot cross ``threshold`` (None: the table for none of them)."""
        d_rot = rot.quat_to_matrix(s.obj_quat) - rot.quat_to_matrix(ref.obj_quat)
        d_pos = s.obj_pos - ref.obj_pos
        bound = d_pos.norm(dim=-1) + torch.linalg.matrix_norm(d_rot) * self._cloud_radius[self.motion_ids]
        mean_gap = bound.clone()
        if threshold is not None:
            near = (bound > threshold).nonzero(as_tuple=False).flatten()
            if near.numel():
                pts = self.lib.obj_points[self.motion_ids[near]]
                mean_gap[near] = torch.baddbmm(d_pos[near, None], pts, d_rot[near].transpose(-1, -2)
                                               ).norm(dim=-1).mean(-1)
        return mean_gap, bound

    def _ig_broken(self, s: SimState, ref: MotionState, dp: torch.Tensor, ratio: float = 2.0, floor: float = 0.5
                   ) -> torch.Tensor:
        """InterMimic's IG test, evaluated only where it can fire: ‖e_sim − e_ref‖ ≤ max_k ‖Δx_k‖ + max_j ‖Δp_j‖
        (triangle inequality) and every limit is ≥ ratio·floor, so envs below that bound pass without the
        [Kb × P] distance matrices. ``dp`` [N]: an upper bound of max_j ‖Δp_j‖ (m)."""
        k = self._key
        dx = (s.body_pos[:, k] - ref.body_pos[:, k]).norm(dim=-1).amax(-1)
        out = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        cand = ((dx + dp) > ratio * floor).nonzero(as_tuple=False).flatten()
        if cand.numel():
            sim_pts = self._obj_points_world(s.obj_pos[cand], s.obj_quat[cand], cand)
            ref_pts = self._obj_points_world(ref.obj_pos[cand], ref.obj_quat[cand], cand)
            out[cand] = term.interaction_graph_broken(s.body_pos[cand][:, k], sim_pts, ref.body_pos[cand][:, k],
                                                      ref_pts, ratio, floor)
        return out

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                                                   dict[str, Any]]:
        """Advance every env by one control step.

        Args:
            actions: [N, num_actions] in [−1, 1] (clipped; NaN → 0), mapped to PD targets by ``cfg.action``.

        Returns:
            obs [N, num_obs] (after the resets of finished envs), reward [N], terminated [N] bool,
            truncated [N] bool (timeouts), info with ``reward_terms`` (dict of [N]), ``terminations`` (dict of
            [N] bool), ``time_outs`` (= truncated), ``bad_envs`` [N] bool, ``bad_env_count`` (this step),
            ``bad_env_total`` (since construction), ``episode_return``, ``episode_length`` (control steps),
            ``episode_length_s`` (s) and ``episode_clip_frac`` (episode seconds / clip seconds) [N] of the envs that
            finished this step (0 elsewhere).
        """
        if self._state is None:
            raise RuntimeError("call reset() before step()")
        prev = self._state
        self.backend.set_pd_targets(self.action_map.targets(actions.to(self.device), self._ref_targets()))
        self.backend.step()
        s = self.backend.state()
        self.progress += 1
        bad = self._bad(s)
        ref = self.reference(0)
        reward, terms_out = self._reward(s, prev, ref, bad)
        terminations = self._terminations(s, ref)
        terminated = bad.clone()
        for mask in terminations.values():
            terminated |= mask
        clip_end = self.ref_time(0) >= self.lib.length_s[self.motion_ids] - 0.5 * self.control_dt
        truncated = ((self.progress >= self.cfg.rollout_length) | clip_end) & ~terminated
        self.episode_return += reward
        done = terminated | truncated
        if self.psi.enabled:
            self.psi.record(self.progress, s, self.lib.nearest_row(self.motion_ids, self.ref_time(0)))
        info = self._episode_info(done, bad, reward)
        info.update({"reward_terms": terms_out, "terminations": terminations, "time_outs": truncated.clone()})
        done_ids = done.nonzero(as_tuple=False).flatten()
        if self.cfg.return_final_obs:
            info["final_obs"] = torch.zeros(self.num_envs, self.num_obs, device=self.device)
            info["_final_obs"] = done.clone()
            if done_ids.numel():
                info["final_obs"][done_ids] = self.observe(s)[done_ids]
        if done_ids.numel():
            self._end_episodes(done_ids)
            s = self.backend.state()
        self._state = s
        return self.observe(s), reward, terminated, truncated, info

    def _reward(self, s: SimState, prev: SimState, ref: MotionState, bad: torch.Tensor
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(reward [N], reward terms name → [N]) of this step; 0 where the env went bad, NaN rewards → 0."""
        ctx = RewardContext(sim=s, ref=ref, obj_points=self.lib.obj_points[self.motion_ids],
                            prev_dof_vel=prev.dof_vel, prev_obj_lin_vel=prev.obj_lin_vel,
                            prev_obj_ang_vel=prev.obj_ang_vel, steps_since_reset=self.progress,
                            control_dt=self.control_dt)
        reward, terms = self.reward_set(ctx)
        reward = torch.where(bad, torch.zeros_like(reward), torch.nan_to_num(reward, nan=0.0))
        return reward, {k: torch.where(bad, torch.zeros_like(v), v) for k, v in terms.items()}

    def _episode_info(self, done: torch.Tensor, bad: torch.Tensor, reward: torch.Tensor) -> dict[str, Any]:
        """The bad-env counters and the return and length (steps, s, clip fraction) of the episodes that end now
        (``done`` [N] bool; 0 elsewhere)."""
        info: dict[str, Any] = {
            "bad_envs": bad, "bad_env_count": int(bad.sum()),
            "episode_return": torch.where(done, self.episode_return, torch.zeros_like(reward)),
            "episode_length": torch.where(done, self.progress, torch.zeros_like(self.progress)),
        }
        ep_s = info["episode_length"].to(torch.float32) * self.control_dt
        info["episode_length_s"] = ep_s
        info["episode_clip_frac"] = ep_s / self.lib.length_s[self.motion_ids].clamp_min(1e-6)
        self.bad_env_total += info["bad_env_count"]
        info["bad_env_total"] = self.bad_env_total
        return info

    def _end_episodes(self, done_ids: torch.Tensor) -> None:
        """Score the ended episodes for PSI (steps survived against what was left of the clip), then reset them."""
        if self.psi.enabled:
            mids = self.motion_ids[done_ids]
            left = torch.round((self.lib.length_s[mids] - self.start_time[done_ids]) / self.control_dt).long()
            self.psi.episode_end(done_ids, self.progress[done_ids], torch.clamp(left, max=self.cfg.rollout_length))
        self.reset_envs(done_ids)

    @property
    def action_offset(self) -> torch.Tensor:
        """[153] offset of the ``absolute`` action rule (rad)."""
        return self.action_map.offset

    @property
    def action_scale(self) -> torch.Tensor:
        """[153] scale of the ``absolute`` action rule (rad per action unit)."""
        return self.action_map.scale

    @property
    def state(self) -> SimState | None:
        """The latest backend state (after the last step or reset)."""
        return self._state

    def close(self) -> None:
        self.backend.close()
