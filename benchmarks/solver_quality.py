"""4DHOISolver quality per stage on many synthetic sessions: does each stage earn its place?

Builds synthetic sessions (``bridge.synth.make_synthetic_session``, ground truth included) from the shared clips,
solves each with the default solver, and scores the solution after every stage (init, stage 1, +IK, stage 2 with
its keyframe changes interpolated but not smoothed, post) against the ground truth:

* object rotation (°), translation (cm) and CD-o (cm, paper Eq. 21);
* human MPJPE (cm, the 22 body joints, camera frame);
* contact distance on the annotated pairs (cm) and its excess over the ground truth's own;
* penetration (cm, deepest body vertex inside the object per frame) and its excess over the ground truth's own.

Each as the mean and the worst session. The last line is one JSON object (all after post unless named otherwise).
Its ``sessions_worse_than_stage1_beyond_noise`` counts the sessions whose object rotation or translation error after
post exceeds stage 1's by more than the benchmark's noise: per session, 2 × the standard error of that change's mean
over the session's frames, by a moving-block bootstrap (blocks of ``NOISE_BLOCK`` frames keep the frames'
correlation); a change inside it is one that the session's own frames cannot tell from zero.

How the sessions are chosen (``SESSIONS``): 24 windows of 60 frames from 24 different clips of three objects
(largetable, woodchair, plasticbox); 8 windows where the object stays put (the synthesiser's < 1 cm / < 1°
rule flags 7 of them static) and 16 where it is carried; three noise levels (low / default / high human pose,
object translation and mesh rotation noise; the high level adds 1 px of track noise); three camera azimuths (front,
side, back: from the back the body hides more of the object and of the hands); two annotation densities (the
paper's 0.10 m contact threshold and a sparse 0.05 m one). The factors cycle with the session index so that every
level meets several clips. Clips that the solver's tests and earlier benchmark used are marked ``seen``; the others
are reported apart as ``unseen``.

    python benchmarks/solver_quality.py [--sessions 24] [--frames 60] [--cache DIR] [--set stage2.steps=30 ...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from hoi_sim.body import BodyParams, ProxyBody
from hoi_sim.bridge.synth import SynthNoise, make_synthetic_session
from hoi_sim.io_utils import dumps_json
from hoi_sim.recon.config import SolverConfig
from hoi_sim.recon.ingest import load_session
from hoi_sim.recon.metrics import block_bootstrap_se, rot_err_deg_frames, solver_metrics, trans_err_cm_frames
from hoi_sim.recon.sdf import build_sdf
from hoi_sim.recon.sequence import load_sequence
from hoi_sim.recon.solver import solve
from hoi_sim.skeleton import SMPLX_BODY_POSE

SHARED = Path(os.environ.get("HOI_SIM_SHARED", Path(__file__).resolve().parents[2] / "shared"))
STAGES = ("init", "stage1", "ik", "stage2", "post")
BODY22 = SMPLX_BODY_POSE.stop  # SMPL-X joints 0..21: root and body, the joints MPJPE is taken over
STAGE_LABEL = {"init": "init", "stage1": "stage 1", "ik": "+IK", "stage2": "stage 2", "post": "post"}
SEEN = {"sub2_largetable_000", "sub2_largetable_005", "sub2_largetable_010", "sub2_largetable_011",
        "sub2_largetable_017", "sub2_woodchair_000", "sub2_woodchair_003", "sub2_woodchair_005"}
"""Clips the solver's tests (test_solver_accuracy) and its earlier benchmark (benchmarks/solver.py) were run on."""

SESSIONS = (  # (clip, first frame): static windows first (the 60 frames of each clip where the object stays put
    # and the person touches it most: 13-31 frames with a +1 contact label), then carried objects
    ("sub2_woodchair_000", 10), ("sub2_woodchair_001", 15), ("sub2_woodchair_002", 45), ("sub2_woodchair_007", 10),
    ("sub2_woodchair_008", 10), ("sub2_largetable_014", 5), ("sub2_largetable_015", 0), ("sub2_largetable_009", 150),
    ("sub2_largetable_000", 60), ("sub2_largetable_001", 60), ("sub2_largetable_003", 60),
    ("sub2_largetable_007", 60), ("sub2_largetable_012", 60), ("sub2_largetable_016", 60),
    ("sub2_largetable_018", 30), ("sub2_largetable_005", 60), ("sub2_woodchair_006", 120),
    ("sub2_woodchair_010", 30), ("sub8_plasticbox_000", 30), ("sub8_plasticbox_001", 30),
    ("sub8_plasticbox_002", 30), ("sub8_plasticbox_003", 30), ("sub8_plasticbox_004", 30),
    ("sub8_plasticbox_005", 30),
)
NOISE = {"low": SynthNoise(human_pose_deg=2.0, obj_trans_m=0.05, obj_rot_deg=1.0),
         "default": SynthNoise(),
         "high": SynthNoise(human_pose_deg=8.0, obj_trans_m=0.15, obj_rot_deg=5.0, track_px=1.0)}
