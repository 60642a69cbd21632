"""The periodic evaluation of training on a real tiny MuJoCo env (``env=test``, toy clips): the running model's
deterministic rollout of every clip from frame 0 (train mode and input normaliser untouched), and a tiny training
whose ``progress.csv`` carries the episode and evaluation columns, which ``hoi-sim plot`` draws."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

from hoi_sim.cli import main

TINY = ["env=test", "train=cpu_small", "num_envs=2", "train.units=[16]", "train.horizon_length=4",
        "train.minibatch_size=8", "train.mini_epochs=1", "train.progress_every=1", "seed=1"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    from hoi_sim.envs.toy import toy_motion
    from hoi_sim.motions import save_motion

    root = tmp_path_factory.mktemp("clips")
    save_motion(toy_motion(12, seed=0, name="short"), root / "short.npz")
    save_motion(toy_motion(20, seed=1, name="long"), root / "long.npz")
    return root


def test_periodic_eval_on_running_model(clips: Path, tmp_path: Path) -> None:
    from hoi_sim.commands.hydra_config import compose
    from hoi_sim.eval.periodic import PeriodicEval
    from hoi_sim.eval.policy import build_model
    from hoi_sim.train.job import build_library, clips_of, job_from_config

    cfg = compose([f"motions={clips}", *TINY, f"out={tmp_path / 'run'}"])
    cfg.pop("eval")
    cfg.pop("checkpoint")
    job = job_from_config(cfg)
    library = build_library(clips_of(job), None, "cpu")
    with PeriodicEval(job, library) as evaluator:
        env = evaluator.build_env()
        assert env.num_envs == 2 and env.cfg.state_init == "start"
        assert env.cfg.rollout_length == 21
        model = build_model(job, env.num_obs, env.num_actions).train()
        count = next(v for k, v in model.state_dict().items() if k.endswith("running_mean_std.count")).clone()
        first = evaluator(model)
        assert model.training  # mode restored
        count_after = next(v for k, v in model.state_dict().items() if k.endswith("running_mean_std.count"))
        assert torch.equal(count, count_after)  # the normaliser did not absorb the eval observations
        assert set(first) == {"eval_mpjpe_mm", "eval_clip_frac", "eval_success"}
        assert 0.0 < first["eval_mpjpe_mm"] < 2000.0
        assert 0.0 < first["eval_clip_frac"] <= 1.0 and 0.0 <= first["eval_success"] <= 1.0
        assert evaluator.build_env() is env  # built once, reused
        assert evaluator(model.eval()) == pytest.approx(first, nan_ok=True)  # deterministic
        assert not model.training
    assert evaluator.env is None


def test_training_logs_eval_columns_and_plots(clips: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    rc = main(["train", f"motions={clips}", f"out={run}", "train.max_epochs=3", "train.eval_every=2",
               "train.save_every=3", *TINY])
    assert rc == 0
    with (run / "progress.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert rows[0]["eval_mpjpe_mm"] == "" and rows[2]["eval_success"] == ""
    assert float(rows[1]["eval_mpjpe_mm"]) > 0 and 0 < float(rows[1]["eval_clip_frac"]) <= 1
    assert "mean_episode_s" in rows[0] and "mean_episode_clip_frac" in rows[0]
    seconds = [float(r["mean_episode_s"]) for r in rows]
    assert any(not math.isnan(s) for s in seconds)  # 2 envs × 12 steps over clips of 11 and 19 steps
    assert all(math.isnan(s) or 0 < s < 1.0 for s in seconds)
    out = capsys.readouterr().out
    assert " eta " in out and "eval_mpjpe" in out
    assert main(["plot", str(run)]) == 0
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cpu_bf16_autocasts_the_update(clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``train.cpu_bf16`` runs the PPO update's forward passes under CPU bfloat16 autocast (and only then:
    the env steps outside it); the run trains and logs."""
    from hoi_sim.envs.hoi_env import HOIEnv
    from hoi_sim.train.agent import HoiA2CAgent

    seen: dict[str, set] = {"update": set(), "play": set()}
    update, step = HoiA2CAgent.calc_gradients, HOIEnv.step  # calc_gradients: inside train_actor_critic

    def spy_update(self, input_dict):
        seen["update"].add(torch.is_autocast_enabled("cpu"))
        return update(self, input_dict)

    def spy_step(self, actions):
        seen["play"].add(torch.is_autocast_enabled("cpu"))
        return step(self, actions)

    monkeypatch.setattr(HoiA2CAgent, "calc_gradients", spy_update)
    monkeypatch.setattr(HOIEnv, "step", spy_step)
    for bf16 in (True, False):
        seen = {"update": set(), "play": set()}
        run = tmp_path / f"run{bf16}"
        rc = main(["train", f"motions={clips}", f"out={run}", "train.max_epochs=2", "train.save_every=2", *TINY,
                   f"train.cpu_bf16={str(bf16).lower()}"])
        assert rc == 0
        assert seen == {"update": {bf16}, "play": {False}}
        with (run / "progress.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 2 and not any(math.isinf(float(r["mean_reward"])) for r in rows)
