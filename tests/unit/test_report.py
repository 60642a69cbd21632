"""Table-1-style report: aggregation per subset and overall, md/csv/json/png outputs."""

from __future__ import annotations

import csv
import io
import json

import pytest

from hoi_sim.eval.report import ClipResult, build_rows, to_csv, write_report

CONTACT_MM = {("reference", "a"): 4.0, ("reference", "b"): 9.0, ("reference", "c"): 2.5,
              ("tr", "a"): 40.0, ("tr", "b"): 30.0, ("tr", "c"): 20.0,
              ("tr_lr_cr", "a"): 12.0, ("tr_lr_cr", "b"): 11.0, ("tr_lr_cr", "c"): 6.0}


def _res(setting, subset, clip, mpjpe, reached=True, ckpt="ck"):
    m = {"mpjpe_mm": mpjpe, "mpjpe_body_mm": mpjpe / 2, "contact_mm": CONTACT_MM[(setting, clip)],
         "contact_sum_m2": 0.5, "jitter": 3.0, "object_error_mm": 7.0}
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
    lift = [r for r in rows if r.scope == "lift"]
    assert [r.setting for r in lift] == ["reference", "tr", "tr_lr_cr"]
    assert lift[0].n_clips == 2 and lift[0].frames == 20
    assert lift[1].values["success_rate"] == pytest.approx(0.5)
    overall = {r.setting: r for r in rows if r.scope == "overall"}
    assert overall["reference"].n_clips == 3
    assert overall["tr_lr_cr"].values["mpjpe_mm"] == pytest.approx((50 + 50 + 80) / 3)
    assert overall["tr"].values["success_rate"] == pytest.approx(2 / 3)
    assert overall["reference"].values["contact_mm"] == pytest.approx((4 + 9 + 2.5) / 3)
    # one reference row per clip, after the tables: the contact floor of each clip
    per_clip = [r for r in rows if r.scope == "clip"]
    assert [(r.subset, r.clip, r.setting) for r in per_clip] == [("lift", "a", "reference"), ("lift", "b", "reference"),
                                                                 ("push", "c", "reference")]
    assert [r.values["contact_mm"] for r in per_clip] == [4.0, 9.0, 2.5]
    assert all(r.n_clips == 1 and r.frames == 10 for r in per_clip)
    assert rows[-3:] == per_clip


def test_write_report_files(tmp_path):
    paths = write_report(_results(), tmp_path, contact_form="surface")
    md = paths["md"].read_text()
    assert "TR+LR+CR" in md and "## Overall" in md and "m/s³" in md
    assert "contact_mm (mm)" in md and "contact_sum_m2 (m²)" in md
    per_clip = md.split("## Contact per clip")[1]
    assert "| lift | a | 10 | 4.00 | 0.5 | 40.00 | 12.00 |" in per_clip  # reference floor beside each setting
    rows = list(csv.DictReader(paths["csv"].open()))
    assert {r["setting"] for r in rows} == {"reference", "tr", "tr_lr_cr"}
    clip_rows = [r for r in rows if r["scope"] == "clip"]
    assert [(r["clip"], r["contact_mm"]) for r in clip_rows] == [("a", "4"), ("b", "9"), ("c", "2.5")]
    data = json.loads(paths["json"].read_text())
    assert data["metrics"]["contact_mm"]["unit"] == "mm" and data["metrics"]["contact_sum_m2"]["unit"] == "m²"
    assert data["contact_form"] == "surface"
    assert sum(r["scope"] == "clip" for r in data["rows"]) == 3
    assert len(data["clips"]) == len(_results())
    png = paths["png"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_markdown_states_how_long_each_policy_stayed_up() -> None:
    from hoi_sim.eval.report import REFERENCE, ClipResult, to_markdown

    res = [ClipResult(REFERENCE, "all", "", "clip_a", 101, True, {}),
           ClipResult("tr", "all", "run_tr/last.pth", "clip_a", 25, False, {}, ended_by="body_error,hand_contact"),
           ClipResult("tr_lr_cr", "all", "run_cr/last.pth", "clip_a", 100, True, {})]
    md = to_markdown([], res)
    assert "## How long the policies stayed up" in md
    assert "| TR only | run_tr/last.pth | clip_a | 25 | 100 | 25% | no | body_error,hand_contact |" in md
    assert "| TR+LR+CR | run_cr/last.pth | clip_a | 100 | 100 | 100% | yes | – |" in md
    assert "train=cpu_track" in md  # a policy fell: the report points to the preset that tracks
    assert "train=cpu_track" not in to_markdown([], res[:1] + res[2:])


def test_rows_count_objects_and_subjects(tmp_path) -> None:
    """Each subset and overall row counts the distinct objects and subjects of its clips (by the ids the
    results carry: ``motions.assets.clip_asset_ids``); results without ids show no count."""
    import numpy as np

    from hoi_sim.envs.toy import toy_motion
    from hoi_sim.motions.assets import clip_asset_ids

    a, b, big = (toy_motion(4, seed=1, name=n) for n in ("a", "b", "big"))
    b.skeleton_offsets = b.skeleton_offsets + np.float32(2e-7)  # float noise: the same subject
    big.skeleton_offsets = big.skeleton_offsets * np.float32(1.25)
    big.obj_vertices = big.obj_vertices * np.float32(1.25)
    ids = dict(zip("abc", clip_asset_ids([a, b, big])))
    assert ids["a"] == ids["b"] and ids["c"][0] != ids["a"][0] and ids["c"][1] != ids["a"][1]
    res = [_res(s, sub, c, 10.0) for sub, clips in (("lift", "ab"), ("push", "c")) for c in clips
           for s in ("reference", "tr")]
    for r in res:
        r.object, r.subject = ids[r.clip]
    rows = build_rows(res)
    counts = {(r.scope, r.setting): (r.n_clips, r.n_objects, r.n_subjects) for r in rows if r.scope != "clip"}
    assert counts[("lift", "tr")] == (2, 1, 1) and counts[("push", "reference")] == (1, 1, 1)
    assert counts[("overall", "tr")] == (3, 2, 2) and counts[("overall", "reference")] == (3, 2, 2)
    paths = write_report(res, tmp_path)
    csv_rows = list(csv.DictReader(paths["csv"].open()))
    overall = next(r for r in csv_rows if r["scope"] == "overall" and r["setting"] == "tr")
    assert (overall["n_clips"], overall["n_objects"], overall["n_subjects"]) == ("3", "2", "2")
    assert "| setting | checkpoint | clips | objects | subjects | frames |" in paths["md"].read_text()
    bare = build_rows(_results())  # results that carry no ids: no counts claimed
    assert all(r.n_objects == 0 and r.n_subjects == 0 for r in bare)
    assert next(r for r in csv.DictReader(io.StringIO(to_csv(bare))))["n_objects"] == ""
