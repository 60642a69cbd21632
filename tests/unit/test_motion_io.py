"""HOIMotion .npz files: exact round trip, schema_version and JSON meta, no pickle, atomic writes, clear errors."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from hoi_sim.errors import InputError
from hoi_sim.motions import (
    ARRAY_NAMES,
    ARRAY_SPECS,
    SCHEMA_VERSION,
    ValidationError,
    assert_valid,
    load_motion,
    read_meta,
    save_motion,
)
from hoi_sim.motions.schema import array_fields
from hoi_sim.motions.synthetic import synthetic_motion


@pytest.fixture(scope="module")
def motion():
    return synthetic_motion(num_frames=24, seed=3)


def test_schema_lists_every_dataclass_array():
    assert array_fields() == ARRAY_NAMES
    assert set(ARRAY_SPECS) == set(ARRAY_NAMES)


def test_round_trip_is_exact(tmp_path, motion):
    path = save_motion(motion, tmp_path / "clip.npz")
    back = load_motion(path)
    for name in ARRAY_NAMES:
        a, b = getattr(motion, name), getattr(back, name)
        assert a.dtype == b.dtype == np.dtype(ARRAY_SPECS[name][1]), name
        np.testing.assert_array_equal(a, b, err_msg=name)
    for key, value in motion.meta.items():
        assert back.meta[key] == value
    assert back.meta["kind"] == "hoi_motion" and back.meta["quat_order"] == "wxyz"
    assert len(back.meta["body_names"]) == 52 and len(back.meta["dof_names"]) == 153
    assert read_meta(path)["name"] == motion.name


def test_file_holds_version_and_json_meta_without_pickle(tmp_path, motion):
    path = save_motion(motion, tmp_path / "clip.npz")
    with np.load(path, allow_pickle=False) as data:
        assert int(data["schema_version"]) == SCHEMA_VERSION
        assert data["meta"].dtype.kind == "U"
        assert json.loads(str(data["meta"][()]))["fps"] == motion.fps
        assert set(ARRAY_NAMES) <= set(data.files)


def test_failed_write_keeps_the_old_file(tmp_path, motion):
    path = save_motion(motion, tmp_path / "clip.npz")
    before = path.read_bytes()
    bad = synthetic_motion(num_frames=24, seed=3)
    bad.meta["provenance"] = {"not json": object()}
    with pytest.raises(InputError, match="JSON"):
        save_motion(bad, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["clip.npz"]  # no temp file left behind


def test_truncated_file_is_a_clear_error(tmp_path, motion):
    path = save_motion(motion, tmp_path / "clip.npz")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputError, match="clip.npz: cannot read"):
        load_motion(path)


def _rewrite(src, dst, drop=(), **replace):
    with np.load(src, allow_pickle=False) as data:
        payload = {k: data[k] for k in data.files if k not in drop}
    payload.update(replace)
    np.savez(dst, **payload)


def test_missing_array_wrong_version_and_other_kind(tmp_path, motion):
    path = save_motion(motion, tmp_path / "clip.npz")
    _rewrite(path, tmp_path / "a.npz", drop=("dof_vel",))
    with pytest.raises(InputError, match="a.npz: missing array.*dof_vel"):
        load_motion(tmp_path / "a.npz")
    _rewrite(path, tmp_path / "b.npz", schema_version=np.asarray(7))
    with pytest.raises(InputError, match="schema_version 7"):
        load_motion(tmp_path / "b.npz")
    meta = dict(motion.meta, kind="hoi_sequence")
    _rewrite(path, tmp_path / "c.npz", meta=np.asarray(json.dumps(meta)))
    with pytest.raises(InputError, match="'hoi_sequence'"):
        load_motion(tmp_path / "c.npz")
    with pytest.raises(InputError, match="no such file"):
        load_motion(tmp_path / "nope.npz")
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as z:
        z.writestr("junk.txt", "x")
    with pytest.raises(InputError, match="not a HOIMotion file"):
        load_motion(tmp_path / "d.npz")


def test_load_reads_and_assert_valid_raises_validation_error(tmp_path, motion):
    path = save_motion(motion, tmp_path / "clip.npz")
    _rewrite(path, tmp_path / "bad.npz", contact_label=np.full_like(motion.contact_label, 3))
    assert load_motion(tmp_path / "bad.npz").contact_label.max() == 3  # reading does not validate
    with pytest.raises(ValidationError, match="bad.npz.*contact_label"):
        assert_valid(tmp_path / "bad.npz")
