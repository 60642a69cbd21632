"""4DHOISolver benchmark: stage-1 frames/s of the batched LM beside a per-frame ``scipy.optimize.least_squares``
baseline on the same problems (same residuals, weights and starting poses), and full-solver seconds per 100
frames on synthetic sessions with ground truth.

Sessions: ``make_synthetic_session`` on the first frames of OMOMO_new clips (``../shared``), or toy sessions when
the shared data is absent. Ends with one JSON line (``"ratio"`` = batched / scipy frames per second).

    python benchmarks/solver.py [--clips 5] [--frames 100] [--threads 0] [--image 160]

Like ``hoi-sim``, it runs with ``OMP_WAIT_POLICY=PASSIVE`` unless a policy is set (``hoi_sim.threads``), and
``--threads 0`` is the solver's own auto choice (one per core with sleeping OpenMP threads).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from hoi_sim.body import BodyParams, ProxyBody
from hoi_sim.bridge.synth import make_synthetic_session
from hoi_sim.io_utils import dumps_json
from hoi_sim.recon.config import SolverConfig, Stage1Config
from hoi_sim.recon.ingest import load_session
from hoi_sim.recon.metrics import solver_metrics
from hoi_sim.recon.sequence import load_sequence
from hoi_sim.recon.solver import solve
from hoi_sim.recon.stage1 import build_problem, kabsch, residual_weights, solve_poses
from hoi_sim.threads import auto_threads, rerun_with_sleeping_threads

SHARED = Path(os.environ.get("HOI_SIM_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def sessions(root: Path, clips: int, frames: int, size: int) -> list[Path]:
    omomo = sorted((SHARED / "data" / "intermimic" / "OMOMO_new").glob("*.pt"))
    out = []
    if omomo:
        from hoi_sim.motions.intermimic import from_intermimic

        step = max(1, len(omomo) // clips)
        for k, clip in enumerate(omomo[::step][:clips]):
            d = root / clip.stem
            motion = from_intermimic(clip, SHARED / "data" / "intermimic" / "objects")
            make_synthetic_session(motion, d, frames=frames, seed=k, image_size=(size, size))
            out.append(d)
    else:
        from hoi_sim.bridge.toy import toy_hoi_motion

        for k in range(clips):
            d = root / f"toy_{k}"
            make_synthetic_session(toy_hoi_motion(frames, seed=k), d, seed=k, image_size=(size, size))
            out.append(d)
    return out


def scipy_baseline(prob, R_start: np.ndarray, t_start: np.ndarray, cfg: Stage1Config) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame LM (MINPACK, numeric Jacobian) on the residuals of ``stage1.normal_equations``."""
    w3, w2 = residual_weights(cfg)
    wp, K = cfg.prior_weight, prob.K.numpy()
    B = prob.batch
    R_out, t_out = np.zeros((B, 3, 3)), np.zeros((B, 3))
    for b in range(B):
        m3, m2 = prob.m3[b].numpy() > 0, prob.m2[b].numpy() > 0
        p3, q3 = prob.p3[b].numpy()[m3], prob.q3[b].numpy()[m3]
        p2, uv = prob.p2[b].numpy()[m2], prob.uv[b].numpy()[m2]
        R0, t0 = prob.R0[b].numpy(), prob.t0[b].numpy()
        Rs, ts = R_start[b], t_start[b]

        def res(x: np.ndarray) -> np.ndarray:
            R = Rotation.from_rotvec(x[:3]).as_matrix() @ Rs  # noqa: B023
            t = ts + x[3:]  # noqa: B023
            r3 = w3 * (p3 @ R.T + t - q3)  # noqa: B023
            X = p2 @ R.T + t  # noqa: B023
            Z = np.maximum(X[:, 2], cfg.min_z)
            u = np.stack([(K[0, 0] * X[:, 0] + K[0, 1] * X[:, 1]) / Z + K[0, 2], K[1, 1] * X[:, 1] / Z + K[1, 2]], 1)
            rp = wp * np.concatenate([Rotation.from_matrix(R @ R0.T).as_rotvec(), t - t0])  # noqa: B023
            return np.concatenate([r3.ravel(), w2 * (u - uv).ravel(), rp])  # noqa: B023

        x = least_squares(res, np.zeros(6), method="lm").x
        R_out[b] = Rotation.from_rotvec(x[:3]).as_matrix() @ Rs
        t_out[b] = ts + x[3:]
    return R_out, t_out


