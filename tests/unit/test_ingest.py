"""Session ingest: both app layouts, annotation parsing, missing-file reports, SolverInput helpers, output files."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hoi_sim import cli, keypoints
from hoi_sim.errors import InputError
from hoi_sim.recon import session_io as sio
from hoi_sim.recon.annotations import parse_annotations, to_json
from hoi_sim.recon.ingest import describe_missing, load_session, locate, missing_files
from hoi_sim.recon.sequence import (
    HOISequence,
    load_sequence,
    newest_all_parameters,
    read_all_parameters,
    save_sequence,
    write_all_parameters,
)

SHARED = Path(os.environ.get("HOI_SIM_SHARED", Path(__file__).resolve().parents[3] / "shared"))


@pytest.fixture(scope="module")
def spear_dir() -> Path:
    d = SHARED / "data" / "open4dhoi" / "spear_example"
    if not d.is_dir():
        pytest.skip(f"needs {d} (../shared data is not beside this checkout)")
    return d


@pytest.fixture(scope="module")
def sessions(tmp_path_factory) -> dict[str, Path]:
    from hoi_sim.bridge.synth import SynthNoise, make_synthetic_session
    from hoi_sim.bridge.toy import toy_hoi_motion

    motion = toy_hoi_motion(6)
    root = tmp_path_factory.mktemp("ingest")
    return {layout: make_synthetic_session(motion, root / layout, image_size=(64, 48), noise=SynthNoise.none(),
                                           layout=layout) for layout in ("A", "B")}


# ---- both layouts ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["A", "B"])
def test_layout_ingests_to_ground_truth(sessions, layout):
    inp = load_session(sessions[layout])
    gt = load_sequence(sessions[layout] / "ground_truth.npz")
    assert inp.layout == layout and inp.num_frames == 6 and inp.image_size == (64, 48)
    assert inp.start_frame == 0 and inp.video_num_frames == 6 and inp.fps == pytest.approx(30.0)
    np.testing.assert_allclose(inp.K, gt.K, rtol=1e-6)
    np.testing.assert_array_equal(inp.contact_vertex, gt.contact_vertex)
    np.testing.assert_allclose(inp.object.vertices, gt.obj_vertices, atol=2e-6)
    assert inp.object.scale == 1.5 and inp.object.user_scale == 1.0
    for k, v in inp.human_incam.as_dict().items():  # noise-free: init = ground truth (float32 in the .pt)
        np.testing.assert_allclose(v, getattr(gt.human, k), atol=2e-5, err_msg=k)
    if layout == "A":  # per-frame centres
        np.testing.assert_allclose(inp.obj_t_init, gt.obj_t, atol=1e-9)
        assert inp.legacy_keypoints and inp.keypoint_vertices[keypoints.index("leftFoot_sole")] == 8897
    else:  # one translation for all frames
        np.testing.assert_allclose(inp.obj_t_init, np.repeat(gt.obj_t[:1], 6, 0), atol=1e-9)
        assert not inp.legacy_keypoints and inp.keypoint_vertices[keypoints.index("leftFoot_sole")] == 8898
    assert inp.human_global is not None and inp.cam_to_world.shape == (4, 4)
    assert inp.object_masks.shape == (6, 64, 48) and inp.object_masks.dtype == bool
    assert inp.object_masks.any() and inp.human_masks.any()
    assert (inp.dof_per_frame() >= 6).all() and inp.low_dof_frames().size == 0
    assert inp.provenance["layout"] == layout


def test_solver_input_helpers(sessions):
    inp = load_session(sessions["B"], load_masks=False)
    assert inp.object_masks is None and len(inp.object_mask_paths) == 6
    act = inp.active_pairs()
    assert act.shape == (6, 87) and act.dtype == bool
    np.testing.assert_array_equal(inp.dof_per_frame(), 3 * act.sum(1) + 2 * (inp.track_vertex >= 0).sum(1))
    assert keypoints.index("rightHand_palm") in inp.contact_keypoints()
    assert 0 <= inp.best_frame() < 6 and inp.contact_frames().size == 6
    assert inp.object_vertices_init().shape == (6, inp.object.num_vertices, 3)
    bad = inp.replace(contact_vertex=inp.contact_vertex.copy())
    bad.contact_vertex[2, 0] = inp.object.num_vertices
    with pytest.raises(InputError, match="contact_vertex object vertex .* at frame 2"):
        bad.validate()


def test_kp_record_new_preferred_and_legacy_names(sessions, tmp_path):
    s = tmp_path / "s"
    shutil.copytree(sessions["B"], s)
    data = json.loads((s / "kp_record_merged.json").read_text())
    data["00000"]["Head_top"] = 3  # a release-B-only name
    (s / "kp_record_new.json").write_text(json.dumps(data))
    inp = load_session(s, load_masks=False)
    assert inp.provenance["files"]["annotations"] == "kp_record_new.json"
    assert inp.contact_vertex[0, keypoints.index("Head_top")] == 3


def test_parse_annotations_ranges():
    names = keypoints.names()
    data = {"00000": {"2D_keypoint": []}, "00001": {"2D_keypoint": []},
            "00002": {"2D_keypoint": [[5, [1.0, 2.0]]], names[0]: 7, names[80]: 9},
            "00003": {"2D_keypoint": [[5, [1.5, 2.5]], [6, [3.0, 4.0]], [7, [5.0, 6.0]]]},
            "object_scale": 1.2, "is_static_object": True, "start_frame_index": 2}
    ann = parse_annotations(data, Path("kp.json"), num_frames=10, num_vertices=100, image_size=(20, 30))
    assert (ann.start, ann.end, ann.static, ann.object_scale, ann.legacy) == (2, 4, True, 1.2, False)
    assert ann.contact_vertex[0, 0] == 7 and ann.contact_vertex[0, 80] == 9 and ann.contact_vertex[1].max() == -1
    assert ann.track_vertex.shape == (2, 3) and np.isnan(ann.track_xy[0, 1]).all()
    np.testing.assert_array_equal(ann.dof(), [8, 6])
    back = to_json(ann.contact_vertex, ann.track_vertex, ann.track_xy, start=2, object_scale=1.2, static=True)
    assert back["00002"] == data["00002"] and back["00000"] == {"2D_keypoint": []}
    data.pop("start_frame_index")  # default: first annotated frame
    assert parse_annotations(data, Path("kp.json"), num_frames=10, num_vertices=100, image_size=(20, 30)).start == 2
    with pytest.raises(InputError, match="1 frame\\(s\\) have DoF < 6 .*: 00003 \\(DoF 0\\)"):
        parse_annotations({**data, "00003": {"2D_keypoint": []}}, Path("kp.json"), num_frames=10,
                          num_vertices=100, image_size=(20, 30))
    ann = parse_annotations(data, Path("kp.json"), num_frames=10, num_vertices=100, image_size=(20, 30),
                            drop_last_frame=True)
    assert (ann.start, ann.end) == (2, 3)


def test_read_obj_polygons_negative_indices_colours(tmp_path):
    p = tmp_path / "m.obj"
    p.write_text("v 0 0 0 1 0 0\nv 1 0 0 0 1 0\nv 1 1 0 0 0 1\nv 0 1 0 1 1 1\nvt 0 0\nf 1/1 2/1 3/1 4/1\nf -4 -2 -1\n")
    v, f, c = sio.read_obj(p)
    assert v.shape == (4, 3) and c.shape == (4, 3)
    np.testing.assert_array_equal(f, [[0, 1, 2], [0, 2, 3], [0, 2, 3]])


# ---- missing files and the real demo -----------------------------------------------------------------------------
def test_missing_files_empty_folder(tmp_path):
    assert missing_files(tmp_path) == ["video.mp4", "obj_org.obj", "output/obj_poses.json or align/obj_poses.json",
                                       "motion/result_hand.pt or motion/result.pt", "kp_record_merged.json"]
    with pytest.raises(InputError, match="session folder not found"):
        locate(tmp_path / "nope")


def test_spear_example_reports_missing(spear_dir, capsys):
    files = locate(spear_dir)
    assert files.layout == "B"
    assert files.missing == ["motion/result_hand.pt or motion/result.pt", "kp_record_merged.json"]
    msg = describe_missing(files)
    assert "42 frames 576x1024" in msg and "7454 vertices 14900 faces" in msg and "\n" not in msg
    info = sio.read_video_info(files.video)
    assert (info.num_frames, info.height, info.width) == (42, 1024, 576)
    from hoi_sim.recon.ingest import load_mesh, read_obj_poses

    scale, center, rot = read_obj_poses(files.obj_poses, info.num_frames)
    assert scale == pytest.approx(1.6547, abs=1e-3) and center.shape == (42, 3) and rot is None
    mesh = load_mesh(files.mesh, scale, 1.0)
    assert mesh.num_vertices == 7454 and mesh.colors is not None
    assert np.abs(mesh.vertices.mean(0)).max() < 1e-9
    from hoi_sim.recon.ingest import read_partial

    part = read_partial(spear_dir)
    assert part.problems == [] and part.mesh.num_vertices == 7454 and part.video.fps == pytest.approx(30.0)
    np.testing.assert_allclose(part.obj_center[17], [-0.2127, -0.2010, 3.7452], atol=1e-4)
    assert cli.main(["solve", str(spear_dir)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is missing: motion/result_hand.pt or motion/result.pt, kp_record_merged.json" in err[0]


# ---- output files ------------------------------------------------------------------------------------------------
def _sequence(sessions) -> HOISequence:
    return load_sequence(sessions["B"] / "ground_truth.npz")


def test_sequence_roundtrip_and_rejects(sessions, tmp_path):
    seq = _sequence(sessions)
    assert seq.num_frames == 6 and seq.cam_to_world.shape == (6, 4, 4) and seq.meta["world_up"] == "z"
    p = save_sequence(seq, tmp_path / "seq.npz")
    back = load_sequence(p)
    for k in ("obj_R", "obj_t", "contact_vertex", "K", "obj_faces"):
        np.testing.assert_array_equal(getattr(back, k), getattr(seq, k))
    np.testing.assert_array_equal(back.human.body_pose, seq.human.body_pose)
    np.savez(tmp_path / "other.npz", meta=np.array(json.dumps({"kind": "hoi_motion", "schema_version": 1})))
    with pytest.raises(InputError, match="kind is 'hoi_motion'"):
        load_sequence(tmp_path / "other.npz")
    seq.obj_t[1, 0] = np.nan
    with pytest.raises(InputError, match="obj_t has non-finite"):
        save_sequence(seq, tmp_path / "bad.npz")
    assert not (tmp_path / "bad.npz").exists()


def test_all_parameters_roundtrip(sessions, tmp_path):
    seq = _sequence(sessions)
    kp = json.loads((sessions["B"] / "kp_record_merged.json").read_text())
    path = write_all_parameters(seq, tmp_path / "final_optimized_parameters", kp_records=kp, stamp="20250101_000000")
    doc = json.loads(path.read_text())
    assert doc["metadata"]["frame_range"] == {"start": 0, "end": 6}
    assert len(doc["human_params_raw"]["left_hand_pose"]["0"]) == 1  # nested (1, 45) as the app writes it
    assert len(doc["human_params_raw"]["body_pose"]["5"]) == 63
    assert len(doc["smpl_params_incam_subset"]["transl"]) == 6
    assert newest_all_parameters(tmp_path) == path
    back = read_all_parameters(path, seq.obj_vertices, seq.obj_faces)
    np.testing.assert_allclose(back.obj_R, seq.obj_R)
    np.testing.assert_allclose(back.obj_t, seq.obj_t)
    np.testing.assert_allclose(back.human.right_hand_pose, seq.human.right_hand_pose)
    np.testing.assert_array_equal(back.contact_vertex, seq.contact_vertex)


# ---- hands (release A) -------------------------------------------------------------------------------------------
def test_elbow_global_rotation_matches_body_model(sessions):
    from hoi_sim.body.base import BodyParams
    from hoi_sim.body.proxy import ProxyBody
    from hoi_sim.recon.hands import joint_global_rotation
    from hoi_sim.skeleton import BODY_INDEX

    p = _sequence(sessions).human
    out = ProxyBody(dtype=torch.float64)(BodyParams.from_numpy(p, dtype=torch.float64))
    for joint, body in ((18, "L_Elbow"), (21, "R_Wrist")):
        R = joint_global_rotation(p.global_orient[3], p.body_pose[3], joint)
        np.testing.assert_allclose(R, out.body_rot[3, BODY_INDEX[body]].numpy(), atol=1e-9)
