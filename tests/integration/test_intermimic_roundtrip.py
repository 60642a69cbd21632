"""All 27 OMOMO_new clips: import (FK on the inferred skeleton reproduces the file), .pt → .npz → .pt round trip,
and ``hoi-sim validate`` on every converted file. The clips are converted once per module through the CLI."""

from __future__ import annotations

import numpy as np
import pytest

from hoi_sim.cli import main
from hoi_sim.motions import load_motion
from hoi_sim.motions.graph import closest_surface_points, contact_runs
from hoi_sim.motions.intermimic import COLUMNS, USED_COLUMNS, read_tensor

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def converted(omomo_dir, omomo_clips, objects_dir, tmp_path_factory):
    assert len(omomo_clips) == 27
    out = tmp_path_factory.mktemp("npz")
    assert main(["convert", str(omomo_dir), "-o", str(out), "--objects", str(objects_dir)]) == 0
    files = sorted(out.glob("*.npz"))
    assert [f.stem for f in files] == [c.stem for c in omomo_clips]
    return out, files


def test_fk_on_inferred_skeleton_reproduces_every_clip(converted):
    _, files = converted
    pos = rot = dev = 0.0
    for f in files:
        sk = load_motion(f).meta["skeleton"]
        pos, rot = max(pos, sk["fk_max_pos_err_m"]), max(rot, sk["fk_max_rot_err_rad"])
        dev = max(dev, sk["max_bone_deviation_m"])
    assert pos < 1e-3 and rot < 1e-3 and dev < 1e-3


def test_validate_passes_on_every_converted_file(converted, capsys):
    out, files = converted
    assert main(["validate", str(out)]) == 0
    assert f"all {len(files)} file(s) valid" in capsys.readouterr().out


def test_pt_npz_pt_round_trip_within_1e5(converted, omomo_clips, tmp_path):
    out, _ = converted
    assert main(["convert", str(out), "-o", str(tmp_path)]) == 0
    worst = 0.0
    for clip in omomo_clips:
        orig = read_tensor(clip)
        back = read_tensor(tmp_path / clip.name)
        assert back.shape == orig.shape
        worst = max(worst, float(np.abs(back[:, USED_COLUMNS] - orig[:, USED_COLUMNS]).max()))
        assert not back[:, COLUMNS["unused_7"]].any() and not back[:, COLUMNS["unused_325"]].any()
    assert worst < 1e-5


def test_imported_content_of_one_clip(converted, omomo_clips):
    _, files = converted
    m = load_motion(files[0])
    raw = read_tensor(omomo_clips[0])
    assert m.meta["fps"] == 30.0 and m.meta["subject"] == "sub2" and m.meta["object_name"] == "largetable"
    np.testing.assert_allclose(m.root_quat[:, 0], raw[:, COLUMNS["root_quat_xyzw"]][:, 3], atol=1e-7)  # w first
    np.testing.assert_array_equal(m.contact_label, raw[:, COLUMNS["contact_label"]].astype(np.int8))
    np.testing.assert_allclose(m.obj_vertices.mean(axis=0), 0.0, atol=1e-5)
    # one graph edge per contiguous +1 run, active exactly on the run; object points sit near the surface
    runs = contact_runs(m.contact_label)
    assert len(runs) == len(m.ig_body) > 0
    for k, (b, s, e) in enumerate(runs):
        assert m.ig_body[k] == b and m.ig_active[:, k].sum() == e - s and m.ig_active[s:e, k].all()
    near = closest_surface_points(m.obj_vertices, m.obj_faces, m.ig_obj_point)
    assert np.median(np.linalg.norm(near - m.ig_obj_point, axis=-1)) < 0.02
