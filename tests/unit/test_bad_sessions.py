"""A corpus of crafted bad sessions: each must make ``hoi-sim solve`` exit non-zero with one line naming the problem
(file, field, frame), never a traceback."""

from __future__ import annotations

import datetime
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from hoi_sim import cli

# ---- a good base session (toy clip, tiny image), built once ----------------------------------------------------


@pytest.fixture(scope="module")
def base_sessions(tmp_path_factory) -> dict[str, Path]:
    from hoi_sim.bridge.synth import SynthNoise, make_synthetic_session
    from hoi_sim.bridge.toy import toy_hoi_motion

    motion = toy_hoi_motion(5)
    root = tmp_path_factory.mktemp("bad_sessions_base")
    out = {}
    for layout in ("A", "B"):
        out[layout] = make_synthetic_session(motion, root / layout, image_size=(48, 48), noise=SynthNoise.none(),
                                             layout=layout)
    return out


def _json(path: Path, fn: Callable[[dict], object]) -> None:
    data = json.loads(path.read_text())
    fn(data)  # mutates in place
    path.write_text(json.dumps(data))


def _pt(path: Path, fn: Callable[[dict], object]) -> None:
    data = torch.load(path, weights_only=True)
    fn(data)  # mutates in place
    torch.save(data, path)


def _first_frame(d: dict) -> dict:
    return d["00000"]


def _drop_tracks(d: dict) -> None:
    d["00002"]["2D_keypoint"] = d["00002"]["2D_keypoint"][:1]
    for k in [k for k in d["00002"] if k != "2D_keypoint"]:
        del d["00002"][k]


KP = "kp_record_merged.json"
MOT = "motion/result_hand.pt"
POSES = "output/obj_poses.json"

