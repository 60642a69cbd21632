"""A reduced `hoi-sim demo` end to end: every output the full demo promises is written, and each one says something:
the solved motion touches its object, the report's rows are finite and ordered as they must be, the video moves."""

from __future__ import annotations

import json
import math
import re

import imageio.v3 as iio

from hoi_sim import cli
from hoi_sim.motions import load_motion, validate_motion


def test_quick_demo_writes_every_output(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"outputs in {out}" in printed and "(missing!)" not in printed
    assert (out / "session" / "ground_truth.npz").is_file()
    metrics = json.loads((out / "solve" / "metrics.json").read_text())
    assert metrics["contact_dist_cm"] < metrics["init_contact_dist_cm"]
    motion = load_motion(out / "motion.npz")
    assert validate_motion(motion) == [] and motion.meta["action"] == "touch"
    assert motion.ig_body.shape[0] > 0 and (motion.contact_label == 1).any()
    for reward in ("tr", "tr_lr", "tr_lr_cr"):
        assert list((out / "runs" / reward).rglob("*.pth")), reward
    report = json.loads((out / "report.json").read_text())
    rows = {r["setting"]: r for r in report["rows"] if r["scope"] == "overall"}
    assert set(rows) == {"reference", "tr", "tr_lr", "tr_lr_cr"}
    for name, row in rows.items():
        v = row["values"]
        assert all(x is not None and math.isfinite(x) for x in v.values()), (name, v)
        assert 0.0 <= v["success_rate"] <= 1.0 and row["frames"] >= 1
    ref = rows["reference"]["values"]
    assert ref["mpjpe_mm"] == 0.0 and ref["success_rate"] == 1.0
    assert ref["contact_mm"] < 50.0  # the solved, retargeted motion really touches its object (surface contact)
    for name in ("tr", "tr_lr", "tr_lr_cr"):
        assert 0.0 < rows[name]["values"]["mpjpe_mm"] < 2000.0, name  # simulated, and still in the scene
        stayed = re.search(rf"\[demo\] {name}: stayed up (\d+) of (\d+) control steps", printed)
        assert stayed and 1 <= int(stayed[1]) <= int(stayed[2]), name
    md = (out / "report.md").read_text()
    assert "TR+LR+CR" in md and "mpjpe_mm" in md
    assert (out / "report.png").stat().st_size > 1000
    frames = iio.imread(out / "demo.mp4")
    assert frames.ndim == 4 and frames.shape[0] > 1 and frames.std() > 1.0
    moved = abs(frames[-1].astype(float) - frames[0].astype(float)).mean()
    assert moved > 0.5, moved  # the humanoid moves: the last frame is not the first
