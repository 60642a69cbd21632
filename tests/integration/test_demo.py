"""A reduced `hoi-sim demo` end to end: every output the full demo promises is written."""

from __future__ import annotations

import json

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
    assert {"mpjpe_mm", "contact", "jitter"} <= set(json.dumps(report).replace('"', " ").split())
    md = (out / "report.md").read_text()
    assert "TR+LR+CR" in md and "mpjpe_mm" in md
    assert (out / "report.png").stat().st_size > 1000
    frames = iio.imread(out / "demo.mp4")
    assert frames.ndim == 4 and frames.shape[0] > 1 and frames.std() > 1.0