AZIMUTH = {"front": None, "side": 90.0, "back": 180.0}
"""Camera azimuth offsets (°) from the synthesiser's default (facing the person at frame 0, +30°)."""
DENSITY = {"paper": 0.10, "sparse": 0.05}
"""Contact-pair threshold (m) of the §9.6 annotation protocol."""


def session_factors(i: int) -> dict[str, str]:
    """Noise level, camera and annotation density of session ``i`` (cycled: 3 × 3 × 2 levels)."""
    return {"noise": list(NOISE)[i % 3], "camera": list(AZIMUTH)[(i // 3) % 3], "density": list(DENSITY)[i % 2]}


def _azimuth(motion, offset: float | None) -> float | None:
    if offset is None:
        return None
    from hoi_sim import rotations as rot

    fwd = rot.quat_to_matrix(torch.as_tensor(np.asarray(motion.root_quat[0], np.float64))).numpy()[:, 0]
    return float(np.degrees(np.arctan2(fwd[1], fwd[0]))) + 30.0 + offset


def build_sessions(root: Path, count: int, frames: int, size: int) -> list[tuple[Path, dict[str, str]]]:
    """Write (or reuse, when ``root/<name>/ground_truth.npz`` exists) the first ``count`` sessions of SESSIONS."""
    from hoi_sim.motions.intermimic import from_intermimic

    base = SHARED / "data" / "intermimic"
    out = []
    for i, (clip, start) in enumerate(SESSIONS[:count]):
        f = session_factors(i)
        name = f"{i:02d}_{clip}_{start}_{f['noise']}_{f['camera']}_{f['density']}"
        d = root / name
        if not (d / "ground_truth.npz").is_file():
            pt = next((base / sub / f"{clip}.pt" for sub in ("OMOMO_new", "OMOMO_retarget_sub8")
                       if (base / sub / f"{clip}.pt").is_file()), None)
            if pt is None:
                raise SystemExit(f"solver_quality: clip {clip} not found under {base} (set HOI_SIM_SHARED)")
            motion = from_intermimic(pt, base / "objects")
            make_synthetic_session(motion, d, frames=frames, start=start, seed=i, image_size=(size, size),
                                   noise=NOISE[f["noise"]], azimuth_deg=_azimuth(motion, AZIMUTH[f["camera"]]),
                                   contact_threshold_m=DENSITY[f["density"]], write_video=True)
        out.append((d, {**f, "clip": clip, "seen": clip in SEEN}))
    return out


def stage_metrics(body, inp, gt, human, R, t, sdf) -> dict[str, float]:
    """The benchmark's metrics of one solution (module doc), ground-truth frames aligned to the input's."""
    sl = slice(inp.start_frame - gt.start_frame, inp.start_frame - gt.start_frame + inp.num_frames)
    with torch.no_grad():
        o = body(BodyParams.from_numpy(human))
        g = body(BodyParams.from_numpy(gt.human.slice(np.arange(sl.start, sl.stop))))
    m = solver_metrics(o.keypoints.double().numpy(), o.vertices.double().numpy(), inp.object.vertices,
                       inp.object.faces, R, t, gt.obj_R[sl], gt.obj_t[sl], gt.contact_vertex[sl], n_cd=2000, sdf=sdf)
    m["mpjpe_cm"] = float(100 * torch.linalg.norm(o.joints[:, :BODY22].double() - g.joints[:, :BODY22].double(), dim=-1)
                          .mean())
    return m


def score_session(body, inp, gt, res) -> dict[str, dict[str, float]]:
    """Per stage: metrics plus ``contact_excess_cm`` / ``pen_excess_cm`` over the ground truth's own."""
    sdf = build_sdf(np.asarray(inp.object.vertices, np.float64), np.asarray(inp.object.faces), res=64, scale=1.1)
    sl = np.arange(inp.start_frame - gt.start_frame, inp.start_frame - gt.start_frame + inp.num_frames)
    truth = stage_metrics(body, inp, gt, gt.human.slice(sl), gt.obj_R[sl], gt.obj_t[sl], sdf)
    out = {"truth": truth}
    for s in STAGES:
        m = stage_metrics(body, inp, gt, *res.stages[s], sdf)
        m["contact_excess_cm"] = m["contact_dist_cm"] - truth["contact_dist_cm"]
        m["pen_excess_cm"] = m["penetration_cm"] - truth["penetration_cm"]
        out[s] = m
    (_, R1, t1), (_, Rp, tp) = res.stages["stage1"], res.stages["post"]
    Rg, tg = gt.obj_R[sl], gt.obj_t[sl]
    out["post_minus_stage1_frames"] = {"rot": rot_err_deg_frames(Rp, Rg) - rot_err_deg_frames(R1, Rg),
                                       "trans": trans_err_cm_frames(tp, tg) - trans_err_cm_frames(t1, tg)}
    return out


ROWS = (("object_rot_err_deg", "object rotation (°)"), ("object_trans_err_cm", "object translation (cm)"),
        ("cd_o_cm", "CD-o (cm)"), ("mpjpe_cm", "human MPJPE (cm)"), ("contact_dist_cm", "contact distance (cm)"),
        ("contact_excess_cm", "contact excess (cm)"), ("penetration_cm", "penetration (cm)"),
        ("pen_excess_cm", "penetration excess (cm)"))


def table(scores: list[dict[str, dict[str, float]]]) -> str:
    """Markdown table: one row per metric, one column per stage, ``mean / worst`` (worst = largest)."""
    head = "| metric (mean / worst) | " + " | ".join(STAGE_LABEL[s] for s in STAGES) + " | truth |"
    lines = [head, "|---|" + "---|" * (len(STAGES) + 1)]
    for key, label in ROWS:
        cells = []
        for s in (*STAGES, "truth"):
            v = np.array([sc[s].get(key, 0.0) for sc in scores])
            cells.append(f"{v.mean():.2f} / {v.max():.2f}" if s != "truth" or "excess" not in key else "0 / 0")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


NOISE_BLOCK = 10
"""Block length (frames, 1/3 s at 30 fps) of the paired bootstrap behind the benchmark's noise."""
ROUNDING = 1e-6
"""Changes below this (° or cm) are float rounding (pose round trips), not a stage's doing: the noise's floor."""


def change_and_noise(scores: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Per session: the mean change post − stage 1 of the object's ``key`` error ('rot' °, 'trans' cm) and its
    noise, 2 × the moving-block bootstrap standard error of that mean over the session's frames (a paired
    two-sided 95 % band: a change inside it cannot be told from which frames the session happens to hold)."""
    d = [sc["post_minus_stage1_frames"][key] for sc in scores]
    return (np.array([x.mean() for x in d]),
            np.array([max(2.0 * block_bootstrap_se(x, NOISE_BLOCK), ROUNDING) for x in d]))


def summary(scores: list[dict], meta: list[dict], per100: list[float], cfg_overrides: list[str]) -> dict:
    """The final JSON line (after post unless named otherwise)."""
    post = lambda k, sel=None: np.array([sc["post"][k] for sc, m in zip(scores, meta)  # noqa: E731
                                         if sel is None or m["seen"] == sel])
    (d_rot, n_rot), (d_tr, n_tr) = change_and_noise(scores, "rot"), change_and_noise(scores, "trans")
    s12 = lambda k: np.array([sc["stage2"][k] - sc["ik"][k] for sc in scores])  # noqa: E731
    out = {"benchmark": "solver_quality", "sessions": len(scores), "unseen_sessions": int(sum(not m["seen"]
                                                                                             for m in meta)),
           "static_sessions": int(sum(m["static"] for m in meta)), "overrides": cfg_overrides}
    for key, name in (("contact_excess_cm", "contact_excess_cm"), ("pen_excess_cm", "pen_excess_cm"),
                      ("object_trans_err_cm", "trans_cm"), ("object_rot_err_deg", "rot_deg"),
                      ("cd_o_cm", "cd_o_cm"), ("mpjpe_cm", "mpjpe_cm")):
        v, u = post(key), post(key, False)
        out |= {f"{name}_mean": round(float(v.mean()), 3), f"{name}_worst": round(float(v.max()), 3),
                f"unseen_{name}_mean": round(float(u.mean()), 3) if len(u) else None,
                f"unseen_{name}_worst": round(float(u.max()), 3) if len(u) else None}
    for k in ("contact_excess_cm", "pen_excess_cm"):
        d, d1 = s12(k), np.array([sc["stage2"][k] - sc["stage1"][k] for sc in scores])
        out |= {f"stage2_minus_ik_{k}_mean": round(float(d.mean()), 3),
                f"stage2_lower_{k}_sessions": int((d < 0).sum()),
                f"stage2_minus_stage1_{k}_mean": round(float(d1.mean()), 3),
                f"stage2_below_stage1_{k}_sessions": int((d1 < 0).sum())}
    out |= {"post_minus_stage1_rot_deg_worst": round(float(d_rot.max()), 3),
            "post_minus_stage1_trans_cm_worst": round(float(d_tr.max()), 3),
            "noise_rot_deg_median": round(float(np.median(n_rot)), 3),
            "noise_trans_cm_median": round(float(np.median(n_tr)), 3),
            "sessions_worse_than_stage1_beyond_noise": int(((d_rot > n_rot) | (d_tr > n_tr)).sum()),
            "solver_s_per_100_frames": round(float(np.mean(per100)), 2),
            "solver_s_per_100_frames_max": round(float(np.max(per100)), 2),
            "load_avg_1min": round(os.getloadavg()[0], 2), "cpus": os.cpu_count()}
    return out


def _config(overrides: list[str]) -> SolverConfig:
    if not overrides:
        return SolverConfig(threads=1)
    from omegaconf import OmegaConf

    data = OmegaConf.to_container(OmegaConf.merge(OmegaConf.create(SolverConfig(threads=1).to_dict()),
                                                  OmegaConf.from_dotlist(list(overrides))), resolve=True)
    return SolverConfig.from_dict(data)


def _print_session(name: str, sc: dict, res, el: float, frames: int) -> None:
    kr = res.diagnostics.get("keep_or_revert", {})
    kept = ", ".join(f"{k} {v['kept']}/{v['frames']}" for k, v in kr.items() if k != "post")
    f = lambda s: (f"rot {sc[s]['object_rot_err_deg']:.2f}° trans {sc[s]['object_trans_err_cm']:.2f} "  # noqa: E731
                   f"contact+ {sc[s]['contact_excess_cm']:+.2f} pen+ {sc[s]['pen_excess_cm']:+.2f}")
    (dr, nr), (dt, nt) = change_and_noise([sc], "rot"), change_and_noise([sc], "trans")
    print(f"{name}: {frames} frames, {el:.1f} s; kept {kept}\n  stage1 {f('stage1')}\n  stage2 {f('stage2')}\n"
          f"  post   {f('post')}\n  post − stage 1: rot {dr[0]:+.3f} (noise {nr[0]:.3f})° "
          f"trans {dt[0]:+.3f} (noise {nt[0]:.3f}) cm", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=len(SESSIONS), help=f"how many (≤ {len(SESSIONS)})")
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--image", type=int, default=160)
    ap.add_argument("--cache", type=Path, default=None, help="keep/reuse the synthetic sessions in this folder")
    ap.add_argument("--only", default="", help="comma-separated session indices to run (e.g. 0,5,9): for tuning")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="solver config override")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg, body = _config(args.set), ProxyBody()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.cache or Path(tmp)
        t0 = time.perf_counter()
        built = build_sessions(root, min(args.sessions, len(SESSIONS)), args.frames, args.image)
        if args.only:
            built = [built[int(i)] for i in args.only.split(",")]
        print(f"{len(built)} sessions ready in {time.perf_counter() - t0:.0f} s ({root})", flush=True)
        scores, meta, per100 = [], [], []
        for d, info in built:
            inp, gt = load_session(d), load_sequence(d / "ground_truth.npz")
            t0 = time.perf_counter()
            res = solve(inp, cfg, body)
            el = time.perf_counter() - t0
            per100.append(100.0 * el / inp.num_frames)
            scores.append(score_session(body, inp, gt, res))
            meta.append({**info, "static": bool(inp.static)})
            _print_session(d.name, scores[-1], res, el, inp.num_frames)
    print()
    print(table(scores))
    unseen = [sc for sc, m in zip(scores, meta) if not m["seen"]]
    if unseen:
        print(f"\nunseen clips only ({len(unseen)} sessions):\n" + table(unseen))
    print(dumps_json(summary(scores, meta, per100, args.set)))


if __name__ == "__main__":
    main()
