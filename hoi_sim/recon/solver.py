"""4DHOISolver end to end: ``solve(inp, cfg, body_model) -> SolverResult`` (camera frame, every local frame).

Order (paper Alg. 1, released code §3): body keypoints from the incam params → stage 1 object poses for all frames
(batched LM; static objects once) → limb IK → stage 2 Adam on keyframes (batched) → static / pre-contact holds →
interpolation between keyframes → low-pass smoothing. Choices where paper and code differ: ``docs/recon_solver.md``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from hoi_sim.body.base import BodyModel, BodyParams
from hoi_sim.body.mesh import cluster_decimate
from hoi_sim.recon import post
from hoi_sim.recon.config import SolverConfig, Stage2Config
from hoi_sim.recon.ik import limb_ik
from hoi_sim.recon.losses import downsample_masks, edge_weights
from hoi_sim.recon.objective import ObjectiveContext, frame_objective, keep_mask, keyframe_pairs, log_decision
from hoi_sim.recon.render import render_size, scale_intrinsics
from hoi_sim.recon.sdf import build_sdf
from hoi_sim.recon.stage1 import build_problem, pool_static, solve_poses
from hoi_sim.recon.stage1_temporal import solve_poses_temporal
from hoi_sim.recon.stage2 import (
    MaskTargets,
    Stage2Batch,
    joint_mask_released,
    joint_mask_tree,
    optimize_keyframes,
)
from hoi_sim.recon.types import SmplxParams, SolverInput
from hoi_sim.threads import auto_threads


@dataclass
class SolverResult:
    """Solution for every local frame, camera frame (OpenCV, m).

    ``human``: SMPL-X params [T] (global orient/transl are the incam ones, after IK); ``obj_R [T,3,3]``,
    ``obj_t [T,3]`` act on ``inp.object.vertices`` (``v_cam = R v + t``); ``stage1_R``/``stage1_t``: the stage-1
    poses; ``keyframes [K]`` local indices optimised in stage 2; ``diagnostics``: timings (s), stage-1 residuals,
    IK errors, stage-2 loss sums at the first and last step, and ``keep_or_revert``: per stage, what was kept and
    why (:mod:`hoi_sim.recon.objective`). ``stages``: the solution after each stage on every frame, as
    ``(human, R [T,3,3], t [T,3])`` under ``init``, ``stage1``, ``ik``, ``stage2`` (keyframe changes interpolated,
    not smoothed) and ``post`` (= the result), for per-stage evaluation.
    """

    human: SmplxParams
    obj_R: np.ndarray
    obj_t: np.ndarray
    stage1_R: np.ndarray
    stage1_t: np.ndarray
    keyframes: np.ndarray
    start_frame: int = 0
    diagnostics: dict[str, Any] = field(default_factory=dict)
    stages: dict[str, tuple[SmplxParams, np.ndarray, np.ndarray]] = field(default_factory=dict)

    @property
    def num_frames(self) -> int:
        return int(self.obj_R.shape[0])

    def obj_quat(self) -> np.ndarray:
        """[T,4] object rotation, wxyz."""
        return post.mat_to_quat(self.obj_R)


def keyframe_indices(T: int, K: int, first: int = 0) -> np.ndarray:
    """Local keyframes ``first, first+K, …`` plus the last frame (each once)."""
    return np.unique(np.concatenate([np.arange(first, T, max(K, 1)), [T - 1], [first]])).astype(np.int64)


def _load_masks(inp: SolverInput, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """GT (human, object) masks [K,H,W] at ``frames`` and a validity flag [K], from arrays or files; None if none."""
    if inp.human_masks is not None and inp.object_masks is not None:
        return inp.human_masks[frames], inp.object_masks[frames], np.ones(len(frames), bool)
    hp, op = inp.human_mask_paths, inp.object_mask_paths
    if not hp or not op:
        return None
    from hoi_sim.recon.session_io import read_mask

    H, W = inp.image_size
    mh, mo, ok = np.zeros((len(frames), H, W), bool), np.zeros((len(frames), H, W), bool), np.zeros(len(frames), bool)
    for i, f in enumerate(frames.tolist()):
        if hp[f] is not None and op[f] is not None:
            mh[i], mo[i], ok[i] = read_mask(hp[f], (H, W)), read_mask(op[f], (H, W)), True
    return (mh, mo, ok) if ok.any() else None


def _body_for(inp: SolverInput, body_model: BodyModel | None) -> BodyModel:
    """The body model (default: the proxy body) using the session's keypoint vertices."""
    if body_model is None:
        from hoi_sim.body.proxy import ProxyBody

        body_model = ProxyBody()
    if hasattr(body_model, "with_keypoint_vertices"):
        body_model.with_keypoint_vertices(inp.keypoint_vertices)
    return body_model


