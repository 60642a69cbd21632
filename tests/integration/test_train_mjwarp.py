"""``hoi-sim train sim=mjwarp`` and ``hoi-sim eval`` of its checkpoint, unchanged code paths, on Warp's CPU device.

Tiny: 2 envs, 2 PPO epochs of 8 control steps, a 40-frame synthetic clip with a box object (bounding-box collider),
then a 10-step evaluation. The Warp kernel cache makes this a few seconds of set-up after the first run.
"""

from __future__ import annotations

import json
from pathlib import Path

import mujoco_warp  # noqa: E402,F401  (a dev dependency: missing is a set-up failure, not a skip)
import pytest
import torch
import yaml

from hoi_sim.cli import main  # noqa: E402
from hoi_sim.envs.toy import toy_motion  # noqa: E402
from hoi_sim.motions.io import save_motion  # noqa: E402

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              pytest.mark.xdist_group("warp")]  # one worker compiles and uses the Warp kernel cache


def test_train_and_eval_with_mjwarp(tmp_path: Path) -> None:
    clip = save_motion(toy_motion(40, seed=0, name="toy_box"), tmp_path / "toy_box.npz")
    run = tmp_path / "run"
    rc = main(["train", f"motions={clip}", "sim=mjwarp", "num_envs=2", "train=cpu_small", "train.max_epochs=2",
               "train.horizon_length=8", "train.minibatch_size=16", "train.save_every=1",
               "env.backend_kwargs.object_collision=bbox", f"out={run}"])
    assert rc == 0
    resolved = yaml.safe_load((run / "nn" / "config.yaml").read_text())
    assert resolved["sim"]["backend"] == "mjwarp"
    assert (run / "nn" / "last.pth").is_file()
    state = torch.load(run / "nn" / "last.pth", map_location="cpu", weights_only=True)
    assert int(state["epoch"]) == 2

    out = tmp_path / "eval"
    rc = main(["eval", f"checkpoint={run}", f"motions={clip}", f"out={out}", "eval.max_steps=10",
               "eval.max_envs=2"])
    assert rc == 0
    report = json.loads((out / "report.json").read_text())
    assert report  # one row per reward setting (+ the reference baseline)
