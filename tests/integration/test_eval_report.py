"""Hydra multirun trains one tiny policy per reward setting (basic launcher) on one action subset of a manifest;
``hoi-sim eval`` rolls them out and writes the Table-1-style report (md/csv/json/png)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from hoi_sim.cli import main

SETTINGS = ("tr", "tr_lr", "tr_lr_cr")
TINY = ["env=test", "train=cpu_small", "num_envs=2", "train.units=[16]", "train.horizon_length=4",
        "train.minibatch_size=8", "train.mini_epochs=1", "train.max_epochs=1", "train.progress_every=0"]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    from hoi_sim.envs.toy import toy_motion
    from hoi_sim.motions import save_motion

    root = tmp_path_factory.mktemp("clips")
    for i in range(3):
        save_motion(toy_motion(16, seed=i, name=f"clip{i}"), root / "motions" / f"clip{i}.npz")
    (root / "manifest.yaml").write_text(yaml.safe_dump({"schema_version": 1, "clips": [
        {"path": "motions/clip0.npz", "action": "carry", "subject": "toy", "object": "box"},
        {"path": "motions/clip1.npz", "action": "carry", "subject": "toy", "object": "box"},
        {"path": "motions/clip2.npz", "action": "push", "subject": "toy", "object": "box"}]}))
    return root / "manifest.yaml"


@pytest.fixture(scope="module")
def runs(manifest: Path, tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("multirun")
    rc = main(["train", "-m", f"motions={manifest}", "motions.subset=carry", f"reward={','.join(SETTINGS)}",
               f"out={out}", *TINY])
    assert rc == 0
    return sorted(p.parent.parent for p in out.glob("*/nn/last.pth"))


def test_multirun_one_run_per_setting(runs: list[Path]) -> None:
    assert len(runs) == 3
    cfgs = [yaml.safe_load((r / "nn" / "config.yaml").read_text()) for r in runs]
    assert sorted(c["reward"]["name"] for c in cfgs) == sorted(SETTINGS)
    assert {c["motions"]["subset"] for c in cfgs} == {"carry"}
    for r in runs:
        assert r.name.startswith("carry.tr") and (r / "summaries").is_dir() and (r / "nn" / "ep_0.pth").is_file()
        rows = list(csv.DictReader((r / "progress.csv").open()))
        assert [int(x["epoch"]) for x in rows] == [1]


def test_eval_writes_table_and_plot(runs: list[Path], manifest: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    rc = main(["eval", "checkpoint=" + ",".join(str(r / "nn" / "last.pth") for r in runs), f"motions={manifest}",
               f"out={out}", "eval.max_steps=6"])
    assert rc == 0
    md = (out / "report.md").read_text()
    for label in ("TR only", "TR+LR", "TR+LR+CR", "reference motion", "Subset: carry", "Overall"):
        assert label in md
    rows = list(csv.DictReader((out / "report.csv").open()))
    carry = [r for r in rows if r["scope"] == "carry"]
    assert [r["setting"] for r in carry] == ["reference", *SETTINGS]
    assert all(int(r["n_clips"]) == 2 for r in carry)  # the 'carry' subset only
    assert all((r["n_objects"], r["n_subjects"]) == ("1", "1") for r in carry)  # toy clips: one object, one body
    ref = carry[0]
    assert float(ref["mpjpe_mm"]) == 0.0 and float(ref["success_rate"]) == 1.0
    for r in carry[1:]:
        assert 0 < float(r["mpjpe_mm"]) < 2000 and float(r["jitter"]) > 0
        assert r["contact_mm"] != "" and r["contact_sum_m2"] != ""
    # the reference per clip is the contact floor (the toy's graph point is the wrist joint centre: 0 mm from the
    # joint, 1.4 mm outside the wrist's collision box)
    per_clip = {r["clip"]: r for r in rows if r["scope"] == "clip"}
    assert set(per_clip) == {"clip0", "clip1"} and all(r["setting"] == "reference" for r in per_clip.values())
    assert all(0 <= float(r["contact_mm"]) < 2.0 for r in per_clip.values())
    assert "## Contact per clip" in md and "Human end of the contact metrics:" in md
    data = json.loads((out / "report.json").read_text())
    assert {c["clip"] for c in data["clips"]} == {"clip0", "clip1"}
    assert data["metrics"]["jitter"]["unit"] == "m/s³" and data["metrics"]["contact_mm"]["unit"] == "mm"
    png = (out / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_eval_errors_are_one_line(manifest: Path, tmp_path: Path, capsys) -> None:
    assert main(["eval", f"motions={manifest}", f"out={tmp_path}"]) == 1
    assert main(["eval", f"checkpoint={tmp_path / 'missing.pth'}", f"motions={manifest}", f"out={tmp_path}"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("hoi-sim eval: error:") for line in err)
