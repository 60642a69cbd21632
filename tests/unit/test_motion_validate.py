"""validate_motion names the array, frame and body of every fault (and by how much)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from hoi_sim.motions import ValidationError, assert_valid, save_motion, validate_motion
from hoi_sim.motions.synthetic import synthetic_motion
from hoi_sim.skeleton import BODY_INDEX


@pytest.fixture(scope="module")
def base():
    return synthetic_motion(num_frames=30, seed=1)


def _copy(m):
    return dataclasses.replace(m, meta=dict(m.meta), **{k: v.copy() for k, v in m.arrays().items()})


def _one(problems: list[str]) -> str:
    assert problems, "expected a finding"
    return "\n".join(problems)


def test_valid_motion_has_no_findings(base):
    assert validate_motion(base) == []
    assert_valid(base)


def test_nan_names_array_frame_and_body(base):
    m = _copy(base)
    m.body_pos[7, BODY_INDEX["L_Wrist"], 1] = np.nan
    text = _one(validate_motion(m, label="clip.npz"))
    assert "clip.npz" in text and "'body_pos'" in text and "frame 7" in text and "'L_Wrist'" in text
    assert "non-finite" in text


def test_non_unit_quaternion(base):
    m = _copy(base)
    m.body_quat[4, BODY_INDEX["Head"]] *= 0.8
    text = _one(validate_motion(m))
    assert "'body_quat'" in text and "frame 4" in text and "'Head'" in text and "norm 0.800" in text


def test_positions_inconsistent_with_dofs(base):
    m = _copy(base)
    m.dof_pos[5, 3 * (BODY_INDEX["L_Elbow"] - 1)] += 0.3  # elbow x hinge moves, stored positions do not
    text = _one(validate_motion(m))
    assert "body 'L_Wrist': 'body_pos' differs from FK" in text
    assert "at frame 5" in text and " mm " in text
    mm = float(text.split("body 'L_Wrist': 'body_pos' differs from FK(root, dof_pos, skeleton_offsets) by ")[1]
               .split(" mm")[0])
    assert 10 < mm < 200


def test_body_not_rigid_wrt_parent(base):
    m = _copy(base)
    m.body_pos[12, BODY_INDEX["Head"]] += np.array([0.0, 0.02, 0.0], np.float32)
    text = _one(validate_motion(m))
    line = next(p for p in text.splitlines() if "not rigid" in p)
    assert "body 'Head' is not rigid w.r.t. its parent 'Neck'" in line and "frame 12" in line
    assert float(line.split("deviates ")[1].split(" mm")[0]) == pytest.approx(20.0 * 29 / 30, abs=0.1)


@pytest.mark.parametrize("name,shape", [("dof_pos", (30, 150)), ("body_pos", (30, 51, 3)), ("ig_active", (29, 1))])
def test_wrong_shapes(base, name, shape):
    m = _copy(base)
    setattr(m, name, np.zeros(shape, getattr(base, name).dtype))
    text = _one(validate_motion(m))
    assert f"array {name!r}: shape {shape}" in text and "expected" in text


def test_wrong_dtype_contacts_graph_and_velocity(base):
    m = _copy(base)
    m.root_pos = m.root_pos.astype(np.float64)
    assert "array 'root_pos': dtype float64, expected float32" in _one(validate_motion(m))
    m = _copy(base)
    m.contact_label[3, BODY_INDEX["R_Toe"]] = 2
    assert "'contact_label' frame 3 body 'R_Toe': value 2" in _one(validate_motion(m))
    m = _copy(base)
    m.ig_body[0] = 60
    assert "'ig_body' edge 0: body index 60" in _one(validate_motion(m))
    m = _copy(base)
    m.dof_vel[8, 0] += 5.0
    assert "'dof_vel' frame 8 dof 'L_Hip_x'" in _one(validate_motion(m))
    m = _copy(base)
    m.meta["fps"] = 0
    assert "meta 'fps'" in _one(validate_motion(m))


def test_path_input_and_unreadable_file(tmp_path, base):
    path = save_motion(base, tmp_path / "ok.npz")
    assert validate_motion(path) == []
    path.write_bytes(b"PK\x03\x04 truncated")
    problems = validate_motion(path)
    assert len(problems) == 1 and str(path) in problems[0]


def test_validation_error_is_one_line(base):
    m = _copy(base)
    m.body_quat[:, 3] *= 2.0
    m.root_pos[0, 0] = np.inf
    with pytest.raises(ValidationError) as info:
        assert_valid(m)
    assert "\n" not in str(info.value) and info.value.problems
