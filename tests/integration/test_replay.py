"""``hoi-sim replay`` on one real InterMimic clip (skips without ../shared), both modes, single convex hull; mixed
batches: ``tests/integration/test_subset_tools.py`` and ``test_demo_mix.py``."""

from __future__ import annotations

import json
import math

import pytest

from hoi_sim.cli import main
from hoi_sim.motions.manifest import load_clip

CLIP = "sub2_largetable_000.pt"


@pytest.fixture(scope="module")
def clip(omomo_dir, objects_dir):
    path = omomo_dir / CLIP
    if not path.exists():
        pytest.skip(f"{path} missing")
    return path, objects_dir


@pytest.fixture(scope="module")
def motion(clip):
    return load_clip(*clip, fix_penetration=False)  # grounded; the penetration fix needs coacd hulls (slow once)


@pytest.mark.shared_data
def test_replay_both_modes_json(clip, tmp_path, capsys) -> None:
    path, objects = clip
    out = tmp_path / "replay.json"
    rc = main(["replay", str(path), "--objects", str(objects), "--mode", "both", "--max-seconds", "1.0",
               "--collision", "convex_hull", "--no-fix-penetration", "--json", str(out)])
    assert rc == 0
    rows = json.loads(out.read_text())["rows"]
    assert len(rows) == 1
    r = rows[0]
    assert r["clip"] == "sub2_largetable_000" and (r["env"], r["batch"], r["group"]) == (0, 0, 0)
    assert r["object"]["name"] == "largetable" and len(r["object"]["hash"]) == 12 and len(r["skeleton"]) == 12
    assert r["reset_error_mm"] <= 1.0  # built on the clip's own skeleton
    assert r["kin_frames"] == 31 and r["pd_steps"] == 30
    for key in ("max_obj_penetration_mm", "max_ground_penetration_mm"):
        assert math.isfinite(r[key]) and r[key] >= 0
    assert 0 <= r["frames_contact_apart"] <= r["kin_frames"]
    assert r["frames_survived"] >= 10
    assert math.isfinite(r["mpjpe_mm"]) and 0 < r["mpjpe_mm"] < 500
    assert math.isfinite(r["object_error_mm"])
    text = capsys.readouterr().out
    assert "pd replay" in text and "kinematic replay" in text
    assert "sub2_largetable_000: grounding: dz -" in text  # ~ -60 mm: what the rule did, one line per clip
    assert abs(r["stance_foot_median_mm"]) <= 10.0 and r["ground_dz_mm"] < -40.0
    assert 0.0 <= r["reset_drop_mm"] < 20.0  # ungrounded, the humanoid falls ~50 mm in the first 0.1 s


def test_replay_missing_file_is_one_line_error(tmp_path, capsys) -> None:
    rc = main(["replay", str(tmp_path / "nope.npz")])
    assert rc == 1
    assert "nope.npz: no such file or folder" in capsys.readouterr().err


@pytest.mark.shared_data
def test_replay_npz_kinematic(motion, tmp_path) -> None:
    from hoi_sim.motions import save_motion

    npz = save_motion(motion, tmp_path / "clip.npz")
    out = tmp_path / "k.json"
    rc = main(["replay", str(npz), "--mode", "kinematic", "--max-seconds", "0.3", "--collision", "convex_hull",
               "--no-fix-penetration", "--json", str(out)])
    assert rc == 0
    r = json.loads(out.read_text())["rows"][0]
    assert r["reset_error_mm"] <= 1.0 and r["kin_frames"] == 10 and "frames_survived" not in r
