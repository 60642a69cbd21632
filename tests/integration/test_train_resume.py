"""SIGKILL a training run, resume it: the epoch counter, optimizer state and observation normaliser continue
from the last checkpoint and progress.csv holds each epoch once; a run folder is never overwritten without
``train.resume``, and never trained into by two processes at once."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hoi_sim.cli import main

TRAIN = ["env=test", "train=cpu_small", "num_envs=4", "train.units=[32]", "train.horizon_length=8",
         "train.minibatch_size=16", "train.mini_epochs=2", "train.save_every=1", "train.progress_every=0", "seed=3"]
BATCH = 4 * 8  # num_envs × horizon
UPDATES = 2 * (BATCH // 16)  # mini_epochs × minibatches per epoch
SEEN = 2 * BATCH  # observations the normaliser absorbs per epoch (rl-games updates it in every mini-epoch)


@pytest.fixture(scope="module")
def toy_clip(tmp_path_factory) -> Path:
    from hoi_sim.envs.toy import toy_motion
    from hoi_sim.motions import save_motion

    return save_motion(toy_motion(40, seed=1), tmp_path_factory.mktemp("clip") / "toy.npz")


def _state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _adam_step(state: dict) -> int:
    steps = {int(s["step"]) for s in state["optimizer"]["state"].values()}
    assert len(steps) == 1, steps
    return steps.pop()


def _rms(state: dict) -> tuple[float, torch.Tensor]:
    m = state["model"]
    key = next(k for k in m if k.endswith("running_mean_std.count"))
    return float(m[key]), m[key.replace("count", "running_mean")].clone()


def test_kill_and_resume(toy_clip: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "hoi_sim.cli", "train", f"motions={toy_clip}", f"out={run}",
           "train.max_epochs=100000", *TRAIN]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 150
        while not (run / "nn" / "ep_3.pth").exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "training did not reach epoch 3"
            time.sleep(0.2)
        # a second training into the folder of a running one is refused (the run folder is locked)
        capsys.readouterr()
        assert main(["train", f"motions={toy_clip}", f"out={run}", "train.resume=auto", *TRAIN]) == 1
        assert "locked by a running training" in capsys.readouterr().err
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    last = run / "nn" / "last.pth"
    before = _state(last)
    epoch, frame = int(before["epoch"]), int(before["frame"])
    assert epoch >= 3 and frame == epoch * BATCH
    step0 = _adam_step(before)
    assert step0 == epoch * UPDATES
    count0, mean0 = _rms(before)
    assert count0 == pytest.approx(1 + epoch * SEEN)  # RunningMeanStd starts with count 1

    # the run folder is not overwritten by a fresh start
    assert main(["train", f"motions={toy_clip}", f"out={run}", "train.max_epochs=1", *TRAIN]) == 1

    rc = main(["train", f"motions={toy_clip}", f"out={run}", f"train.resume={run}",
               f"train.max_epochs={epoch + 1}", *TRAIN])
    assert rc == 0
    after = _state(last)
    assert int(after["epoch"]) == epoch + 1
    assert int(after["frame"]) == frame + BATCH
    assert _adam_step(after) == step0 + UPDATES  # optimizer state carried over, not restarted
    count1, mean1 = _rms(after)
    assert count1 == pytest.approx(count0 + SEEN)  # normaliser statistics carried over
    assert not torch.allclose(mean0, mean1)
    epochs = [int(r["epoch"]) for r in csv.DictReader((run / "progress.csv").open())]
    assert epochs == list(range(1, epoch + 2))  # each epoch once: the dead run's rows past its checkpoint are gone
    sessions = json.loads((run / "nn" / "provenance.json").read_text())
    assert [s["epoch"] for s in sessions] == [0, epoch]  # the killed session and the resume; refused ones left none
