"""``hoi-sim solve``: outputs, metrics against synthetic ground truth, config presets, one-line failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from hoi_sim import cli
from hoi_sim.commands.solve import CFG_DIR, load_solver_config
from hoi_sim.recon.gt_eval import REPORT_KEYS
from hoi_sim.recon.sequence import load_sequence, newest_all_parameters

SHARED = Path(os.environ.get("HOI_SIM_SHARED", Path(__file__).resolve().parents[3] / "shared"))


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    from hoi_sim.bridge.synth import make_synthetic_session
    from hoi_sim.bridge.toy import toy_hoi_motion

    return make_synthetic_session(toy_hoi_motion(7), tmp_path_factory.mktemp("solve") / "s", image_size=(64, 64),
                                  seed=1)


@pytest.fixture(scope="module")
def gt_and_sdf(session):
    from hoi_sim.recon.gt_eval import object_sdf

    gt = load_sequence(session / "ground_truth.npz")
    return gt, object_sdf(gt)


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


def test_ingest_only_writes_outputs_and_init_metrics(session, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["solve", str(session), "--ingest-only", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    assert "ingest" in text and "object_trans_err_cm" in text
    seq = load_sequence(out / "hoi_sequence.npz")
    gt = load_sequence(session / "ground_truth.npz")
    assert seq.num_frames == gt.num_frames == 7
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == set(REPORT_KEYS) | {f"init_{k}" for k in REPORT_KEYS} | {"gt_contact_dist_cm",
                                                                                      "gt_penetration_cm"}
    assert metrics["contact_excess_cm"] == pytest.approx(metrics["contact_dist_cm"] - metrics["gt_contact_dist_cm"])
    assert metrics["object_trans_err_cm"] == pytest.approx(metrics["init_object_trans_err_cm"])
    assert 0.5 < metrics["init_object_trans_err_cm"] < 40  # ~10 cm translation noise + motion of a single t
    assert metrics["init_object_rot_err_deg"] > 0.05
    doc = json.loads(newest_all_parameters(out).read_text())
    assert doc["metadata"]["frame_range"] == {"start": 0, "end": 7} and "camera" in doc


def test_ground_truth_scores_zero(gt_and_sdf):
    from hoi_sim.recon.gt_eval import sequence_metrics

    gt, sdf = gt_and_sdf
    m = sequence_metrics(gt, gt, sdf=sdf)
    assert m["object_rot_err_deg"] < 1e-3 and m["object_trans_err_cm"] < 1e-6 and m["cd_o_cm"] < 1e-6
    assert 0 <= m["contact_dist_cm"] < 10.0  # pairs were chosen within 0.1 m


def test_excess_is_zero_for_the_ground_truth_itself(session, gt_and_sdf):
    from hoi_sim.recon.gt_eval import metrics_with_init, sequence_from_input
    from hoi_sim.recon.ingest import load_session

    gt, _ = gt_and_sdf
    m = metrics_with_init(gt, sequence_from_input(load_session(session)), gt)
    assert m["contact_excess_cm"] == 0.0 and m["penetration_excess_cm"] == 0.0
    assert m["gt_contact_dist_cm"] > 0.0  # the truth's own pairs are not at zero distance: the excess removes that
    assert m["init_contact_excess_cm"] > 1.0


def test_penetration_and_contact_metrics_react(gt_and_sdf):
    import dataclasses

    from hoi_sim.body.base import BodyParams
    from hoi_sim.body.proxy import ProxyBody
    from hoi_sim.recon.gt_eval import sequence_metrics
    from hoi_sim.skeleton import BODY_INDEX

    gt, sdf = gt_and_sdf
    body = ProxyBody()
    chest = body(BodyParams.from_numpy(gt.human)).body_pos[:, BODY_INDEX["Chest"]].double().numpy()
    inside = dataclasses.replace(gt, obj_t=chest)  # the object's centre in the chest: deep penetration
    m = sequence_metrics(inside, gt, body, sdf=sdf)
    assert m["penetration_cm"] > 3.0 and m["contact_dist_cm"] > 10.0 and m["object_trans_err_cm"] > 10.0


def test_solve_improves_on_initialisation(session, tmp_path, capsys):
    out = tmp_path / "solved"
    rc = cli.main(["solve", str(session), "--config", "fast", "--set", "stage2.steps=2", "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    for stage in ("stage 1", "stage 2", "post"):
        assert stage in text
    m = json.loads((out / "metrics.json").read_text())
    assert m["object_trans_err_cm"] < m["init_object_trans_err_cm"]
    assert m["cd_o_cm"] < m["init_cd_o_cm"]
    assert m["contact_dist_cm"] < m["init_contact_dist_cm"]
    assert (out / "solver_config.yaml").is_file()
    assert load_sequence(out / "hoi_sequence.npz").meta["keyframes"]


@pytest.mark.parametrize("name", sorted(p.stem for p in CFG_DIR.glob("*.yaml")))
def test_presets_load(name):
    assert OmegaConf.load(CFG_DIR / f"{name}.yaml") is not None
    cfg = load_solver_config(name, ["stage2.steps=3"])
    assert cfg.stage2.steps == 3


def test_config_errors_are_one_line(session, tmp_path, capsys):
    assert cli.main(["solve", str(session), "--config", "nope", "-o", str(tmp_path)]) == 1
    assert "presets:" in _one_line_error(capsys)
    assert cli.main(["solve", str(session), "--set", "stage2.bogus=1", "-o", str(tmp_path)]) == 1
    assert "bogus" in _one_line_error(capsys)
    assert cli.main(["solve", str(session), "--set", "stage2.steps", "-o", str(tmp_path)]) == 1
    assert "KEY=VALUE" in _one_line_error(capsys)


def test_solve_spear_example_names_missing_files(capsys):
    spear = SHARED / "data" / "open4dhoi" / "spear_example"
    if not spear.is_dir():
        pytest.skip(f"needs {spear}")
    assert cli.main(["solve", str(spear)]) == 1
    line = _one_line_error(capsys)
    assert line == (f"hoi-sim solve: error: session {spear} is missing: motion/result_hand.pt or motion/result.pt, "
                    "kp_record_merged.json (read: video 42 frames 576x1024, mesh 7454 vertices 14900 faces)")
    assert not (spear / "final_optimized_parameters").exists()


@pytest.fixture(scope="module")
def batch_dir(tmp_path_factory, session) -> Path:
    """3 good sessions (copies of the toy session) and 2 corrupt ones (missing annotations; a broken mesh)."""
    import shutil

    root = tmp_path_factory.mktemp("batch") / "sessions"
    for name in ("good_a", "good_b", "good_c", "bad_missing", "bad_mesh"):
        shutil.copytree(session, root / name, ignore=shutil.ignore_patterns("final_optimized_parameters"))
    (root / "bad_missing" / "kp_record_merged.json").unlink()
    (root / "bad_mesh" / "obj_org.obj").write_text("v 0 0 nan\nf 1 1 1\n")
    return root


def test_batch_solves_good_names_bad_and_resumes(batch_dir, tmp_path, capsys, monkeypatch):
    from hoi_sim.commands import solve as solve_cmd

    out = tmp_path / "out"
    args = ["solve", str(batch_dir), "-o", str(out), "--config", "fast", "--set", "stage2.steps=1"]
    real, calls = solve_cmd._solve_session, []

    def recorded(session, *a, **k):
        calls.append(session.name)
        if kill_at and len(calls) == kill_at:
            raise KeyboardInterrupt  # the run is killed while solving this session
        return real(session, *a, **k)

    monkeypatch.setattr(solve_cmd, "_solve_session", recorded)
    kill_at = 4  # order: bad_mesh, bad_missing, good_a, good_b (killed), good_c
    assert cli.main(args) != 0
    assert (out / "good_a" / "done.json").is_file() and not (out / "good_b").exists()
    assert json.loads((out / "summary.json").read_text())["solved"] == ["good_a"]
    calls.clear()
    kill_at = 0
    capsys.readouterr()
    assert cli.main(args) == 1  # two sessions are corrupt
    captured = capsys.readouterr()
    assert calls == ["bad_mesh", "bad_missing", "good_b", "good_c"]  # good_a was finished by the killed run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["solved"] == ["good_a", "good_b", "good_c"] and summary["resumed"] == ["good_a"]
    reasons = {f["session"]: f["reason"] for f in summary["failed"]}
    assert reasons.keys() == {"bad_mesh", "bad_missing"}
    assert "kp_record_merged.json" in reasons["bad_missing"] and "not finite" in reasons["bad_mesh"]
    assert "ETA" in captured.out and "failed: bad_missing" in captured.err
    m = json.loads((out / "good_b" / "metrics.json").read_text())
    assert "contact_excess_cm" in m and "penetration_excess_cm" in m
    md = (out / "summary.md").read_text()
    assert "| good_c |" in md and "**bad_mesh**" in md
    assert not list(out.glob(".*"))  # no staging folder left
    calls.clear()
    assert cli.main(args) == 1  # a third run only retries the failed ones
    assert calls == ["bad_mesh", "bad_missing"]


def test_explain_prints_weights_units_and_balance(session, tmp_path, capsys):
    assert cli.main(["solve", "--explain"]) == 0
    text = capsys.readouterr().out
    for key in ("stage1.w3d", "stage1.w2d", "stage2.weights.contact", "stage2.weights.collision",
                "stage2.weights.mask"):
        assert key in text
    assert "[m²]" in text and "px²" in text
    rc = cli.main(["solve", str(session), "--explain", "--config", "fast", "--set", "stage2.steps=2",
                   "-o", str(tmp_path / "o")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "stage-2 Adam loss at its first and last step" in text and "objective terms at the start and end" in text
    for term in ("reprojection", "contact", "collision", "mask"):
        assert term in text
    assert "stage1: kept" in text and "post: kept" in text
