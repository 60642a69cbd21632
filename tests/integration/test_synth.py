"""Synthetic sessions: SMPL-X conversion of a motion, §9.6 annotations, noise, synth → ingest round trip, CLI."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from hoi_sim import cli
from hoi_sim.bridge.synth import (
    CONTACT_THRESHOLD_M,
    farthest_point_sample,
    make_synthetic_session,
    motion_to_smplx_params,
    select_contacts,
)
from hoi_sim.recon.ingest import load_session
from hoi_sim.recon.raster import project
from hoi_sim.recon.sequence import load_sequence

SHARED = Path(os.environ.get("HOI_SIM_SHARED", Path(__file__).resolve().parents[3] / "shared"))


@pytest.fixture(scope="module")
def body():
    from hoi_sim.body.proxy import ProxyBody

    return ProxyBody(dtype=torch.float64)


@pytest.fixture(scope="module")
def motion(body):
    from hoi_sim.bridge.toy import toy_hoi_motion

    return toy_hoi_motion(8, body_model=body)


@pytest.fixture(scope="module")
def session(motion, body, tmp_path_factory) -> Path:
    return make_synthetic_session(motion, tmp_path_factory.mktemp("synth") / "s", body_model=body,
                                  image_size=(80, 64), seed=3)


def test_motion_to_smplx_params_matches_humanoid_fk(motion, body):
    from hoi_sim import rotations as rot
    from hoi_sim.body.base import BodyParams
    from hoi_sim.bridge.synth import C_S2H

    p = motion_to_smplx_params(motion, body)
    assert p.body_pose.shape == (8, 63) and p.left_hand_pose.shape == (8, 45) and not p.betas.any()
    out = body(BodyParams.from_numpy(p, dtype=torch.float64))
    np.testing.assert_allclose(out.body_pos.numpy(), motion.body_pos, atol=1e-5)  # neutral skeleton: exact
    R_h = rot.quat_to_matrix(torch.as_tensor(motion.body_quat, dtype=torch.float64)).numpy()
    np.testing.assert_allclose(out.body_rot.numpy(), R_h @ C_S2H, atol=1e-5)  # R_s-axes → world


def test_select_contacts_protocol():
    rng = np.random.default_rng(0)
    obj = rng.normal(size=(200, 3))
    kps = np.full((87, 3), 50.0)
    kps[:8] = obj[:8] + np.linspace(0.0, 0.14, 8)[:, None] / np.sqrt(3)  # distances 0 … 0.14 m
    out = select_contacts(kps, obj)
    assert (out >= 0).sum() == 5  # at most 5, the closest first
    np.testing.assert_array_equal(out[:5], np.arange(5))
    assert (out[5:] == -1).all()
    fps = farthest_point_sample(np.array([[0, 0], [1, 0], [0.5, 0.1], [0, 1], [1, 1.0]]), 4)
    assert set(fps.tolist()) == {0, 1, 3, 4}


def test_roundtrip_recovers_ground_truth(session):
    inp = load_session(session)
    gt = load_sequence(session / "ground_truth.npz")
    np.testing.assert_array_equal(inp.contact_vertex, gt.contact_vertex)
    assert (inp.active_pairs().sum(1) >= 1).all() and (inp.active_pairs().sum(1) <= 5).all()
    # every pair is a real contact of the ground truth (< 0.1 m)
    from hoi_sim.body.base import BodyParams
    from hoi_sim.body.proxy import ProxyBody

    kps = ProxyBody(dtype=torch.float64)(BodyParams.from_numpy(gt.human, dtype=torch.float64)).keypoints.numpy()
    ov = gt.object_vertices_cam()
    for i in range(gt.num_frames):
        rows = np.flatnonzero(gt.contact_vertex[i] >= 0)
        d = np.linalg.norm(kps[i, rows] - ov[i, gt.contact_vertex[i, rows]], axis=1)
        assert (d < CONTACT_THRESHOLD_M).all()
    # 2D tracks are the projections of the true pose, inside the image, on the object's mask
    valid = inp.track_valid()
    assert (valid.sum(1) == 5).all()
    for i in range(inp.num_frames):
        uv = project(ov[i, inp.track_vertex[i]], inp.K)
        np.testing.assert_allclose(inp.track_xy[i], uv, atol=1e-6)
        px = np.floor(uv).astype(int)
        assert inp.object_masks[i][px[:, 1], px[:, 0]].mean() >= 0.6
    assert not (inp.object_masks & inp.human_masks).any()


def test_noise_magnitudes(session):
    inp = load_session(session, load_masks=False)
    gt = load_sequence(session / "ground_truth.npz")
    a = Rotation.from_rotvec(inp.human_incam.body_pose.reshape(-1, 3))
    b = Rotation.from_rotvec(gt.human.body_pose.reshape(-1, 3))
    ang = np.degrees((a.inv() * b).magnitude())
    assert 3.5 < np.sqrt(np.mean(ang ** 2)) < 6.5  # ~5 deg RMS per joint
    np.testing.assert_allclose(inp.human_incam.transl, gt.human.transl, atol=1e-5)  # root not perturbed
    t_err = np.linalg.norm(inp.obj_t_init[0] - gt.obj_t[0])
    assert 0.005 < t_err < 0.35
    r_err = np.degrees(Rotation.from_matrix(gt.obj_R[0]).magnitude())  # init rotation is identity
    assert 0.1 < r_err < 12.0


def test_deterministic(motion, body, tmp_path):
    a = make_synthetic_session(motion, tmp_path / "a", body_model=body, image_size=(32, 32), seed=5,
                               write_video=False, frames=3)
    b = make_synthetic_session(motion, tmp_path / "b", body_model=body, image_size=(32, 32), seed=5,
                               write_video=False, frames=3)
    for name in ("kp_record_merged.json", "output/obj_poses.json", "obj_org.obj"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_cli_synth_toy(tmp_path, capsys):
    out = tmp_path / "sess"
    assert cli.main(["synth", "toy", "-o", str(out), "--size", "48x40", "--frames", "4", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert "4 frames 48x40" in text and "ground_truth.npz" in text
    assert load_session(out, load_masks=False).num_frames == 4
    assert cli.main(["synth", "toy", "-o", str(out)]) == 1  # refuses to overwrite
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not empty" in err[0]
    assert cli.main(["synth", "toy", "-o", str(tmp_path / "x"), "--size", "33x40"]) == 1
    assert "even" in capsys.readouterr().err


def test_cli_synth_omomo_clip(tmp_path, capsys):
    clip = SHARED / "data" / "intermimic" / "OMOMO_new" / "sub2_largetable_000.pt"
    mesh = SHARED / "data" / "intermimic" / "objects" / "largetable.obj"
    if not clip.is_file() or not mesh.is_file():
        pytest.skip("needs ../shared/data/intermimic (OMOMO_new clip and objects)")
    out = tmp_path / "omomo"
    rc = cli.main(["synth", str(clip), "--object", str(mesh), "-o", str(out), "--frames", "3", "--size", "64x64"])
    assert rc == 0, capsys.readouterr().err
    inp = load_session(out, load_masks=False)
    assert inp.num_frames == 3 and inp.object.num_vertices == 15834
    assert (inp.dof_per_frame() >= 10).all()


def test_global_params_agree_with_the_camera(session):
    """The GVHMR-style global params of a synthetic session give back its camera (y-up world = Cᵀ z-up world)."""
    from hoi_sim.body.proxy import ProxyBody
    from hoi_sim.bridge.synth import C_S2H
    from hoi_sim.commands.solve import as_sequence

    inp = load_session(session, load_masks=False)
    gt = load_sequence(session / "ground_truth.npz")
    seq = as_sequence(gt, inp.replace(cam_to_world=None), ProxyBody())
    assert seq is gt  # a HOISequence passes through unchanged
    result = type("R", (), {"human": inp.human_incam, "obj_R": gt.obj_R, "obj_t": gt.obj_t})()
    seq = as_sequence(result, inp.replace(cam_to_world=None), ProxyBody())
    M = inp.cam_to_world
    np.testing.assert_allclose(seq.cam_to_world[:, :3, :3], np.broadcast_to(C_S2H.T @ M[:3, :3], (8, 3, 3)),
                               atol=1e-5)
    np.testing.assert_allclose(seq.cam_to_world[:, :3, 3], np.broadcast_to(C_S2H.T @ M[:3, 3], (8, 3)), atol=1e-4)


def test_start_and_static_flag(motion, body, tmp_path):
    import dataclasses

    a = make_synthetic_session(motion, tmp_path / "a", body_model=body, image_size=(32, 32), start=2, frames=3,
                               write_video=False)
    gt = load_sequence(a / "ground_truth.npz")
    assert gt.num_frames == 3 and gt.meta["motion_start"] == 2 and gt.meta["static"] is False
    still = dataclasses.replace(motion, obj_pos=np.repeat(motion.obj_pos[:1], 8, 0),
                                obj_quat=np.repeat(motion.obj_quat[:1], 8, 0))
    b = make_synthetic_session(still, tmp_path / "b", body_model=body, image_size=(48, 48), frames=4)
    inp = load_session(b, load_masks=False)
    assert inp.static and load_sequence(b / "ground_truth.npz").meta["static"] is True
    with pytest.raises(Exception, match="start frame 9 outside"):
        make_synthetic_session(motion, tmp_path / "c", body_model=body, start=9)
