"""Motion manifests, subsets, the command-line override rewriting and the PPO → rl-games parameter mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hoi_sim.commands.eval import split_checkpoints
from hoi_sim.commands.hydra_config import compose, normalize_overrides
from hoi_sim.errors import InputError
from hoi_sim.motions.manifest import list_clips, resolve_motions, subsets
from hoi_sim.train.config import PPOConfig, minibatch_for, rlgames_params
from hoi_sim.train.job import job_from_config


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    from hoi_sim.envs.toy import toy_motion
    from hoi_sim.motions import save_motion

    root = tmp_path_factory.mktemp("m")
    for i, action in enumerate(("lift", "lift", "push")):
        m = toy_motion(6, seed=i, name=f"c{i}")
        m.meta["action"] = action
        save_motion(m, root / f"c{i}.npz")
    return root


def test_manifest_yaml_csv_and_subsets(clips: Path) -> None:
    (clips / "m.csv").write_text("path,action,subject,object\nc0.npz,lift,s1,box\nc2.npz,push,s1,box\n")
    (clips / "m.yaml").write_text(yaml.safe_dump({"schema_version": 1, "clips": [
        {"path": str(clips / "c1.npz"), "action": "lift"}, {"path": "c2.npz", "action": "push", "object": "box"}]}))
    csv_clips = list_clips(clips / "m.csv")
    assert [c.name for c in csv_clips] == ["c0", "c2"] and csv_clips[0].subject == "s1"
    assert subsets(list_clips(clips / "m.yaml")) == ["lift", "push"]
    assert [c.name for c in resolve_motions(clips / "m.yaml", "push")] == ["c2"]
    # a folder: labels from the .npz meta
    assert [c.name for c in resolve_motions(clips, "lift")] == ["c0", "c1"]
    with pytest.raises(InputError, match="known actions: \\['lift', 'push'\\]"):
        resolve_motions(clips / "m.csv", "jump")


def test_manifest_errors_name_the_row(clips: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("path,action\nnope.npz,lift\n")
    with pytest.raises(InputError, match="clip 1: .*nope.npz does not exist"):
        list_clips(bad)
    (tmp_path / "nohdr.csv").write_text("c0.npz,lift\n")
    with pytest.raises(InputError, match="'path' column"):
        list_clips(tmp_path / "nohdr.csv")
    (tmp_path / "v2.yaml").write_text("schema_version: 2\nclips: []\n")
    with pytest.raises(InputError, match="schema_version 2"):
        list_clips(tmp_path / "v2.yaml")
    with pytest.raises(InputError, match="no such file"):
        list_clips(tmp_path / "missing.npz")


def test_override_rewriting() -> None:
    assert normalize_overrides(["motions=/a/b c.npz", "motions.subset=lift", "motions=default"]) == [
        "motions.path='/a/b c.npz'", "motions.subset=lift", "motions=default"]
    ck, rest = split_checkpoints(["checkpoint=/r/a.pth,/r/b", "out=x"])
    assert ck == ["/r/a.pth", "/r/b"] and rest == ["out=x"]


def test_composed_config_defaults_are_intermimic() -> None:
    cfg = compose(["motions=/tmp/x.npz", "reward=tr_lr", "sim=mujoco", "num_envs=8", "seed=5", "out=/tmp/o"])
    assert cfg["motions"]["path"] == "/tmp/x.npz" and cfg["reward"]["name"] == "tr_lr"
    cfg.pop("eval")
    cfg.pop("checkpoint")
    job = job_from_config(cfg)
    p = job.ppo
    assert (p.units, p.log_std, p.learn_log_std, p.learning_rate, p.gamma, p.tau, p.e_clip, p.critic_coef,
            p.bounds_loss_coef, p.horizon_length, p.mini_epochs, p.normalize_input, p.normalize_advantage) == (
        [1024, 1024, 512], -2.9, False, 2e-5, 0.99, 0.95, 0.2, 5.0, 10.0, 32, 6, True, True)
    params = rlgames_params(p, env_name="e", num_envs=8, seed=5, run_dir="/tmp/o", device="cpu")
    c = params["config"]
    assert c["minibatch_size"] == 256 and c["torch_compile"] is False and c["value_bootstrap"] is True
    assert params["network"]["separate"] is True
    assert params["network"]["space"]["continuous"]["sigma_init"]["val"] == -2.9
    with pytest.raises(InputError, match="unknown key"):
        job_from_config({**cfg, "train": {"bogus": 1}})


def test_minibatch_and_constant_sigma() -> None:
    assert minibatch_for(32 * 64, 16384) == 2048 and minibatch_for(96, 64) == 48
    from hoi_sim.eval.policy import build_model
    from hoi_sim.train.job import MotionsConfig, TrainJob

    job = TrainJob(MotionsConfig(), PPOConfig(units=[8]), {}, {}, "tr")
    model = build_model(job, num_obs=5, num_actions=3)
    sigma = model.a2c_network.sigma
    assert not sigma.requires_grad and float(sigma[0]) == pytest.approx(-2.9)
    learned = build_model(TrainJob(MotionsConfig(), PPOConfig(units=[8], learn_log_std=True), {}, {}, "tr"), 5, 3)
    assert learned.a2c_network.sigma.requires_grad


def test_eval_success_uses_the_settings_terminations() -> None:
    """``cpu_track`` tightens body and object error to 0.25 m for training; evaluation (``terminations: setting``)
    judges success with the setting's documented 0.5 m, and ``training`` keeps the run's own."""
    from hoi_sim.envs.config import EnvCfg
    from hoi_sim.eval.evaluate import EvalConfig
    from hoi_sim.eval.rollout import eval_env_overrides
    from hoi_sim.train.job import env_config

    job = job_from_config(compose(["train=cpu_track", "reward=tr_lr_cr"]))

    def thresholds(mode: str) -> tuple[float, float]:
        terms = env_config(job, num_envs=2, **eval_env_overrides(mode, 50)).termination_terms().terms
        return terms["body_error"].threshold, terms["object_error"].threshold

    assert env_config(job).termination_terms().terms["body_error"].threshold == pytest.approx(0.25)
    assert thresholds("training") == (pytest.approx(0.25), pytest.approx(0.25))
    assert thresholds("setting") == (pytest.approx(0.5), pytest.approx(0.5))
    cfg = EnvCfg.from_dict({**job.env, **eval_env_overrides("setting", 50)})
    assert cfg.state_init == "start" and cfg.rollout_length == 51
    with pytest.raises(InputError, match="eval.terminations"):
        EvalConfig(terminations="strict")
