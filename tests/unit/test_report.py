"""Table-1-style report: aggregation per subset and overall, md/csv/json/png outputs."""

from __future__ import annotations

import csv
import json

import pytest

from hoi_sim.eval.report import ClipResult, build_rows, write_report


def _res(setting, subset, clip, mpjpe, reached=True, ckpt="ck"):
    m = {"mpjpe_mm": mpjpe, "mpjpe_body_mm": mpjpe / 2, "contact": 0.5, "contact_mean_mm": 10.0,
         "jitter": 3.0, "object_error_mm": 7.0}
    return ClipResult(setting, subset, "" if setting == "reference" else f"{ckpt}_{setting}_{subset}", clip, 10,
                      reached, m)


def _results():
    out = []
    for sub, clips in (("lift", ["a", "b"]), ("push", ["c"])):
        for c in clips:
            out.append(_res("reference", sub, c, 0.0))
            out.append(_res("reference", sub, c, 0.0))  # seen by two checkpoints: counted once
            out.append(_res("tr", sub, c, 100.0, reached=c != "a"))
            out.append(_res("tr_lr_cr", sub, c, 50.0 if c != "c" else 80.0))
    return out


def test_rows_aggregate_per_subset_and_overall():
    rows = build_rows(_results())
    lift = [r for r in rows if r.subset == "lift"]
    assert [r.setting for r in lift] == ["reference", "tr", "tr_lr_cr"]
    assert lift[0].n_clips == 2 and lift[0].frames == 20
    assert lift[1].values["success_rate"] == pytest.approx(0.5)
    overall = {r.setting: r for r in rows if r.scope == "overall"}
    assert overall["reference"].n_clips == 3
    assert overall["tr_lr_cr"].values["mpjpe_mm"] == pytest.approx((50 + 50 + 80) / 3)
    assert overall["tr"].values["success_rate"] == pytest.approx(2 / 3)


def test_write_report_files(tmp_path):
    paths = write_report(_results(), tmp_path)
    md = paths["md"].read_text()
    assert "TR+LR+CR" in md and "## Overall" in md and "m/s³" in md
    rows = list(csv.DictReader(paths["csv"].open()))
    assert {r["setting"] for r in rows} == {"reference", "tr", "tr_lr_cr"}
    data = json.loads(paths["json"].read_text())
    assert data["metrics"]["contact"]["unit"] == "m²"
    assert len(data["clips"]) == len(_results())
    png = paths["png"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
