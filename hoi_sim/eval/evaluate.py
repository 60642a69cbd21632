"""Policy evaluation: deterministic rollouts of checkpoints over every clip of their action subset, the paper's
metrics per clip (``hoi_sim.eval.metrics``), and the Table-1-style report (``hoi_sim.eval.report``).

Frames: a rollout of K control steps gives frames 0..K (frame 0 is the reference start state). MPJPE, contact
and object error average over frames 1..K (InterMimic's steps 1..T_reached); jitter uses frames 0..K at the
control rate. The reference baseline row measures the clip itself over all its frames at its own fps, overall and
per clip. Contact is measured at the body surface by default (``EvalConfig.form``, docs/metrics.md).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hoi_sim import skeleton as sk
from hoi_sim.config_mapping import ranged
from hoi_sim.errors import InputError
from hoi_sim.eval import metrics as M
from hoi_sim.eval.policy import Policy, load_policy
from hoi_sim.eval.report import REFERENCE, ClipResult, write_report
from hoi_sim.eval.rollout import TERMINATION_MODES, ClipEnv, ClipRollout, eval_env_overrides, rollout_clips
from hoi_sim.motions.assets import clip_asset_ids
from hoi_sim.motions.manifest import ClipEntry, check_clips, list_clips, load_clip, subsets
from hoi_sim.motions.object_kind import object_motion_kind
from hoi_sim.train.job import SKELETON_TOL_M, env_config, write_reward

ALL = "all"
BODY_22 = sk.body_ids(sk.BODY_JOINTS_22)


@dataclass
class EvalConfig:
    """Evaluation settings: the schema of the ``eval`` config group (``cfg/eval/default.yaml`` presets it)."""

    max_envs: int = ranged(64, min=1)
    """Clips are rolled out in batches of at most this many envs."""
    form: str = "surface"
    """Human end of interaction-graph edges in the contact metrics (``metrics.CONTACT_FORMS``): ``surface`` (the
    nearest point of the body's collision geom), ``joint`` (the joint position) or ``keypoint`` (joint + offset)."""
    baseline: bool = True
    """Add the reference motion itself as a baseline row."""
    max_steps: int = ranged(0, min=0)
    """Cap on control steps per clip (0: whole clip)."""
    terminations: str = "setting"
    """What ends a rollout (``TERMINATION_MODES``): ``setting`` (the reward setting's documented set at its own
    thresholds, as InterMimic's success rate), or ``training`` (the run's set with its preset's overrides, e.g.
    ``cpu_track``'s 0.25 m early termination, which saves samples in training but is not the success test)."""

    def __post_init__(self) -> None:
        if self.form not in M.CONTACT_FORMS:
            raise InputError(f"eval.form must be one of {', '.join(M.CONTACT_FORMS)}, got {self.form!r}")
        if self.terminations not in TERMINATION_MODES:
            raise InputError(f"eval.terminations must be one of {', '.join(TERMINATION_MODES)}, "
                             f"got {self.terminations!r}")


def _contact(gaps: np.ndarray, active: np.ndarray) -> float:
    """Eq. 23, or NaN (shown as "–") when no edge is active in the frames evaluated: no contact to score."""
    return M.contact_score(gaps, active) if np.asarray(active).any() else float("nan")


def rollout_metrics(r: ClipRollout, form: str = "surface") -> dict[str, float]:
    """Paper metrics of one rollout (units in ``hoi_sim.eval.metrics``). The surface form reads the simulated
    humanoid's geoms off its own pose (whatever skeleton the backend built)."""
    s, f = r.sim, r.ref
    sl = slice(1, r.steps + 1)
    gaps = M.graph_gaps(s["body_pos"][sl], s["body_quat"][sl], s["obj_pos"][sl], s["obj_quat"][sl], r.ig_body,
                        r.ig_body_offset, r.ig_obj_point, form)
    return {
        "mpjpe_mm": M.mpjpe(s["body_pos"][sl], f["body_pos"][sl]),
        "mpjpe_body_mm": M.mpjpe(s["body_pos"][sl], f["body_pos"][sl], BODY_22),
        "contact_mm": M.contact_mean_distance(gaps, r.ig_active[sl]),
        "contact_sum_m2": _contact(gaps, r.ig_active[sl]),
        "jitter": M.jitter(s["body_pos"], r.fps),
        "object_error_mm": M.object_error(s["obj_pos"][sl], s["obj_quat"][sl], f["obj_pos"][sl], f["obj_quat"][sl],
                                          r.obj_points),
    }


def reference_metrics(motion, form: str = "surface") -> dict[str, float]:
    """The same metrics for a ``HOIMotion`` against itself: MPJPE and object error 0, its own contact (the floor a
    policy's contact on the clip is judged against; geoms on the clip's own skeleton) and jitter."""
    gaps = M.graph_gaps(motion.body_pos, motion.body_quat, motion.obj_pos, motion.obj_quat, motion.ig_body,
                        motion.ig_body_offset, motion.ig_obj_point, form, motion.skeleton_offsets)
    return {"mpjpe_mm": 0.0, "mpjpe_body_mm": 0.0,
            "contact_mm": M.contact_mean_distance(gaps, motion.ig_active),
            "contact_sum_m2": _contact(gaps, motion.ig_active),
            "jitter": M.jitter(motion.body_pos, motion.fps), "object_error_mm": 0.0}


def clips_for(policy: Policy, motions: str | os.PathLike) -> tuple[str, list[ClipEntry]]:
    """(subset label, clips) a checkpoint is evaluated on: its training subset when ``motions`` labels it, else
    every clip of ``motions``."""
    mc = policy.job.motions  # prepare the clips as the policy's training did (grounding, penetration fix)
    clips = [dataclasses.replace(c, ground=bool(mc.ground), fix_penetration=bool(mc.fix_penetration))
             for c in list_clips(motions)]
    sub = policy.job.motions.subset
    if sub and sub in subsets(clips):
        return sub, [c for c in clips if c.action == sub]
    return ALL, clips


def rollout_policy(policy: Policy, clips: list[ClipEntry], cfg: EvalConfig | None = None,
                   objects_dir: str | None = None, motions: list | None = None) -> list[ClipRollout]:
    """Deterministic rollouts of ``policy`` over ``clips`` (grouped by object, skeleton and mass mode: one backend
    holds one of each); ``motions`` are the clips already loaded (else they are read)."""
    cfg = cfg or EvalConfig()
    job = policy.job
    objects_dir = objects_dir or job.motions.objects_dir
    if motions is None:
        motions = [load_clip(c, objects_dir) for c in clips]
    groups: dict[tuple, list[int]] = {}  # one backend per object, skeleton and mass mode
    for i, m in enumerate(motions):
        key = (str(m.meta.get("object_name", "")), object_motion_kind(m),
               np.round(np.asarray(m.skeleton_offsets, np.float64) / SKELETON_TOL_M).astype(np.int64).tobytes())
        groups.setdefault(key, []).append(i)
    out: dict[int, ClipRollout] = {}
    with tempfile.TemporaryDirectory(prefix="hoi_sim_eval_") as tmp:
        _rollout_groups(policy, motions, list(groups.values()), cfg, write_reward(job, Path(tmp) / "reward.yaml"),
                        out)
    return [out[i] for i in range(len(motions))]


def _rollout_groups(policy: Policy, motions: list, groups: list[list[int]], cfg: EvalConfig,
                    reward_path: Path | None, out: dict[int, ClipRollout]) -> None:
    from hoi_sim.motions.library import MotionLibrary

    for idx in groups:
        for start in range(0, len(idx), max(1, cfg.max_envs)):
            chunk = idx[start:start + max(1, cfg.max_envs)]
            longest = max(motions[i].num_frames for i in chunk)
            ecfg = env_config(policy.job, num_envs=len(chunk), reward_path=reward_path,
                              **eval_env_overrides(cfg.terminations, longest))
            lib = MotionLibrary([motions[i] for i in chunk], device=ecfg.device)
            env = ClipEnv(ecfg, lib, assigned=torch.arange(len(chunk)))
            try:
                for i, r in zip(chunk, rollout_clips(env, policy.act, cfg.max_steps)):
                    out[i] = r
            finally:
                env.close()


def evaluate(checkpoints: list[str | os.PathLike], motions: str | os.PathLike, out_dir: str | os.PathLike,
             cfg: EvalConfig | None = None, objects_dir: str | None = None, log=print) -> dict[str, Path]:
    """Evaluate each checkpoint on its subset of ``motions``; write ``out_dir/report.{md,csv,json,png}``."""
    cfg = cfg or EvalConfig()
    results: list[ClipResult] = []
    paths: list[Path] = []  # the clip file of each result, for its object and subject ids
    seen_ref: set[tuple[str, str]] = set()
    cache: dict[Path, object] = {}
    for ck in checkpoints:
        policy = load_policy(ck)
        subset, clips = clips_for(policy, motions)
        setting = policy.job.reward_name
        log(f"[eval] {policy.label}: reward {setting}, subset {subset}, {len(clips)} clip(s)")
        odir = objects_dir or policy.job.motions.objects_dir
        check_clips(clips, odir)  # a bad clip is refused before any rollout
        motions_ = [cache[c.path] if c.path in cache else cache.setdefault(c.path, load_clip(c, odir)) for c in clips]
        rolls = rollout_policy(policy, clips, cfg, odir, motions_)
        for c, r in zip(clips, rolls):
            results.append(ClipResult(setting, subset, policy.label, r.clip, r.steps, r.reached_end,
                                      rollout_metrics(r, cfg.form), ended_by=",".join(r.ended_by)))
            paths.append(c.path)
        if cfg.baseline:
            for c, m in zip(clips, motions_):
                if (subset, c.name) in seen_ref:
                    continue
                seen_ref.add((subset, c.name))
                results.append(ClipResult(REFERENCE, subset, "", m.name, m.num_frames, True,
                                          reference_metrics(m, cfg.form)))
                paths.append(c.path)
        ok = sum(r.reached_end for r in rolls)
        log(f"[eval]   reached the clip end on {ok}/{len(rolls)}; mean steps {np.mean([r.steps for r in rolls]):.1f}")
    # objects and subjects identified over every clip of the report at once (counts per row are then consistent)
    ids = dict(zip(cache, clip_asset_ids(list(cache.values()))))
    results = [dataclasses.replace(r, object=ids[p][0], subject=ids[p][1]) for r, p in zip(results, paths)]
    return write_report(results, out_dir, contact_form=cfg.form)