# (id, layout, mutation(session_dir), expected substrings of the error line)
CASES: list[tuple[str, str, Callable[[Path], None], tuple[str, ...]]] = [
    ("missing_video", "B", lambda s: (s / "video.mp4").unlink(), ("missing", "video.mp4")),
    ("missing_mesh", "B", lambda s: (s / "obj_org.obj").unlink(), ("missing", "obj_org.obj")),
    ("missing_obj_poses", "B", lambda s: (s / POSES).unlink(), ("missing", "obj_poses.json")),
    ("missing_motion", "B", lambda s: (s / MOT).unlink(), ("missing", "result_hand.pt")),
    ("missing_annotations", "B", lambda s: (s / KP).unlink(), ("missing", "kp_record_merged.json")),
    ("bad_json", "B", lambda s: (s / KP).write_text('{"00000": {"2D_keypoint": [}'), (KP, "invalid JSON", "line 1")),
    ("unknown_keypoint", "B", lambda s: _json(s / KP, lambda d: _first_frame(d).update(leftPinkyToe=3)),
     (KP, "unknown keypoint name", "leftPinkyToe", "frame 00000")),
    ("pair_vertex_out_of_range", "B", lambda s: _json(s / KP, lambda d: _first_frame(d).update(Chin=10**6)),
     (KP, "Chin", "out of range", "frame 00000")),
    ("track_vertex_out_of_range", "B",
     lambda s: _json(s / KP, lambda d: _first_frame(d)["2D_keypoint"].append([99999, [3.0, 4.0]])),
     (KP, "2D_keypoint[", "out of range")),
    ("track_malformed", "B", lambda s: _json(s / KP, lambda d: _first_frame(d)["2D_keypoint"].append([1, 2, 3])),
     (KP, "[vertex, [x, y]]")),
    ("track_nan_pixel", "B",
     lambda s: _json(s / KP, lambda d: _first_frame(d)["2D_keypoint"].append([1, [float("nan"), 2.0]])),
     (KP, "not finite")),
    ("vertex_not_int", "B", lambda s: _json(s / KP, lambda d: _first_frame(d).update(Chin="12")), (KP, "integer")),
    ("too_little_dof", "B", lambda s: _json(s / KP, _drop_tracks), (KP, "DoF < 6", "00002 (DoF 2)")),
    ("frame_beyond_video", "B", lambda s: _json(s / KP, lambda d: d.update({"00099": {"2D_keypoint": []}})),
     (KP, "00099", "beyond the video")),
    ("negative_object_scale", "B", lambda s: _json(s / KP, lambda d: d.update(object_scale=-2.0)),
     (KP, "object_scale", "positive")),
    ("static_not_bool", "B", lambda s: _json(s / KP, lambda d: d.update(is_static_object="yes")),
     (KP, "is_static_object")),
    ("bad_start_frame", "B", lambda s: _json(s / KP, lambda d: d.update(start_frame_index=-1)),
     (KP, "start_frame_index")),
    ("deleted_session", "B", lambda s: (s / KP).write_text('{"status": "delete"}'), (KP, "deleted")),
    ("nan_in_motion", "B",
     lambda s: _pt(s / MOT, lambda d: d["smpl_params_incam"]["body_pose"].__setitem__((3, 7), float("nan"))),
     ("result_hand.pt", "smpl_params_incam.body_pose", "not finite at frame 3")),
    ("motion_frame_count", "B",
     lambda s: _pt(s / MOT, lambda d: d["smpl_params_incam"].update(transl=torch.zeros(9, 3))),
     ("result_hand.pt", "smpl_params_incam.transl", "(9, 3)", "video frames: 5")),
    ("motion_missing_incam", "B", lambda s: _pt(s / MOT, lambda d: d.pop("smpl_params_incam")),
     ("result_hand.pt", "smpl_params_incam")),
    ("wrong_K_shape", "B", lambda s: _pt(s / MOT, lambda d: d.update(K_fullimg=torch.eye(4)[None])),
     ("result_hand.pt", "K_fullimg", "(1, 4, 4)")),
    ("motion_not_dict", "B", lambda s: torch.save(torch.zeros(3), s / MOT), ("result_hand.pt", "expected a dict")),
    ("motion_garbage", "B", lambda s: (s / MOT).write_bytes(b"not a torch file"), ("result_hand.pt", "cannot load")),
    ("motion_unsafe_pickle", "B", lambda s: torch.save({"when": datetime.date(2020, 1, 1)}, s / MOT),
     ("result_hand.pt", "weights_only=True")),
    ("empty_mesh", "B", lambda s: (s / "obj_org.obj").write_text("# nothing\n"), ("obj_org.obj", "empty mesh")),
    ("mesh_bad_face", "B", lambda s: (s / "obj_org.obj").open("a").write("f 1 2 99999\n"),
     ("obj_org.obj", "face index out of range")),
    ("negative_scale", "B", lambda s: _json(s / POSES, lambda d: d.update(scale=-1.65)),
     ("obj_poses.json", "'scale'", "negative")),
    ("obj_poses_no_translation", "B", lambda s: _json(s / POSES, lambda d: d.pop("t")), ("obj_poses.json", "'t'")),
    ("obj_poses_bad_t", "B", lambda s: _json(s / POSES, lambda d: d.update(t=[1.0, 2.0])),
     ("obj_poses.json", "field 't'", "shape")),
    ("mask_wrong_size", "B",
     lambda s: __import__("PIL.Image").Image.new("L", (10, 12)).save(s / "mask_dir" / "00001.png"),
     ("00001.png", "mask is 10x12")),
    ("mask_garbage", "B", lambda s: (s / "human_mask_dir" / "00000.png").write_bytes(b"xx"),
     ("00000.png", "not a readable image")),
    ("video_garbage", "B", lambda s: (s / "video.mp4").write_bytes(b"\x00" * 64),
     ("video.mp4", "not a readable video")),
    ("A_center_frame_count", "A", lambda s: _json(s / "align/obj_poses.json", lambda d: d["center"].pop()),
     ("align/obj_poses.json", "'center'", "4 frames", "video has 5")),
    ("A_hand_json_bad", "A",
     lambda s: _json(s / "motion/hand_pose.json", lambda d: d["2"].update(left_hand=[[1, 0], [0, 1]])),
     ("hand_pose.json", "frame 2", "left_hand")),
]


def test_corpus_is_large_enough():
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_session_one_line_error(case, base_sessions, tmp_path, capsys):
    name, layout, mutate, expected = case
    session = tmp_path / name
    shutil.copytree(base_sessions[layout], session)
    mutate(session)
    rc = cli.main(["solve", str(session), "--ingest-only", "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("hoi-sim solve: error: "), err
    assert "Traceback" not in err
    for s in expected:
        assert s in lines[0], f"{s!r} not in {lines[0]!r}"
    assert not (tmp_path / "out" / "hoi_sequence.npz").exists()


def test_base_sessions_are_good(base_sessions, tmp_path, capsys):
    from hoi_sim.recon.ingest import load_session

    assert load_session(base_sessions["A"], load_masks=False).layout == "A"
    session = tmp_path / "B"
    shutil.copytree(base_sessions["B"], session)
    (session / "ground_truth.npz").unlink()  # no scoring here (tests/integration/test_solve_cli.py does that)
    rc = cli.main(["solve", str(session), "--ingest-only", "-o", str(tmp_path / "out")])
    assert rc == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "hoi_sequence.npz").is_file() and not (tmp_path / "out" / "metrics.json").exists()
