"""Keep-or-revert (``hoi_sim.recon.objective``): a stage's result is kept only where it lowered the solver's own
objective (reprojection, contact, collision, mask; never the ground truth), and every decision is logged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from hoi_sim.body import BodyParams, ProxyBody
from hoi_sim.recon import solver as solver_mod
from hoi_sim.recon.config import SolverConfig
from hoi_sim.recon.ingest import load_session
from hoi_sim.recon.objective import frame_objective, keep_mask, reprojection_sq_px


@pytest.fixture(scope="module")
def toy_input(tmp_path_factory):
    from hoi_sim.bridge.synth import make_synthetic_session
    from hoi_sim.bridge.toy import toy_hoi_motion

    d: Path = make_synthetic_session(toy_hoi_motion(8, body_model=ProxyBody(dtype=torch.float64)),
                                     tmp_path_factory.mktemp("kr") / "s", image_size=(64, 64), seed=2)
    return load_session(d)


def _cfg() -> SolverConfig:
    cfg = SolverConfig(threads=1)
    cfg.stage1.iterations, cfg.ik.iterations, cfg.stage2.steps = 20, 5, 3
    return cfg


def test_keep_mask_rule():
    before, after = np.array([1.0, 2.0, 3.0]), np.array([0.5, 2.0, 4.0])
    assert keep_mask(before, after, joint=False).tolist() == [True, False, False]  # a tie keeps the start
    assert keep_mask(before, after, joint=True).tolist() == [False] * 3  # 6.5 > 6: the whole clip reverts
    assert keep_mask(before, np.array([0.1, 2.0, 3.5]), joint=True).all()


def test_reprojection_is_zero_on_exact_tracks():
    V = np.array([[0.0, 0.0, 0.0], [0.1, 0.0, 0.0]])
    K = np.array([[100.0, 0, 32], [0, 100.0, 32], [0, 0, 1]])
    R, t = np.eye(3)[None], np.array([[0.0, 0.0, 2.0]])
    uv = np.array([[[32.0, 32.0], [37.0, 32.0], [np.nan, np.nan]]])
    tv = np.array([[0, 1, -1]])
    assert reprojection_sq_px(V, R, t, tv, uv, K)[0] == pytest.approx(0.0)
    assert reprojection_sq_px(V, R, t + [[0.02, 0, 0]], tv, uv, K)[0] == pytest.approx(2 * 1.0 ** 2)


def test_a_stage_that_worsens_the_objective_is_reverted(toy_input, monkeypatch):
    """Stage 1 and IK are replaced by ones that make things worse: both are reverted to their starting points."""
    real_stage1 = solver_mod._stage1

    def bad_stage1(inp, cfg, V, kps, Rd, td, diag):
        real_stage1(inp, cfg, V, kps, Rd, td, diag)
        return inp.obj_R_init.copy(), inp.obj_t_init + np.array([2.0, 0.0, 0.0])  # 2 m aside: off the tracks

    def bad_ik(inp, cfg, body, params0, V, R1, t1, diag):
        p = params0.detach()
        return BodyParams(**{**p.as_dict(), "body_pose": p.body_pose + 0.8})  # every joint bent by ~80°

    monkeypatch.setattr(solver_mod, "_stage1", bad_stage1)
    monkeypatch.setattr(solver_mod, "_limb_ik", bad_ik)
    log: list[str] = []
    res = solver_mod.solve(toy_input, _cfg(), ProxyBody(), progress=log.append)
    kr = res.diagnostics["keep_or_revert"]
    assert kr["stage1"]["reverted"] == toy_input.num_frames and kr["stage1"]["kept"] == 0
    assert np.allclose(res.stages["stage1"][2], toy_input.obj_t_init)  # back to the initialisation
    # the bent body rises the objective on some frames (reverted) and lowers it where the initial object
    # penetrated it (kept): the decision follows the objective frame by frame
    ctx = solver_mod._context(toy_input, _cfg(), ProxyBody(), np.asarray(toy_input.object.vertices, np.float64))
    every = np.arange(toy_input.num_frames)
    R1, t1 = res.stages["stage1"][1:]
    p0 = BodyParams.from_numpy(toy_input.human_incam)
    rose = frame_objective(ctx, bad_ik(None, None, None, p0, None, None, None, None), R1, t1, every)["total"] >= \
        frame_objective(ctx, p0, R1, t1, every)["total"]
    assert rose.any() and kr["ik"]["reverted_frames"] == np.flatnonzero(rose).tolist()
    ik_pose = res.stages["ik"][0].body_pose
    assert np.allclose(ik_pose[rose], toy_input.human_incam.body_pose[rose], atol=1e-6)
    assert np.allclose(ik_pose[~rose], toy_input.human_incam.body_pose[~rose] + 0.8, atol=1e-5)
    assert kr["stage1"]["objective_final"] == pytest.approx(kr["stage1"]["objective_before"])
    assert any(line.strip().startswith("stage1: kept 0/") for line in log)


def test_a_stage_that_helps_is_kept_and_never_ends_worse(toy_input):
    res = solver_mod.solve(toy_input, _cfg(), ProxyBody())
    kr = res.diagnostics["keep_or_revert"]
    assert set(kr) == {"stage1", "ik", "stage2", "post"}
    assert kr["stage1"]["kept"] > 0 and kr["stage1"]["objective_final"] < kr["stage1"]["objective_before"]
    for stage in ("stage1", "ik", "stage2"):  # as kept, no stage raises the objective it can see
        assert kr[stage]["objective_final"] <= kr[stage]["objective_before"] + 1e-9
    assert set(res.stages) == {"init", "stage1", "ik", "stage2", "post"}
    assert np.allclose(res.stages["post"][2], res.obj_t)
