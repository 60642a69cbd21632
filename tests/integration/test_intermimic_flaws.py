"""Real-file flaws and broken inputs are refused with one line naming the file, frame and body; the repair flags
(--drop-frames, --recompute-positions) fix the flaws they are for."""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import pytest
import torch

from hoi_sim.cli import main
from hoi_sim.errors import InputError
from hoi_sim.motions import from_intermimic, load_motion, validate_motion
from hoi_sim.motions.intermimic import COLUMNS, read_tensor
from hoi_sim.skeleton import BODY_INDEX

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def clip(omomo_dir):
    return omomo_dir / "sub2_woodchair_010.pt"  # the shortest clip (147 frames)


def _write(tmp_path, clip, data: np.ndarray):
    objects = tmp_path / "objects"
    objects.mkdir(exist_ok=True)
    path = tmp_path / clip.name
    torch.save(torch.as_tensor(data, dtype=torch.float32), path)
    return path


def _convert(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["convert", *args])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _one_line_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_all_zero_first_frame(tmp_path, clip, objects_dir, capsys):
    data = read_tensor(clip)
    data[0, : COLUMNS["contact_label"].start] = 0.0  # as in OMOMO_retarget: only the labels are filled
    pt = _write(tmp_path, clip, data)
    rc, _, err = _convert(capsys, str(pt), "-o", str(tmp_path / "x.npz"), "--objects", str(objects_dir))
    line = _one_line_error(err)
    assert rc == 1 and "frame 0" in line and "norm 0.000" in line and "--drop-frames 0" in line
    assert str(pt) in line
    rc, out, _ = _convert(capsys, str(pt), "-o", str(tmp_path / "x.npz"), "--objects", str(objects_dir),
                          "--drop-frames", "0")
    assert rc == 0 and "146 frames" in out
    m = load_motion(tmp_path / "x.npz")
    assert m.num_frames == len(data) - 1 and m.meta["provenance"]["dropped_frames"] == [0]
    np.testing.assert_allclose(m.root_pos, data[1:, COLUMNS["root_pos"]], atol=1e-6)
    assert validate_motion(m) == []


def test_finger_positions_that_do_not_follow_their_dofs(tmp_path, clip, objects_dir, capsys):
    data = read_tensor(clip)
    true_pos = data[:, COLUMNS["body_pos"]].reshape(len(data), 52, 3).copy()
    body_pos = true_pos.copy()
    fingers = [BODY_INDEX[n] for n in ("L_Index1", "L_Index2", "L_Index3")]
    body_pos[40:70, fingers] += np.array([0.0, 0.3, -0.2])  # OMOMO-style: index finger far off in some frames
    data[:, COLUMNS["body_pos"]] = body_pos.reshape(len(data), -1)
    pt = _write(tmp_path, clip, data)
    with pytest.raises(InputError) as info:
        from_intermimic(pt, objects_dir)
    msg = str(info.value)
    assert "body 'L_Index1'" in msg and "does not follow the DOFs" in msg
    assert 40 <= int(msg.split(": frame ")[1].split(" ")[0]) < 70  # a corrupted frame, in file numbering
    assert "--recompute-positions" in msg and " mm " in msg
    m = from_intermimic(pt, objects_dir, recompute_positions=True)
    # Index2/3 moved rigidly with Index1, so only the wrist→Index1 bone is broken
    assert m.meta["provenance"]["recomputed_positions"] == ["L_Index1"]
    assert validate_motion(m) == []
    # most frames were right, so the robust offsets recover the true finger positions everywhere
    assert np.abs(m.body_pos - true_pos).max() < 1e-3


def test_nan_in_a_frame(tmp_path, clip, objects_dir, capsys):
    data = read_tensor(clip)
    data[33, COLUMNS["body_pos"].start + 3 * BODY_INDEX["R_Elbow"] + 2] = np.nan
    pt = _write(tmp_path, clip, data)
    rc, _, err = _convert(capsys, str(pt), "-o", str(tmp_path / "x.npz"), "--objects", str(objects_dir))
    line = _one_line_error(err)
    assert rc == 1 and "frame 33" in line and "'R_Elbow'" in line and "non-finite" in line


def test_broken_files_give_one_line_errors(tmp_path, clip, objects_dir, capsys):
    raw = clip.read_bytes()
    cases = {}
    cases["truncated"] = tmp_path / "sub2_woodchair_900.pt"
    cases["truncated"].write_bytes(raw[: len(raw) // 2])
    cases["pickled"] = tmp_path / "sub2_woodchair_901.pt"
    torch.save(argparse.Namespace(frames=3), cases["pickled"])
    cases["dict"] = tmp_path / "sub2_woodchair_902.pt"
    torch.save({"motion": torch.zeros(3, 591)}, cases["dict"])
    cases["columns"] = tmp_path / "sub2_woodchair_903.pt"
    torch.save(torch.zeros(10, 590), cases["columns"])
    expect = {"truncated": "truncated or damaged", "pickled": "pickled Python object",
              "dict": "holds a dict", "columns": "shape (10, 590)"}
    for key, path in cases.items():
        rc, _, err = _convert(capsys, str(path), "-o", str(tmp_path / "out.npz"), "--objects", str(objects_dir))
        line = _one_line_error(err)
        assert rc == 1 and str(path) in line and expect[key] in line, line
        rc = main(["validate", str(path)])
        err = capsys.readouterr().err
        assert rc == 1 and expect[key] in err and "Traceback" not in err
    assert not (tmp_path / "out.npz").exists()


def test_missing_mesh_and_console_script(tmp_path, clip, capsys):
    rc, _, err = _convert(capsys, str(clip), "-o", str(tmp_path / "x.npz"), "--objects", str(tmp_path))
    assert rc == 1 and "no mesh for object 'woodchair'" in _one_line_error(err)
    bad = tmp_path / "sub2_woodchair_904.pt"
    torch.save(torch.zeros(4, 12), bad)
    proc = subprocess.run([sys.executable, "-m", "hoi_sim.cli", "convert", str(bad), "-o", str(tmp_path / "y.npz")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "shape (4, 12)" in proc.stderr


def test_positions_wrong_in_every_frame_fall_back_to_neutral_offsets(tmp_path, clip, objects_dir):
    from hoi_sim.skeleton import neutral_offsets

    data = read_tensor(clip)
    body_pos = data[:, COLUMNS["body_pos"]].reshape(len(data), 52, 3)
    body_pos[:, BODY_INDEX["R_Thumb1"]] = body_pos[:, BODY_INDEX["R_Wrist"]] + np.array([0.05, 0.0, 0.0])
    data[:, COLUMNS["body_pos"]] = body_pos.reshape(len(data), -1)
    m = from_intermimic(_write(tmp_path, clip, data), objects_dir, recompute_positions=True)
    assert m.meta["provenance"]["recomputed_positions"] == ["R_Thumb1", "R_Thumb2"]
    np.testing.assert_allclose(m.skeleton_offsets[BODY_INDEX["R_Thumb1"]], neutral_offsets()[BODY_INDEX["R_Thumb1"]],
                               atol=1e-6)
    assert validate_motion(m) == []
