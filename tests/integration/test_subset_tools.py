"""``hoi-sim manifest`` and ``hoi-sim subsets`` on a folder and on YAML and CSV manifests, and ``hoi-sim replay``
rows of a mixed batch (issue 12, items 4 and 5), on toy clips written here: two skeletons (neutral and a 1.25×
body) and two meshes under one object name. The .pt part skips without ../shared."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hoi_sim.cli import main
from hoi_sim.envs.toy import toy_motion
from hoi_sim.motions import save_motion
from hoi_sim.motions.manifest import read_manifest

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FRAMES = 12
SCALED = ("root_pos", "body_pos", "obj_pos", "skeleton_offsets", "root_lin_vel", "body_lin_vel", "obj_lin_vel",
          "obj_vertices", "ig_obj_point")


def _big(name: str):
    """A toy clip on a 1.25× skeleton with a 1.25× box (still named 'box'): another subject, another object."""
    m = toy_motion(FRAMES, seed=1, name=name)
    for field in SCALED:
        setattr(m, field, getattr(m, field) * np.float32(1.25))
    m.meta["subject"] = "big"
    return m


@pytest.fixture(scope="module")
def clips_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    save_motion(toy_motion(FRAMES, seed=1, name="carry_a"), d / "carry_a.npz")
    save_motion(_big("carry_big"), d / "carry_big.npz")
    push = toy_motion(FRAMES, seed=2, name="push_a")
    push.meta["action"] = "push"
    save_motion(push, d / "push_a.npz")
    return d


def _subsets(path, tmp_path, capsys) -> dict:
    out = tmp_path / f"subsets_{path.name}.json"
    assert main(["subsets", str(path), "--json", str(out), "--force"]) == 0
    capsys.readouterr()
    return {s["action"]: s for s in json.loads(out.read_text())["subsets"]}


def test_manifest_from_folder_labels_from_meta(clips_dir, tmp_path, capsys) -> None:
    for name in ("m.yaml", "m.csv"):
        out = clips_dir / name  # inside the folder: relative paths
        assert main(["manifest", str(clips_dir), "-o", str(out)]) == 0
        assert "3 clip(s); actions: carry (2), push (1)" in capsys.readouterr().out
        clips = {c.name: c for c in read_manifest(out)}
        assert set(clips) == {"carry_a", "carry_big", "push_a"}
        assert (clips["carry_big"].action, clips["carry_big"].subject, clips["carry_big"].object) == \
            ("carry", "big", "box")
        assert clips["push_a"].action == "push" and clips["push_a"].path == clips_dir / "push_a.npz"
        assert "carry_a.npz" in out.read_text() and str(clips_dir) not in out.read_text()
        out.unlink()
    elsewhere = tmp_path / "sub" / "all.csv"  # outside the folder: absolute paths; --action relabels every clip
    assert main(["manifest", str(clips_dir), "-o", str(elsewhere), "--action", "lift"]) == 0
    assert str(clips_dir / "carry_a.npz") in elsewhere.read_text()
    assert {c.action for c in read_manifest(elsewhere)} == {"lift"}
    assert main(["manifest", str(clips_dir), "-o", str(elsewhere)]) == 1  # exists, no --force
    assert "exists; pass --force" in capsys.readouterr().err
    assert list(elsewhere.parent.iterdir()) == [elsewhere]  # no temp file left beside it


def test_subsets_agree_on_folder_yaml_and_csv(clips_dir, tmp_path, capsys) -> None:
    yml, csv_ = tmp_path / "m.yaml", tmp_path / "m.csv"
    for out in (yml, csv_):
        assert main(["manifest", str(clips_dir), "-o", str(out)]) == 0
    views = [_subsets(p, tmp_path, capsys) for p in (clips_dir, yml, csv_)]
    assert views[0] == views[1] == views[2]
    s = views[0]
    assert list(s) == ["carry", "push", "(all)"]
    carry = s["carry"]
    assert sorted(carry["clips"]) == ["carry_a", "carry_big"]
    assert len(carry["objects"]) == 2 and all(o.startswith("box#") for o in carry["objects"])  # by mesh, not name
    assert sorted(carry["subjects"]) == ["big", "toy"] and len(carry["skeletons"]) == 2
    assert carry["seconds"] == pytest.approx(2 * (FRAMES - 1) / 30.0)
    assert len(s["push"]["objects"]) == 1 and len(s["push"]["skeletons"]) == 1
    assert len(s["(all)"]["clips"]) == 3 and len(s["(all)"]["objects"]) == 2 and len(s["(all)"]["skeletons"]) == 2
    main(["subsets", str(yml)])
    table = capsys.readouterr().out
    assert "carry | 2 | 0.7 | 2: box, box | 2: toy, big | 2" in table


def test_bad_inputs_are_one_line_errors(clips_dir, tmp_path, capsys) -> None:
    assert main(["subsets", str(tmp_path / "missing")]) == 1
    assert "missing: no such file or folder" in capsys.readouterr().err
    assert main(["manifest", str(tmp_path / "missing"), "-o", str(tmp_path / "m.yaml")]) == 1
    assert "missing: no such file or folder" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.npz").write_bytes(b"not a zip file")
    for argv in (["manifest", str(bad), "-o", str(tmp_path / "b.yaml")], ["subsets", str(bad)],
                 ["replay", str(bad)]):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert "broken.npz" in err and "Traceback" not in err, err
    assert not (tmp_path / "b.yaml").exists()
    assert main(["manifest", str(clips_dir), "-o", str(tmp_path / "m.txt")]) == 1
    assert ".yaml/.yml/.csv" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["subsets", str(empty)]) == 1
    assert "holds no motion files" in capsys.readouterr().err


def test_replay_rows_carry_env_batch_and_assets(clips_dir, tmp_path, capsys) -> None:
    manifest = tmp_path / "m.yaml"
    assert main(["manifest", str(clips_dir), "-o", str(manifest)]) == 0
    out = tmp_path / "replay.json"
    argv = ["replay", str(manifest), "--max-seconds", "0.2", "--collision", "convex_hull", "--no-fix-penetration",
            "--json", str(out)]
    assert main(argv) == 0
    rows = {r["clip"]: r for r in json.loads(out.read_text())["rows"]}
    assert [rows[c]["env"] for c in ("carry_a", "carry_big", "push_a")] == [0, 1, 2]
    assert {r["batch"] for r in rows.values()} == {0}  # one batch
    for r in rows.values():
        assert r["object"]["name"] == "box" and len(r["object"]["hash"]) == 12 and len(r["skeleton"]) == 12
        assert 0.0 <= r["reset_error_mm"] <= 1.0, r  # each env on its own clip's skeleton
        assert r["pd_steps"] == 6 and r["frames_survived"] >= 1
    a, big, push = rows["carry_a"], rows["carry_big"], rows["push_a"]
    assert big["skeleton"] != a["skeleton"] == push["skeleton"]
    assert big["object"]["hash"] != a["object"]["hash"] == push["object"]["hash"]
    assert "largest reset error" in capsys.readouterr().out
    assert main([*argv, "--force", "--max-envs", "2", "--subset", "carry", "--mode", "kinematic"]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["clip"], r["env"], r["batch"]) for r in rows] == [("carry_a", 0, 0), ("carry_big", 1, 0)]
    assert all(r["reset_error_mm"] <= 1.0 and r["kin_frames"] == 7 for r in rows)


@pytest.mark.shared_data
def test_manifest_labels_pt_clips_from_their_names(omomo_dir, tmp_path, capsys) -> None:
    sub8 = omomo_dir.parent / "OMOMO_retarget_sub8"
    if not sub8.is_dir():
        pytest.skip(f"needs {sub8} (../shared data is not beside this checkout)")
    out = tmp_path / "sub8.csv"
    assert main(["manifest", str(sub8), "-o", str(out), "--no-check"]) == 0
    assert "pass --action LABEL" in capsys.readouterr().out  # .pt names carry no action
    clips = read_manifest(out)
    assert len(clips) == 6 and {(c.subject, c.object, c.action) for c in clips} == {("sub8", "plasticbox", None)}
    s = _subsets(out, tmp_path, capsys)
    assert list(s) == ["(none)", "(all)"] and len(s["(all)"]["skeletons"]) == 1
    assert [o.split("#")[0] for o in s["(all)"]["objects"]] == ["plasticbox"] and s["(all)"]["seconds"] > 10
