"""Issue 14 §6: the reliability defects, each with a test that failed before its fix."""

from __future__ import annotations

import json
import math

import numpy as np


def _strict_load(text: str):
    def refuse(name: str):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


# --- defect 7: strict JSON ------------------------------------------------------------------------------------------
def test_json_output_is_strict(tmp_path) -> None:
    from hoi_sim.io_utils import dumps_json, write_json_atomic

    data = {"a": float("nan"), "b": [np.float32(1.5), float("inf"), -math.inf], "c": np.arange(2), "d": (1, 2)}
    assert _strict_load(dumps_json(data)) == {"a": None, "b": [1.5, None, None], "c": [0, 1], "d": [1, 2]}
    write_json_atomic(tmp_path / "m.json", {"x": float("inf")})
    assert _strict_load((tmp_path / "m.json").read_text()) == {"x": None}


# --- defect 1: crafted checkpoints ----------------------------------------------------------------------------------
class _Payload:
    """Unpickling this runs code (creates ``marker``): what a crafted checkpoint does with weights_only=False."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def plant_checkpoint(path, marker) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": {}, "optimizer": {}, "epoch": 1, "frame": 1, "evil": _Payload(str(marker))}, path)


def test_crafted_checkpoint_is_refused_by_every_loader(tmp_path) -> None:
    import types

    import pytest

    from hoi_sim.errors import InputError
    from hoi_sim.train.agent import HoiA2CAgent
    from hoi_sim.train.checkpoint import load_checkpoint

    marker = tmp_path / "pwned"
    ckpt = tmp_path / "run" / "nn" / "last.pth"
    plant_checkpoint(ckpt, marker)
    with pytest.raises(InputError, match=r"last\.pth: refused: .*pickled Python objects"):
        load_checkpoint(tmp_path / "run")
    # rl-games' Runner calls agent.restore(path): ours loads with weights_only=True too
    fake = types.SimpleNamespace(preloaded=None, set_full_state_weights=lambda *a, **k: None)
    with pytest.raises(InputError, match="refused"):
        HoiA2CAgent.restore(fake, str(ckpt))
    assert not marker.exists()


def test_package_never_unpickles() -> None:
    from pathlib import Path

    import hoi_sim

    root = Path(hoi_sim.__file__).parent
    hits = [f"{p}:{i}" for p in root.rglob("*.py") for i, line in enumerate(p.read_text().splitlines(), 1)
            if "weights_only=False" in line]
    assert not hits, hits


# --- defect 2: motions validated on load, once per file version ------------------------------------------------------
def _toy_clip(tmp_path, name="clip.npz", frames=20):
    from hoi_sim.envs.toy import toy_motion
    from hoi_sim.motions import save_motion

    return save_motion(toy_motion(frames, seed=1), tmp_path / name)


def test_load_refuses_corrupt_clips_naming_file_and_field(tmp_path) -> None:
    import pytest

    from hoi_sim.envs.toy import toy_motion
    from hoi_sim.motions import save_motion
    from hoi_sim.motions.manifest import load_clip
    from hoi_sim.motions.validate import ValidationError

    def nan_root(m):
        m.root_pos[3, 2] = np.nan

    def huge_dof(m):
        m.dof_pos[5, 7] = 1e30

    def zero_quat(m):
        m.root_quat[1] = 0.0

    def label5(m):
        m.contact_label[4, 20] = 5

    def short(m):
        m.body_pos = m.body_pos[:-2]

    for fn, field in ((nan_root, "root_pos"), (huge_dof, "dof_pos"), (zero_quat, "root_quat"),
                      (label5, "contact_label"), (short, "body_pos")):
        m = toy_motion(20, seed=1)
        fn(m)
        path = save_motion(m, tmp_path / f"{fn.__name__}.npz")
        with pytest.raises(ValidationError) as info:
            load_clip(path, ground=False, fix_penetration=False)
        msg = str(info.value)
        assert "\n" not in msg and str(path) in msg and f"'{field}'" in msg, msg


def test_validation_runs_once_per_file_version(tmp_path, monkeypatch) -> None:
    import os

    from hoi_sim.motions import checked
    from hoi_sim.motions.manifest import check_clips, list_clips

    calls = []
    real = checked.validate_motion
    monkeypatch.setattr(checked, "validate_motion", lambda *a, **k: calls.append(1) or real(*a, **k))
    checked.clear_cache()
    clip = _toy_clip(tmp_path)
    clips = list_clips(clip)
    check_clips(clips)
    check_clips(clips)
    assert len(calls) == 1
    st = clip.stat()
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the file changed: validated again
    check_clips(clips)
    assert len(calls) == 2


def test_empty_schema_version_is_an_input_error(tmp_path) -> None:
    import pytest

    from hoi_sim.errors import InputError
    from hoi_sim.motions import load_motion

    good = _toy_clip(tmp_path)
    with np.load(good) as z:
        data = {k: z[k] for k in z.files}
    data["schema_version"] = np.zeros(0, np.int64)
    np.savez(tmp_path / "bad.npz", **data)
    with pytest.raises(InputError, match="'schema_version'"):
        load_motion(tmp_path / "bad.npz")


# --- defect 4: run-folder lock ---------------------------------------------------------------------------------------
def test_run_lock_refuses_a_second_training_and_takes_over_a_dead_one(tmp_path) -> None:
    import subprocess
    import sys

    import pytest

    from hoi_sim.errors import InputError
    from hoi_sim.train.run_folder import LOCK_NAME, ensure_unlocked, run_lock

    run = tmp_path / "run"
    with run_lock(run):
        with pytest.raises(InputError, match=r"locked by a running training \(pid \d+"):
            ensure_unlocked(run)
        with pytest.raises(InputError, match="locked"), run_lock(run):
            pass
    # a dead training's lock file (its pid is gone, so is its flock) is taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run / LOCK_NAME).write_text(f"{dead.stdout.strip()} somehost\n")
    ensure_unlocked(run)
    with run_lock(run) as lock:
        assert lock.read_text().split()[0] == str(__import__("os").getpid())


# --- defect 5: resume rolls progress.csv back ----------------------------------------------------------------------
def _progress(run, epochs):
    run.mkdir(parents=True, exist_ok=True)
    rows = ["epoch,frames,mean_reward"] + [f"{e},{8 * e},0.5" for e in epochs]
    (run / "progress.csv").write_text("\r\n".join(rows) + "\r\n4")  # + a torn last line of a killed run


def test_truncate_progress(tmp_path) -> None:
    import csv

    from hoi_sim.train.run_folder import truncate_progress

    _progress(tmp_path, range(1, 6))
    assert truncate_progress(tmp_path, 3) == 3
    rows = list(csv.DictReader((tmp_path / "progress.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3] and rows[0]["frames"] == "8"


def test_resumed_training_rolls_progress_back_under_the_lock(tmp_path, monkeypatch) -> None:
    """train(): lock taken, checkpoint read safely, progress.csv cut to the restored epoch, before any physics."""
    import csv

    import torch

    from hoi_sim.commands.hydra_config import compose
    from hoi_sim.train import runner
    from hoi_sim.train.job import job_from_config
    from hoi_sim.train.run_folder import ensure_unlocked

    clip = _toy_clip(tmp_path)
    run = tmp_path / "run"
    _progress(run, range(1, 8))
    (run / "nn").mkdir()
    torch.save({"model": {"w": torch.zeros(2)}, "optimizer": {}, "epoch": 4, "frame": 32}, run / "nn" / "last.pth")
    seen = {}

    def fake_train(job, run_, clips, ckpt, resumed, make_evaluator=None):
        seen.update(epoch=resumed["epoch"], ckpt=ckpt,
                    epochs=[int(r["epoch"]) for r in csv.DictReader((run_ / "progress.csv").open())])
        try:
            ensure_unlocked(run_)
        except Exception as exc:  # noqa: BLE001
            seen["locked"] = str(exc)
        raise SystemExit(0)

    monkeypatch.setattr(runner, "_train", fake_train)
    cfg = compose([f"motions={clip}", f"out={run}", "train.resume=auto", "env=test", "num_envs=2"])
    try:
        runner.train(job_from_config(cfg))
    except SystemExit:
        pass
    assert seen["epoch"] == 4 and seen["ckpt"] == run / "nn" / "last.pth"
    assert seen["epochs"] == [1, 2, 3, 4]
    assert "locked" in seen["locked"]
    ensure_unlocked(run)  # released afterwards


# --- defect 6: numeric ranges ----------------------------------------------------------------------------------------
def test_numeric_settings_have_ranges() -> None:
    import pytest

    from hoi_sim.commands.hydra_config import compose
    from hoi_sim.config_mapping import from_mapping
    from hoi_sim.errors import InputError
    from hoi_sim.eval.evaluate import EvalConfig
    from hoi_sim.train.job import job_from_config

    for override, message in (("train.max_epochs=-1", "train.max_epochs: must be ≥ 1"),
                              ("train.max_epochs=0", "train.max_epochs: must be ≥ 1"),
                              ("num_envs=abc", "num_envs: Value 'abc' of type 'str' could not be converted to Integer"),
                              ("num_envs=0", "num_envs: must be ≥ 1"),
                              ("train.gamma=1.5", "train.gamma: must be ≤ 1"),
                              ("train.learning_rate=0", "train.learning_rate: must be > 0"),
                              ("motions.ground=maybe", "motions.ground: Value 'maybe' is not a valid bool")):
        with pytest.raises(InputError, match=message):
            job_from_config(compose(["motions=x.npz", override]))
    assert job_from_config(compose(["motions=x.npz", "train.max_epochs=1", "num_envs=1"])).ppo.max_epochs == 1
    with pytest.raises(InputError, match="eval.max_envs: must be ≥ 1"):
        from_mapping(EvalConfig, {"max_envs": 0}, "eval")


# --- defect 7: ingest magnitudes, solver outputs staged ------------------------------------------------------------
def test_ingest_refuses_absurd_magnitudes(tmp_path) -> None:
    import pytest

    from hoi_sim.errors import InputError
    from hoi_sim.recon.ingest import read_obj_poses

    path = tmp_path / "obj_poses.json"
    for doc, field in (({"scale": 1.0, "t": [1e300, 0, 0]}, "'t'"), ({"scale": 1e300, "t": [0, 0, 1]}, "'scale'"),
                       ({"center": [[0, 0, 1], [0, 1e300, 1]]}, "'center'")):
        path.write_text(__import__("json").dumps(doc))
        with pytest.raises(InputError, match=field):
            read_obj_poses(path, 2)


def test_solver_outputs_appear_all_or_nothing(tmp_path, monkeypatch) -> None:
    """A failure (or a kill) after the first output was written leaves nothing in the output folder."""
    import types

    import pytest

    from hoi_sim.commands import solve
    from hoi_sim.recon import sequence

    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text("{\"old\": 1}")
    written = []
    monkeypatch.setattr(sequence, "save_sequence", lambda seq, p: written.append(p) or p.write_text("npz"))

    def boom(*a, **k):
        raise RuntimeError("killed half way")

    monkeypatch.setattr(sequence, "write_all_parameters", boom)
    files = types.SimpleNamespace(annotations=tmp_path / "kp.json", mesh=tmp_path / "m.obj")
    files.annotations.write_text("{}")
    with pytest.raises(RuntimeError):
        solve._write_outputs(out, object(), types.SimpleNamespace(object=types.SimpleNamespace(user_scale=1.0),
                                                                  human_global=None), files, None, {"x": 1.0})
    assert written and sorted(p.name for p in out.iterdir()) == ["metrics.json"]
    assert (out / "metrics.json").read_text() == "{\"old\": 1}"


# --- defect 8: one line, --debug for the traceback -------------------------------------------------------------------
def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(monkeypatch, capsys) -> None:
    import pytest

    from hoi_sim import cli
    from hoi_sim.commands import validate

    def boom(args):
        raise ValueError("first line\nsecond line")

    monkeypatch.setattr(validate, "run", boom)
    monkeypatch.delenv("HOI_SIM_DEBUG", raising=False)
    assert cli.main(["validate", "x.npz"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "first line" in err and "second line" not in err
    with pytest.raises(ValueError):
        cli.main(["--debug", "validate", "x.npz"])
    assert "HOI_SIM_DEBUG" not in __import__("os").environ


# --- defect 3 (issue 12): mixed skeletons and mass modes train on mujoco and mujoco-warp ------------------------------
def test_training_mixes_skeletons_and_mass_modes(tmp_path) -> None:
    from hoi_sim.envs.toy import toy_motion
    from hoi_sim.motions import save_motion, validate_motion
    from hoi_sim.motions.manifest import ClipEntry
    from hoi_sim.train.job import build_library

    def entry(m, name):
        return ClipEntry(save_motion(m, tmp_path / f"{name}.npz"), ground=False, fix_penetration=False)

    a = toy_motion(20, seed=1, name="a")
    big = toy_motion(20, seed=1, name="big")  # the same clip on a 1.25× body: still a valid clip
    for name in ("root_pos", "body_pos", "obj_pos", "skeleton_offsets", "root_lin_vel", "body_lin_vel",
                 "obj_lin_vel"):
        setattr(big, name, getattr(big, name) * np.float32(1.25))
    assert validate_motion(big) == []
    lib = build_library([entry(a, "a"), entry(big, "big")], None, "cpu")
    assert lib.num_groups == 2 and lib.clip_group.tolist() == [0, 1]
    # mujoco-warp simulates every group too (tests/integration/test_mjwarp_parity.py)
    assert build_library([entry(a, "a"), entry(big, "big")], None, "cpu", backend="mjwarp").num_groups == 2
    still = toy_motion(20, seed=2, name="still")
    still.meta["mass_mode"] = "static"
    assert build_library([entry(a, "a"), entry(still, "still")], None, "cpu").num_groups == 2
    assert build_library([entry(a, "a"), entry(still, "still")], None, "cpu", backend="mjwarp").num_groups == 2
    assert build_library([entry(a, "a"), entry(toy_motion(20, seed=3, name="b"), "b")], None, "cpu").num_motions == 2


def test_run_lock_without_flock_goes_by_the_pid(tmp_path, monkeypatch) -> None:
    import errno
    import socket
    import subprocess
    import sys

    import pytest

    from hoi_sim.errors import InputError
    from hoi_sim.train import run_folder

    def no_flock(fd, op):
        raise OSError(errno.ENOLCK, "no locks available")

    monkeypatch.setattr(run_folder.fcntl, "flock", no_flock)
    run = tmp_path / "run"
    run.mkdir()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / run_folder.LOCK_NAME).write_text(f"{alive.pid} {socket.gethostname()}\n")
        with pytest.raises(InputError, match=f"pid {alive.pid}"):
            run_folder.ensure_unlocked(run)
    finally:
        alive.kill()
        alive.wait()
    with run_folder.run_lock(run) as lock:  # its process is gone: taken over
        assert lock.read_text().split()[0] == str(__import__("os").getpid())
