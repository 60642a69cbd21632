"""MotionLibrary: packing, interpolation, sampling, point clouds and interaction-graph arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hoi_sim import rotations as rot
from hoi_sim.envs.toy import toy_motion
from hoi_sim.errors import InputError
from hoi_sim.motions.library import MotionLibrary

pytestmark = pytest.mark.usefixtures("one_torch_thread")



@pytest.fixture(scope="module")
def motions():
    a = toy_motion(30, seed=0, name="a")
    b = toy_motion(20, fps=15.0, seed=1, name="b")
    b.ig_body = np.array([17, 36, 0], np.int64)  # clip b has 3 edges, clip a 1: padding to K = 3
    b.ig_body_offset = np.zeros((3, 3), np.float32)
    b.ig_obj_point = np.arange(9, dtype=np.float32).reshape(3, 3)
    b.ig_active = np.zeros((20, 3), bool)
    b.ig_active[10:, 1] = True
    return a, b


@pytest.fixture(scope="module")
def lib(motions) -> MotionLibrary:
    return MotionLibrary(motions, weights=[1.0, 3.0])


def test_packing(lib: MotionLibrary, motions) -> None:
    assert lib.num_motions == 2 and lib.num_frames.tolist() == [30, 20]
    assert lib.frame_start.tolist() == [0, 30]
    assert lib.length_s.tolist() == pytest.approx([29 / 30, 19 / 15])
    assert lib.max_edges == 3 and lib.ig_body.shape == (2, 3)
    assert lib.data["body_pos"].shape == (50, 52, 3) and lib.data["body_pos"].dtype == torch.float32
    assert lib.obj_points.shape == (2, 1024, 3)


def test_frames_are_exact(lib: MotionLibrary, motions) -> None:
    ids = torch.tensor([0, 1, 1])
    frames = torch.tensor([7, 0, 19])
    s = lib.frame_state(ids, frames)
    for i, (m, f) in enumerate(zip((motions[0], motions[1], motions[1]), (7, 0, 19))):
        assert torch.allclose(s.body_pos[i], torch.as_tensor(m.body_pos[f]), atol=1e-6)
        assert torch.allclose(s.dof_pos[i], torch.as_tensor(m.dof_pos[f]), atol=1e-6)
        assert torch.allclose(rot.quat_diff_angle(s.body_quat[i], torch.as_tensor(m.body_quat[f])),
                              torch.zeros(52), atol=1e-3)
        assert torch.equal(s.contact_label[i], torch.as_tensor(m.contact_label[f]).float())


def test_interpolation_midpoint(lib: MotionLibrary, motions) -> None:
    m = motions[0]
    s = lib.state(torch.tensor([0]), torch.tensor([7.5 / 30]))
    assert torch.allclose(s.root_pos[0], torch.as_tensor(0.5 * (m.root_pos[7] + m.root_pos[8])), atol=1e-6)
    q = rot.slerp(torch.as_tensor(m.obj_quat[7]), torch.as_tensor(m.obj_quat[8]), torch.tensor(0.5))
    assert torch.allclose(s.obj_quat[0], q, atol=1e-6)
    assert torch.allclose(s.dof_pos[0], torch.as_tensor(0.5 * (m.dof_pos[7] + m.dof_pos[8])), atol=1e-6)
    # beyond the clip end: clamped to the last frame
    e = lib.state(torch.tensor([0]), torch.tensor([10.0]))
    assert torch.allclose(e.root_pos[0], torch.as_tensor(m.root_pos[-1]), atol=1e-6)


def test_slerp_dof_interpolation_matches_local_rotation_slerp(motions) -> None:
    m = motions[0]
    lib = MotionLibrary([m], dof_interp="slerp")
    s = lib.state(torch.tensor([0, 0]), torch.tensor([4 / 30, 4.25 / 30]))
    assert torch.allclose(s.dof_pos[0], torch.as_tensor(m.dof_pos[4]), atol=1e-5)
    q0 = rot.euler_xyz_to_quat(torch.as_tensor(m.dof_pos[4]).view(51, 3))
    q1 = rot.euler_xyz_to_quat(torch.as_tensor(m.dof_pos[5]).view(51, 3))
    expect = rot.slerp(q0, q1, torch.full((51, 1), 0.25))
    got = rot.euler_xyz_to_quat(s.dof_pos[1].view(51, 3))
    assert torch.allclose(rot.quat_diff_angle(got, expect), torch.zeros(51), atol=1e-3)


def test_contacts_and_graph_use_nearest_frame(lib: MotionLibrary) -> None:
    # clip b (15 fps): edge 1 becomes active at frame 10
    s = lib.state(torch.tensor([1, 1, 1]), torch.tensor([9.4 / 15, 9.6 / 15, 12 / 15]))
    assert s.ig_active[:, 1].tolist() == [False, True, True]
    assert s.ig_body[0].tolist() == [17, 36, 0]
    assert torch.equal(s.ig_obj_point[0], torch.arange(9.0).view(3, 3))
    a = lib.state(torch.tensor([0]), torch.tensor([0.0]))
    assert a.ig_active[0].tolist() == [True, False, False]  # padding edges are inactive


def test_ig_vectors_point_to_the_surface(lib: MotionLibrary, motions) -> None:
    s = lib.frame_state(torch.tensor([0]), torch.tensor([3]))
    pts = rot.quat_rotate(s.obj_quat[:, None].expand(1, 1024, 4), lib.obj_points[[0]]) + s.obj_pos[:, None]
    nearest = torch.cdist(s.body_pos, pts).amin(-1)
    assert torch.allclose(s.ig_vec.norm(dim=-1), nearest, atol=1e-5)


def test_point_cloud_is_deterministic_and_on_surface(motions) -> None:
    a = MotionLibrary([motions[0]]).obj_points
    b = MotionLibrary([motions[0]]).obj_points
    assert torch.equal(a, b)
    half = torch.tensor([0.2, 0.15, 0.1])
    on_face = ((a.abs() - half).abs() < 1e-5).any(-1)  # each point lies on a box face
    assert bool(on_face.all()) and bool((a.abs() <= half + 1e-5).all())


def test_weighted_sampling_and_starts(lib: MotionLibrary) -> None:
    g = torch.Generator().manual_seed(0)
    ids = lib.sample_motions(4000, g)
    frac = (ids == 1).float().mean().item()
    assert frac == pytest.approx(0.75, abs=0.03)
    only_a = lib.sample_motions(100, g, allowed=torch.tensor([True, False]))
    assert bool((only_a == 0).all())
    starts = lib.sample_start_frames(torch.zeros(500, dtype=torch.long), max_steps=10, generator=g)
    assert int(starts.min()) == 0 and int(starts.max()) == 19  # [0, 30 − 10)
    t = lib.sample_times(torch.ones(100, dtype=torch.long), generator=g)
    assert float(t.max()) <= 19 / 15 + 1e-6 and float(t.min()) >= 0


def test_reset_state_and_errors(lib: MotionLibrary) -> None:
    rs = lib.frame_state(torch.tensor([0, 1]), torch.tensor([0, 5])).reset_state()
    rs.validate()
    assert rs.num == 2
    with pytest.raises(InputError):
        MotionLibrary([])
    with pytest.raises(InputError):
        MotionLibrary([toy_motion(5)], weights=[-1.0])
    with pytest.raises(InputError):
        MotionLibrary([toy_motion(5)], dof_interp="cubic")
    assert math.isclose(float(lib.frame_time(torch.tensor([1]), torch.tensor([3]))), 0.2, rel_tol=1e-6)


def test_asset_groups_by_content_and_per_env_candidates(caplog) -> None:
    """Issue 12: skeletons by bone offsets (float noise is one skeleton), objects by mesh content and mass mode,
    not by name; ``candidates`` restricts each draw to its row's clips; without it the stream is unchanged."""
    import logging

    a, noisy = toy_motion(20, seed=1, name="a"), toy_motion(20, seed=2, name="noisy")
    noisy.skeleton_offsets = noisy.skeleton_offsets + np.float32(2e-7)  # the sub2 clips differ by this much
    big = toy_motion(20, seed=3, name="big")
    big.skeleton_offsets = big.skeleton_offsets * np.float32(1.25)
    other = toy_motion(20, seed=4, name="other")  # same object name, another mesh
    other.obj_vertices = other.obj_vertices * np.float32(1.5)
    with caplog.at_level(logging.WARNING, logger="hoi_sim.motions.assets"):
        lib = MotionLibrary([a, noisy, big, other])
    assert lib.clip_group.tolist() == [0, 0, 1, 2]
    assert [g.first_clip for g in lib.asset_groups] == [0, 2, 3]
    assert lib.asset_groups[0].skeleton != lib.asset_groups[1].skeleton
    assert lib.asset_groups[0].object == lib.asset_groups[1].object != lib.asset_groups[2].object
    assert "both name their object" in caplog.text and "'a'" in caplog.text and "'other'" in caplog.text
    assert np.allclose(lib.group_meshes[2][0], other.obj_vertices)

    cand = lib.clip_group[None, :] == torch.tensor([0, 1, 2, 0])[:, None]
    for seed in range(5):
        mids = lib.sample_motions(4, torch.Generator().manual_seed(seed), candidates=cand)
        assert cand[torch.arange(4), mids].all()
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(lib.sample_motions(16, g1), torch.multinomial(lib.weights, 16, replacement=True, generator=g2))
    with pytest.raises(InputError, match="positive weight in every row"):
        lib.sample_motions(1, candidates=torch.zeros(1, 4, dtype=torch.bool))
