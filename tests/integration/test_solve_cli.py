"""``hoi-sim solve``: outputs, metrics against synthetic ground truth, config presets, one-line failures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from hoi_sim import cli
from hoi_sim.commands.solve import CFG_DIR, load_solver_config
from hoi_sim.recon.gt_eval import METRIC_KEYS
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
    assert set(metrics) == set(METRIC_KEYS) | {f"init_{k}" for k in METRIC_KEYS}
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
