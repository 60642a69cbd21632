"""Load a trained policy from an rl-games checkpoint written by ``hoi-sim train``.

The network is rebuilt with rl-games' own model builder from the ``config.yaml`` saved beside the checkpoint, and
the checkpoint's ``model`` state (weights and the observation normaliser) is loaded into it. ``act`` returns the
deterministic action (the policy mean μ clipped to [−1, 1]), as rl-games' player does in evaluation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hoi_sim.errors import InputError
from hoi_sim.train.checkpoint import load_checkpoint, resume_checkpoint
from hoi_sim.train.job import TrainJob, job_from_config, load_run_config


@dataclass
class Policy:
    """A loaded policy: ``model`` (rl-games ``ModelA2CContinuousLogStd.Network``), its job and checkpoint."""

    model: torch.nn.Module
    job: TrainJob
    checkpoint: Path
    epoch: int
    device: torch.device

    @property
    def label(self) -> str:
        """``<run folder>/<file>``: a short name for reports."""
        return f"{self.checkpoint.parent.parent.name}/{self.checkpoint.name}"

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic actions [N, 153] in [−1, 1] for observations [N, num_obs]."""
        out = self.model({"is_train": False, "prev_actions": None, "rnn_states": None,
                          "obs": obs.to(self.device, torch.float32)})
        return out["mus"].clamp(-1.0, 1.0)

    @torch.no_grad()
    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """Critic values [N] for observations [N, num_obs]."""
        out = self.model({"is_train": False, "prev_actions": None, "rnn_states": None,
                          "obs": obs.to(self.device, torch.float32)})
        return out["values"].reshape(-1)


def build_model(job: TrainJob, num_obs: int, num_actions: int, device: str | torch.device = "cpu") -> torch.nn.Module:
    """rl-games actor-critic for ``job.ppo`` with input size ``num_obs`` (not loaded)."""
    from rl_games.algos_torch import model_builder

    from hoi_sim.train.agent import register_networks
    from hoi_sim.train.config import rlgames_params

    register_networks()
    params = rlgames_params(job.ppo, env_name="eval", num_envs=1, seed=job.seed, run_dir=".", device=str(device))
    builder = model_builder.ModelBuilder().load(params)
    model = builder.build({"actions_num": num_actions, "input_shape": (num_obs,), "num_seqs": 1, "value_size": 1,
                           "normalize_value": job.ppo.normalize_value, "normalize_input": job.ppo.normalize_input})
    return model.to(device).eval()


def load_policy(checkpoint: str | os.PathLike, num_obs: int | None = None, num_actions: int | None = None,
                device: str | torch.device = "cpu") -> Policy:
    """Policy from a ``.pth`` (or a run folder's ``nn/last.pth``).

    ``num_obs`` and ``num_actions`` default to the sizes stored in the checkpoint's first layer and action head
    (153, or 63 for a policy trained with ``env.action.fingers: reference``).
    """
    path = resume_checkpoint(checkpoint)
    job = job_from_config(load_run_config(path))
    state: dict[str, Any] = load_checkpoint(path)
    weights = state.get("model")
    if not isinstance(weights, dict):
        raise InputError(f"{path}: no 'model' entry (not an rl-games checkpoint)")
    if num_obs is None:
        key = next((k for k in weights if k.endswith("actor_mlp.0.weight")), None)
        if key is None:
            raise InputError(f"{path}: cannot tell the observation size from the weights")
        num_obs = int(weights[key].shape[1])
    if num_actions is None:
        key = next((k for k in weights if k.endswith(".mu.weight")), None)
        if key is None:
            raise InputError(f"{path}: cannot tell the action size from the weights")
        num_actions = int(weights[key].shape[0])
    model = build_model(job, num_obs, num_actions, device)
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise InputError(f"{path}: weights do not fit the network of its config.yaml "
                         f"({str(exc).splitlines()[0]})") from None
    return Policy(model, job, path, int(state.get("epoch", 0)), torch.device(device))