def _pool(probs: list) -> object | None:
    """All sessions' frames as one batch (the per-frame problems are independent; pad to the widest)."""
    from hoi_sim.recon.stage1 import PoseProblem

    n3 = max(p.p3.shape[1] for p in probs)
    n2 = max(p.p2.shape[1] for p in probs)
    pad = lambda x, n: torch.nn.functional.pad(x, (0, 0) * (x.dim() - 2) + (0, n - x.shape[1]))  # noqa: E731
    if len({tuple(p.K.flatten().tolist()) for p in probs}) != 1:
        return None  # one K per batch: sessions with different intrinsics are not pooled
    cat = lambda f, n: torch.cat([pad(getattr(p, f), n) for p in probs])  # noqa: E731
    return PoseProblem(p3=cat("p3", n3), q3=cat("q3", n3), m3=cat("m3", n3), p2=cat("p2", n2), uv=cat("uv", n2),
                       m2=cat("m2", n2), K=probs[0].K, R0=torch.cat([p.R0 for p in probs]),
                       t0=torch.cat([p.t0 for p in probs]))


def rot_err(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip((np.einsum("tij,tij->t", Ra, Rb) - 1) / 2, -1, 1)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=5)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--image", type=int, default=160)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads for both solvers (0: the solver's default, hoi_sim.threads.auto_threads)")
    ap.add_argument("--compare-threads", type=int, default=1,
                    help="also time the full solver on the first session with this many threads (0: skip)")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    rerun_with_sleeping_threads()
    args.threads = auto_threads(args.threads)
    torch.set_num_threads(args.threads)
    body = ProxyBody()
    cfg = SolverConfig(threads=args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        dirs = sessions(Path(tmp), args.clips, args.frames, args.image)
        inps = [load_session(d) for d in dirs]
        gts = [load_sequence(d / "ground_truth.npz") for d in dirs]

    # ---- stage 1: batched LM vs per-frame scipy on the same problems ----
    probs = []
    for inp in inps:
        with torch.no_grad():
            kps = body(BodyParams.from_numpy(inp.human_incam)).keypoints.double().numpy()
        probs.append(build_problem(inp.object.vertices, inp.contact_vertex, kps, inp.track_vertex, inp.track_xy,
                                   inp.K, inp.obj_R_init, inp.obj_t_init))
    n_frames = sum(p.batch for p in probs)
    with torch.inference_mode():
        solve_poses(probs[0], cfg.stage1)  # warm-up
        best, best_pooled = np.inf, np.inf
        pooled = _pool([p for p in probs])
        for _ in range(args.reps):
            t0 = time.perf_counter()
            sols = [solve_poses(p, cfg.stage1) for p in probs]
            best = min(best, time.perf_counter() - t0)
            if pooled is not None:
                t0 = time.perf_counter()
                solve_poses(pooled, cfg.stage1)
                best_pooled = min(best_pooled, time.perf_counter() - t0)
    fps_batched = n_frames / best
    fps_pooled = n_frames / best_pooled
    starts = []
    for p in probs:  # the same starting poses as the batched solver (Kabsch where ≥ 3 pairs, else the init)
        Rk, tk, ok = kabsch(p.p3, p.q3, p.m3)
        starts.append((torch.where(ok[:, None, None], Rk, p.R0).numpy(), torch.where(ok[:, None], tk, p.t0).numpy()))
    t0 = time.perf_counter()
    base = [scipy_baseline(p, Rs, ts, cfg.stage1) for p, (Rs, ts) in zip(probs, starts)]
    fps_scipy = n_frames / (time.perf_counter() - t0)
    err = {"batched": [], "scipy": []}
    diff_deg, diff_cm = [], []
    for (R, t, _), (Rb, tb), gt, p in zip(sols, base, gts, probs):
        ann = (p.m3.sum(1) + p.m2.sum(1) > 0).numpy()
        for name, (Rx, tx) in (("batched", (R.numpy(), t.numpy())), ("scipy", (Rb, tb))):
            err[name].append((rot_err(Rx[ann], gt.obj_R[ann]), 100 * np.linalg.norm(tx[ann] - gt.obj_t[ann], axis=1)))
        diff_deg.append(rot_err(R.numpy(), Rb))
        diff_cm.append(100 * np.linalg.norm(t.numpy() - tb, axis=1))
    summary = {k: (float(np.concatenate([a for a, _ in v]).mean()), float(np.concatenate([b for _, b in v]).mean()))
               for k, v in err.items()}
    print(f"stage 1: {n_frames} frames from {len(probs)} sessions; batched LM {fps_batched:,.0f} frames/s (one batch "
          f"per session; {fps_pooled:,.0f} frames/s with all sessions in one batch), scipy per-frame LM "
          f"{fps_scipy:,.0f} frames/s, ratio {fps_batched / fps_scipy:.1f}x ({fps_pooled / fps_scipy:.1f}x pooled)")
    print(f"  error vs ground truth (annotated frames, noisy human): batched {summary['batched'][0]:.2f} deg / "
          f"{summary['batched'][1]:.2f} cm, scipy {summary['scipy'][0]:.2f} deg / {summary['scipy'][1]:.2f} cm; "
          f"max batched-scipy difference {np.concatenate(diff_deg).max():.4f} deg / "
          f"{np.concatenate(diff_cm).max():.4f} cm")

    # ---- full solver ----
    secs, per100, rows = [], [], []
    for inp, gt, d in zip(inps, gts, dirs):
        t0 = time.perf_counter()
        res = solve(inp, cfg, body)
        el = time.perf_counter() - t0
        secs.append(el)
        per100.append(100.0 * el / inp.num_frames)
        out = {}
        for name, (h, R, t) in (("init", (inp.human_incam, inp.obj_R_init, inp.obj_t_init)),
                                ("solved", (res.human, res.obj_R, res.obj_t)), ("gt", (gt.human, gt.obj_R, gt.obj_t))):
            with torch.no_grad():
                o = body(BodyParams.from_numpy(h))
            out[name] = solver_metrics(o.keypoints.double().numpy(), o.sample_vertices.double().numpy(),
                                       inp.object.vertices, inp.object.faces, R, t, gt.obj_R, gt.obj_t,
                                       gt.contact_vertex, n_cd=2000)
        rows.append(out)
        f = lambda m: ", ".join(f"{k} {v:.2f}" for k, v in m.items())  # noqa: E731
        print(f"{d.name}: {inp.num_frames} frames in {el:.1f} s ({per100[-1]:.1f} s/100 frames, "
              f"stage 2 {res.diagnostics['t_stage2_s']:.1f} s)\n  init   {f(out['init'])}\n  solved {f(out['solved'])}"
              f"\n  truth  {f(out['gt'])}")
    other = None
    if args.compare_threads and args.compare_threads != args.threads:
        torch.set_num_threads(args.compare_threads)
        t0 = time.perf_counter()
        solve(inps[0], SolverConfig(threads=args.compare_threads), body)
        other = 100.0 * (time.perf_counter() - t0) / inps[0].num_frames
        torch.set_num_threads(args.threads)
        print(f"{dirs[0].name} with {args.compare_threads} torch threads: {other:.1f} s/100 frames")
    mean = lambda k, key: float(np.mean([r[k][key] for r in rows]))  # noqa: E731
    figures = {
        "benchmark": "solver", "threads": args.threads, "sessions": len(inps), "frames": n_frames,
        "stage1_batched_fps": round(fps_batched, 1), "stage1_scipy_fps": round(fps_scipy, 1),
        "ratio": round(fps_batched / fps_scipy, 2), "stage1_pooled_fps": round(fps_pooled, 1),
        "ratio_pooled": round(fps_pooled / fps_scipy, 2),
        "stage1_rot_err_deg": round(summary["batched"][0], 3), "stage1_trans_err_cm": round(summary["batched"][1], 3),
        "scipy_rot_err_deg": round(summary["scipy"][0], 3), "scipy_trans_err_cm": round(summary["scipy"][1], 3),
        "solver_s_per_100_frames": round(float(np.mean(per100)), 2),
        "solver_s_per_100_frames_max": round(float(np.max(per100)), 2),
        f"solver_s_per_100_frames_{args.compare_threads}threads": None if other is None else round(other, 2),
        "load_avg_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        **{f"{k}_{key}": round(mean(k, key), 3) for k in ("init", "solved") for key in rows[0]["init"]},
        "gt_contact_dist_cm": round(mean("gt", "contact_dist_cm"), 3),
        "gt_penetration_cm": round(mean("gt", "penetration_cm"), 3),
    }
    print(dumps_json(figures))


if __name__ == "__main__":
    main()