def _stage1(inp: SolverInput, cfg: SolverConfig, V: np.ndarray, kps: np.ndarray, Rd: np.ndarray, td: np.ndarray,
            diag: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Stage-1 object poses ``R1 [T,3,3]``, ``t1 [T,3]`` of every frame (a static object: one world pose)."""
    prob = build_problem(V, inp.contact_vertex, kps, inp.track_vertex, inp.track_xy, inp.K, inp.obj_R_init,
                         inp.obj_t_init)
    with torch.inference_mode():
        if inp.static:
            best = inp.best_frame()
            dof = prob.dof().numpy()
            frames = np.flatnonzero(dof > 0) if cfg.stage1.static == "joint" else np.array([best])
            frames = frames if len(frames) else np.array([best])
            pooled = pool_static(prob, torch.as_tensor(Rd), torch.as_tensor(td), torch.as_tensor(frames))
            Rw, tw, info = solve_poses(pooled, cfg.stage1)
            R1 = np.einsum("tji,jk->tik", Rd, Rw[0].numpy())
            t1 = np.einsum("tji,tj->ti", Rd, tw[0].numpy()[None] - td)
        else:
            rho = float(np.sqrt((np.asarray(V) ** 2).sum(1).mean()))
            R1t, t1t, info = solve_poses_temporal(prob, cfg.stage1, rho, torch.as_tensor(Rd), torch.as_tensor(td))
            R1, t1 = R1t.numpy(), t1t.numpy()
    diag["stage1_rms3d_m"] = float(info.rms3d.max())
    diag["stage1_rms2d_px"] = float(info.rms2d.max())
    diag["stage1_iterations"] = info.iterations
    return R1, t1


def _limb_ik(inp: SolverInput, cfg: SolverConfig, body_model: BodyModel, params0: BodyParams, V: np.ndarray,
             R1: np.ndarray, t1: np.ndarray, diag: dict[str, Any]) -> BodyParams:
    """Limbs reaching for their stage-1 contact points."""
    active = torch.as_tensor(inp.contact_vertex >= 0)
    obj_pts = V[np.clip(inp.contact_vertex, 0, None)]  # [T,87,3]
    targets = torch.as_tensor(np.einsum("tij,tnj->tni", R1, obj_pts) + t1[:, None], dtype=torch.float32)
    ik = limb_ik(body_model, params0, targets, active, cfg.ik)
    diag["ik_err_before_m"] = float(ik.err_before.max(initial=0.0))
    diag["ik_err_after_m"] = float(ik.err_after.max(initial=0.0))
    return ik.params


def _as_smplx(p: BodyParams) -> SmplxParams:
    return SmplxParams(**{k: v.detach().numpy().astype(np.float64) for k, v in p.as_dict().items()})


def _select(keep: np.ndarray, a: BodyParams, b: BodyParams) -> BodyParams:
    """Per frame: ``a`` where ``keep`` [F] is True, else ``b`` (same batch size)."""
    m = torch.as_tensor(keep)[:, None]
    return BodyParams(**{k: torch.where(m, va, vb.to(va.dtype)) for (k, va), vb in
                         zip(a.as_dict().items(), b.as_dict().values())})


def _context(inp: SolverInput, cfg: SolverConfig, body: BodyModel, V: np.ndarray) -> ObjectiveContext:
    s2 = cfg.stage2
    keep, faces_s, _ = cluster_decimate(V, np.asarray(inp.object.faces), s2.render.object_faces)
    return ObjectiveContext(body=body, V=V, obj_v=torch.as_tensor(V[keep], dtype=torch.float32),
                            obj_f=torch.as_tensor(faces_s),
                            sdf=build_sdf(V, np.asarray(inp.object.faces), s2.sdf_resolution, s2.sdf_scale),
                            cfg=cfg, cv=inp.contact_vertex, track_v=inp.track_vertex, track_xy=inp.track_xy, K=inp.K)


def _decide(stage: str, before: dict[str, np.ndarray], after: dict[str, np.ndarray], joint: bool,
            diag: dict[str, Any], say: Callable[[str], None], enabled: bool = True
            ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Keep-or-revert of one stage (:func:`objective.keep_mask`; every frame kept when not ``enabled``), logged;
    returns the kept mask and the objective terms as kept."""
    kept = keep_mask(before["total"], after["total"], joint) if enabled else np.ones(len(before["total"]), bool)
    entry = log_decision(stage, before, after, kept, joint)
    diag.setdefault("keep_or_revert", {})[stage] = entry
    say("  " + entry["reason"])
    return kept, {k: np.where(kept, after[k], before[k]) for k in after}


def solve(inp: SolverInput, cfg: SolverConfig | None = None, body_model: BodyModel | None = None,
          progress: Callable[[str], None] | None = None) -> SolverResult:
    """Run 4DHOISolver on one session. ``body_model`` defaults to the proxy body; ``progress`` gets one-line
    messages. Each stage is kept per frame only where it lowered the solver's own objective (stage 1, IK, stage 2;
    ``diagnostics["keep_or_revert"]``)."""
    cfg = cfg or SolverConfig()
    say = progress or (lambda msg: None)
    torch.set_num_threads(auto_threads(cfg.threads))
    body_model = _body_for(inp, body_model)
    inp.validate()
    T, diag, tic = inp.num_frames, {}, time.perf_counter()
    V = np.asarray(inp.object.vertices, np.float64)
    with torch.no_grad():
        params0 = BodyParams.from_numpy(inp.human_incam, torch.float32)
        kps = body_model(params0).keypoints.double().numpy()
    Rd, td = post.camera_to_world(body_model, inp.human_incam, inp.human_global, inp.cam_to_world, T)
    ctx, every = _context(inp, cfg, body_model, V), np.arange(T)
    stages = {"init": (inp.human_incam, inp.obj_R_init.copy(), inp.obj_t_init.copy())}

    say(f"stage 1: object pose on {T} frames")
    R1, t1 = _stage1(inp, cfg, V, kps, Rd, td, diag)
    o_init = frame_objective(ctx, params0, inp.obj_R_init, inp.obj_t_init, every)
    k1, o1 = _decide("stage1", o_init, frame_objective(ctx, params0, R1, t1, every), inp.static, diag, say,
                     cfg.keep_or_revert)
    R1, t1 = np.where(k1[:, None, None], R1, inp.obj_R_init), np.where(k1[:, None], t1, inp.obj_t_init)
    stages["stage1"] = (inp.human_incam, R1, t1)
    diag["t_stage1_s"] = time.perf_counter() - tic
    params1 = _limb_ik(inp, cfg, body_model, params0, V, R1, t1, diag)
    kik, _ = _decide("ik", o1, frame_objective(ctx, params1, R1, t1, every), False, diag, say,
                      cfg.keep_or_revert)
    params1 = _select(kik, params1, params0)
    stages["ik"] = (_as_smplx(params1), R1, t1)
    diag["t_ik_s"] = time.perf_counter() - tic - diag["t_stage1_s"]

    contact_frames = inp.contact_frames()
    first_contact = int(contact_frames[0]) if len(contact_frames) else 0
    pre_contact = (not inp.static) and len(contact_frames) > 0 and first_contact > 0
    kf = keyframe_indices(T, cfg.stage2.keyframe_interval, first_contact if pre_contact else 0)
    R2, t2 = R1.copy(), t1.copy()
    params2 = params1.index(torch.as_tensor(kf)).detach()
    if cfg.stage2.enabled:
        say(f"stage 2: {len(kf)} keyframes × {cfg.stage2.steps} Adam steps")
        R2, t2, params2 = _stage2_kept(inp, cfg, ctx, kf, params1, R1, t1, Rd, td, diag, say)
    diag["t_stage2_s"] = time.perf_counter() - tic - diag["t_stage1_s"] - diag["t_ik_s"]

    say("post: interpolation and smoothing")
    args = (inp, kf, params1, params2, R1, t1, R2, t2, Rd, td, first_contact, pre_contact)
    stages["stage2"] = _post(replace(cfg, post=replace(cfg.post, smoothing="none")), *args)
    human, R, t = stages["post"] = _post(cfg, *args)
    _log_post(ctx, stages, kf, diag)
    diag["t_total_s"] = time.perf_counter() - tic
    return SolverResult(human=human, obj_R=R, obj_t=t, stage1_R=R1, stage1_t=t1, keyframes=kf,
                        start_frame=inp.start_frame, diagnostics=diag, stages=stages)


def _log_post(ctx: ObjectiveContext, stages: dict, kf: np.ndarray, diag: dict[str, Any]) -> None:
    """Post is logged, never reverted: its smoothing is a prior on motion, which the data objective cannot see.
    Scored on the keyframes only (the objective costs ~3 ms per frame, mostly the body-primitive distances)."""
    o = {k: frame_objective(ctx, BodyParams.from_numpy(stages[k][0].slice(kf)), stages[k][1][kf], stages[k][2][kf],
                            kf) for k in ("stage2", "post")}
    entry = log_decision("post", o["stage2"], o["post"], np.ones(len(kf), bool), False)
    entry["reason"] = (f"post: kept (smoothing is a motion prior the data objective cannot see); objective "
                       f"{entry['objective_before']:.4g} -> {entry['objective_after_all']:.4g} on the keyframes")
    diag.setdefault("keep_or_revert", {})["post"] = entry


def _stage2_kept(inp: SolverInput, cfg: SolverConfig, ctx: ObjectiveContext, kf: np.ndarray, params1: BodyParams,
                 R1: np.ndarray, t1: np.ndarray, Rd: np.ndarray, td: np.ndarray, diag: dict[str, Any],
                 say: Callable[[str], None]) -> tuple[np.ndarray, np.ndarray, BodyParams]:
    """Stage 2 on the keyframes, then kept per keyframe (a static object: all together) only where it lowered the
    objective, masks included; reverted keyframes return to their stage-1/IK solution."""
    masks, hw = _mask_targets(inp, kf, cfg.stage2) if cfg.stage2.weights.mask > 0 else (None, None)
    R2, t2, params2, hist = _stage2(inp, cfg, ctx, kf, params1, R1, t1, Rd, td, masks, hw)
    diag["stage2_loss"] = hist
    p1k = params1.index(torch.as_tensor(kf)).detach()
    before = frame_objective(ctx, p1k, R1[kf], t1[kf], kf, masks, hw)
    kept, _ = _decide("stage2", before, frame_objective(ctx, params2, R2[kf], t2[kf], kf, masks, hw), inp.static,
                      diag, say, cfg.keep_or_revert)
    R2[kf], t2[kf] = np.where(kept[:, None, None], R2[kf], R1[kf]), np.where(kept[:, None], t2[kf], t1[kf])
    return R2, t2, _select(kept, params2, p1k)


def _mask_targets(inp: SolverInput, kf: np.ndarray, s2: Stage2Config
                  ) -> tuple[MaskTargets | None, tuple[int, int] | None]:
    """The keyframes' GT masks at render resolution and that resolution (h, w); (None, None) without masks."""
    loaded = _load_masks(inp, kf)
    if loaded is None:
        return None, None
    h, w, s = render_size(inp.height, inp.width, s2.render.scale, s2.render.max_side)
    gh, go = downsample_masks(loaded[0], h, w), downsample_masks(loaded[1], h, w)
    f32 = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return MaskTargets(f32(gh), f32(go), f32(edge_weights(gh, s2.render.edge_pool)),
                       f32(edge_weights(go, s2.render.edge_pool)), torch.as_tensor(loaded[2]),
                       scale_intrinsics(f32(inp.K), s)), (h, w)


def _stage2(inp: SolverInput, cfg: SolverConfig, ctx: ObjectiveContext, kf: np.ndarray, params1: BodyParams,
            R1: np.ndarray, t1: np.ndarray, Rd: np.ndarray, td: np.ndarray, masks: MaskTargets | None,
            hw: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray, BodyParams, dict[str, list[float]]]:
    s2, body = cfg.stage2, ctx.body
    obj_v, obj_f, sdf = ctx.obj_v, ctx.obj_f, ctx.sdf
    rows, rows_p, pmask, pts = keyframe_pairs(inp.contact_vertex[kf], ctx.V)
    jm = joint_mask_tree(rows, s2.chain_depth) if s2.joint_mask == "tree" else \
        joint_mask_released(inp.contact_keypoints(), len(kf))
    free = np.ones(len(kf), bool)
    R1k, t1k = R1[kf].copy(), t1[kf].copy()
    order = [np.arange(len(kf))]
    if inp.static:  # paper §9.4: optimise the object at the best frame only, then hold it (human-only elsewhere)
        best = int(np.argmin(np.abs(kf - inp.best_frame())))
        free[:] = False
        free[best] = True
        order = [np.array([best]), np.delete(np.arange(len(kf)), best)]
    out_p = params1.index(torch.as_tensor(kf)).detach()
    hist: dict[str, list[float]] = {}
    for group in order:
        for s in range(0, len(group), max(1, s2.keyframe_batch)):
            ix = np.asarray(group[s:s + s2.keyframe_batch], dtype=np.int64)
            if len(ix) == 0:
                continue
            idx = torch.as_tensor(ix)
            batch = Stage2Batch(params=out_p.index(idx), R1=torch.as_tensor(R1k[ix]), t1=torch.as_tensor(t1k[ix]),
                                rows=torch.as_tensor(rows_p[ix]), obj_pts=torch.as_tensor(pts[ix]),
                                pair_mask=torch.as_tensor(pmask[ix]), joint_mask=torch.as_tensor(jm[ix]),
                                obj_free=torch.as_tensor(free[ix]), masks=masks.index(idx) if masks else None)
            res = optimize_keyframes(body, batch, obj_v, obj_f, sdf, s2, hw)
            for k in ("body_pose", "left_hand_pose", "right_hand_pose", "betas"):
                getattr(out_p, k)[idx] = getattr(res.params, k).to(getattr(out_p, k).dtype)
            moved = free[ix] if s2.optimize_object else np.zeros(len(ix), bool)  # frozen: keep float64 as is
            R1k[ix[moved]], t1k[ix[moved]] = res.R.double().numpy()[moved], res.t.double().numpy()[moved]
            for k, v in res.history.items():
                h0 = hist.setdefault(k, [0.0, 0.0])
                h0[0] += v[0]
                h0[1] += v[1]
        if inp.static and group is order[0] and s2.optimize_object:  # hold the optimised static pose in the world
            b = int(group[0])
            Rtmp, ttmp = R1.copy(), t1.copy()
            Rtmp[kf[b]], ttmp[kf[b]] = R1k[b], t1k[b]
            Rh, th = post.hold_in_world(Rtmp, ttmp, int(kf[b]), np.arange(len(R1)), Rd, td)
            R1k, t1k = Rh[kf], th[kf]
    R2, t2 = R1.copy(), t1.copy()
    R2[kf], t2[kf] = R1k, t1k
    return R2, t2, out_p, hist


def _post(cfg: SolverConfig, inp: SolverInput, kf: np.ndarray, params1: BodyParams, params2: BodyParams,
          R1: np.ndarray, t1: np.ndarray, R2: np.ndarray, t2: np.ndarray, Rd: np.ndarray, td: np.ndarray,
          first_contact: int, pre_contact: bool) -> tuple[SmplxParams, np.ndarray, np.ndarray]:
    pc, T = cfg.post, inp.num_frames
    base = params1.to_numpy()
    key = params2.to_numpy()
    q_base = post.aa_to_quat(BodyParams.from_numpy(base, torch.float64).full_pose().numpy())  # [T,55,4]
    q_key = post.aa_to_quat(BodyParams.from_numpy(key, torch.float64).full_pose().numpy())  # [K,55,4]
    qo_base, qo_key = post.mat_to_quat(R1), post.mat_to_quat(R2[kf])
    if pc.interpolation == "residual":
        dq = post.aa_to_quat(post.quat_to_aa(_qmul(q_key, _qconj(q_base[kf]))))  # per-joint change at keyframes
        dq_all = post.interp_quats(kf, dq, T) if pc.pose_interp == "slerp" else \
            post.aa_to_quat(post.interp_vectors(kf, post.quat_to_aa(dq), T))
        q = _qmul(dq_all, q_base)
        dqo = _qmul(qo_key, _qconj(qo_base[kf]))
        qo = _qmul(post.interp_quats(kf, dqo, T), qo_base)
        t = t1 + post.interp_vectors(kf, t2[kf] - t1[kf], T)
        betas = base["betas"] + post.interp_vectors(kf, key["betas"] - base["betas"][kf], T)
    else:
        q = post.interp_quats(kf, q_key, T) if pc.pose_interp == "slerp" else \
            post.aa_to_quat(post.interp_vectors(kf, post.quat_to_aa(q_key), T))
        qo = post.interp_quats(kf, qo_key, T)
        t = post.interp_vectors(kf, t2[kf], T)
        betas = post.interp_vectors(kf, key["betas"], T)
    q[:, 0] = q_base[:, 0]  # global orient is never changed by stage 2
    unchanged = pc.interpolation == "residual" and np.array_equal(R2[kf], R1[kf])
    R = R1.copy() if unchanged else post.quat_to_mat(qo)  # no quaternion round trip where stage 2 left the object
    if inp.static:
        b = int(kf[np.argmin(np.abs(kf - inp.best_frame()))])
        R, t = post.hold_in_world(R2, t2, b, np.arange(T), Rd, td)
    elif pre_contact:
        frames = np.arange(first_contact)
        if pc.pre_contact == "track":
            frames = frames[inp.dof_per_frame()[frames] < 6]
        R, t = post.hold_in_world(R, t, first_contact, frames, Rd, td)
    q = post.smooth(q, inp.fps, pc, is_quat=True)
    if _smooth_object(cfg):
        R = post.quat_to_mat(post.smooth(post.mat_to_quat(R), inp.fps, pc, is_quat=True))
        t = post.smooth(t, inp.fps, pc)
    betas = post.smooth(betas, inp.fps, pc)
    full = post.quat_to_aa(q)
    c = lambda a: torch.as_tensor(np.ascontiguousarray(a))  # noqa: E731
    p = BodyParams.from_full_pose(c(full), c(betas), c(base["transl"]))
    human = SmplxParams(**{k: v.numpy().astype(np.float64) for k, v in p.as_dict().items()})
    human.global_orient = base["global_orient"].copy()
    if pc.smooth_root:
        human.global_orient = post.quat_to_aa(post.smooth(post.aa_to_quat(human.global_orient), inp.fps, pc, True))
        human.transl = post.smooth(human.transl, inp.fps, pc)
    return human, R, t


def _smooth_object(cfg: SolverConfig) -> bool:
    """Whether post low-passes the object pose (``PostConfig.smooth_object``)."""
    if cfg.post.smooth_object != "auto":
        return cfg.post.smooth_object == "always"
    return cfg.stage1.smooth_weight <= 0 or (cfg.stage2.enabled and cfg.stage2.optimize_object)


def _qmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    from hoi_sim import rotations as rot

    return rot.quat_mul(torch.as_tensor(a), torch.as_tensor(b)).numpy()


def _qconj(q: np.ndarray) -> np.ndarray:
    return q * np.array([1.0, -1.0, -1.0, -1.0])
