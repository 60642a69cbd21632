"""``hoi-sim convert`` / ``hoi-sim validate``: files and folders, output naming, progress, failures, the
converter hook."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from hoi_sim.cli import main
from hoi_sim.commands import convert as convert_cmd
from hoi_sim.motions import load_motion, save_motion
from hoi_sim.motions.intermimic import USED_COLUMNS, read_tensor
from hoi_sim.motions.synthetic import synthetic_motion


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_help_lists_options(capsys):
    with pytest.raises(SystemExit) as info:
        main(["convert", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--objects", "--drop-frames", "--recompute-positions", "-o"):
        assert opt in out


def test_synthetic_npz_to_pt_and_back(tmp_path, capsys):
    m = synthetic_motion(num_frames=20, seed=5)
    src = save_motion(m, tmp_path / "sub1_box_000.npz")
    rc, out, _ = _run(capsys, "convert", str(src), "-o", str(tmp_path / "pt") + "/")
    assert rc == 0 and "20 frames" in out
    pt = tmp_path / "pt" / "sub1_box_000.pt"
    tensor = torch.load(pt, weights_only=True)
    assert tensor.shape == (20, 591) and tensor.dtype == torch.float32
    objects = tmp_path / "objects"
    objects.mkdir()
    import trimesh

    trimesh.Trimesh(m.obj_vertices, m.obj_faces).export(objects / "box.obj")
    # a format round trip: convert keeps the clip exactly by default (no --ground)
    rc, out, _ = _run(capsys, "convert", str(pt), "-o", str(tmp_path / "back.npz"), "--objects", str(objects))
    assert rc == 0, out
    back = load_motion(tmp_path / "back.npz")
    np.testing.assert_allclose(back.dof_pos, m.dof_pos, atol=1e-5)
    np.testing.assert_allclose(back.body_pos, m.body_pos, atol=1e-6)
    np.testing.assert_allclose(back.skeleton_offsets, m.skeleton_offsets, atol=1e-5)
    np.testing.assert_array_equal(back.ig_body, m.ig_body)
    assert _run(capsys, "validate", str(tmp_path / "back.npz"), str(src))[0] == 0


def test_wrong_output_suffix_and_missing_source(tmp_path, capsys):
    src = save_motion(synthetic_motion(num_frames=8), tmp_path / "a.npz")
    rc, _, err = _run(capsys, "convert", str(src), "-o", str(tmp_path / "a.npz2"))
    assert rc == 1 and "converts to .pt" in err
    rc, _, err = _run(capsys, "convert", str(tmp_path / "nope.pt"), "-o", str(tmp_path / "x.npz"))
    assert rc == 1 and "no such file" in err and "Traceback" not in err


def test_folder_with_a_bad_file_converts_the_rest_and_fails(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    for seed in range(2):
        save_motion(synthetic_motion(num_frames=10, seed=seed), src / f"clip{seed}.npz")
    (src / "broken.npz").write_bytes(b"not a zip")
    rc, out, err = _run(capsys, "convert", str(src), "-o", str(tmp_path / "dst"))
    assert rc == 1
    assert "[1/3] FAILED" in err and "broken.npz" in err and "1 of 3 file(s) failed" in err
    assert "[2/3]" in out and "[3/3]" in out
    assert sorted(p.name for p in (tmp_path / "dst").iterdir()) == ["clip0.pt", "clip1.pt"]


def test_validate_reports_every_bad_file(tmp_path, capsys):
    good = save_motion(synthetic_motion(num_frames=10), tmp_path / "good.npz")
    m = synthetic_motion(num_frames=10)
    m.body_quat[2, 5] = 0.0
    bad = save_motion(m, tmp_path / "bad.npz")
    rc, out, err = _run(capsys, "validate", str(good), str(bad))
    assert rc == 1 and f"ok   {good}" in out
    assert f"FAIL {bad}: array 'body_quat' frame 2 body 'R_Hip': quaternion norm 0.0000" in err
    rc, _, err = _run(capsys, "validate", str(tmp_path / "missing.npz"))
    assert rc == 1 and "no such file" in err


def test_converter_hook_dispatches_on_meta_kind(tmp_path, capsys, monkeypatch):
    src = tmp_path / "thing.npz"
    np.savez(src, meta=np.asarray(json.dumps({"kind": "some_future_kind"})), x=np.zeros(3))
    rc, _, err = _run(capsys, "convert", str(src), "-o", str(tmp_path / "thing.pt"))
    assert rc == 1 and "no converter" in err and "'some_future_kind'" in err
    seq = tmp_path / "seq.npz"
    np.savez(seq, meta=np.asarray(json.dumps({"kind": "hoi_sequence"})), x=np.zeros(3))
    rc, _, err = _run(capsys, "convert", str(seq), "-o", str(tmp_path / "seq.pt"))
    assert rc == 1 and "converts to .npz" in err  # solver outputs only retarget to HOIMotion
    seen = []

    def fake(s, d, args):
        seen.append((s, d))
        d.write_text("ok")
        return "converted"

    monkeypatch.setattr(convert_cmd, "CONVERTERS", list(convert_cmd.CONVERTERS))
    convert_cmd.register_converter(convert_cmd.Converter(
        "future", (".npz",), lambda p: convert_cmd._npz_kind(p) == "some_future_kind", ".npz", fake))
    rc, out, _ = _run(capsys, "convert", str(src), "-o", str(tmp_path / "motion.npz"))
    assert rc == 0 and "converted" in out and seen == [(src, tmp_path / "motion.npz")]


@pytest.mark.shared_data
def test_single_real_clip_both_ways(tmp_path, omomo_dir, objects_dir, capsys):
    clip = omomo_dir / "sub2_largetable_010.pt"
    assert objects_dir == omomo_dir.parent / "objects"  # found without --objects: a folder beside the clips
    rc, out, _ = _run(capsys, "convert", str(clip), "-o", str(tmp_path))
    assert rc == 0 and "154 frames" in out and "FK error" in out
    rc, _, _ = _run(capsys, "convert", str(tmp_path / "sub2_largetable_010.npz"), "-o", str(tmp_path / "r.pt"))
    assert rc == 0
    err = np.abs(read_tensor(tmp_path / "r.pt")[:, USED_COLUMNS] - read_tensor(clip)[:, USED_COLUMNS]).max()
    assert err < 1e-5
    assert _run(capsys, "validate", str(clip))[0] == 0
