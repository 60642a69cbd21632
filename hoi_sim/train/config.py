"""Typed training settings (Hydra stays at the CLI edge; library code takes these dataclasses).

``PPOConfig`` defaults are InterMimic's teacher settings (``reference/intermimic-notes.md`` §6.1): separate actor
and critic MLPs [1024, 1024, 512] (ReLU), a constant log-σ of −2.9 (not learned), Adam lr 2e−5 constant,
γ 0.99, λ 0.95, clip 0.2, critic coefficient 5, bounds-loss coefficient 10 (soft bound ±1), horizon 32,
minibatch 16384, 6 mini-epochs, normalised inputs and advantages, no value normalisation, no gradient clipping.
:func:`rlgames_params` turns them into the ``params`` dict rl-games 1.6.5 expects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hoi_sim.config_mapping import ranged
from hoi_sim.errors import InputError
from hoi_sim.threads import auto_threads


@dataclass
class PPOConfig:
    """PPO hyper-parameters (rl-games ``a2c_continuous``) plus run bookkeeping.

    Sizes are counts; ``learning_rate`` per optimiser step; ``log_std`` is the natural log of the action std in
    the policy's [-1, 1] action units. Numeric fields carry their ranges (``config_mapping.ranged``), checked when
    the config is read (``from_mapping``): e.g. ``max_epochs`` ≥ 1, ``0 < gamma ≤ 1``.
    """

    units: list[int] = field(default_factory=lambda: [1024, 1024, 512])
    """Hidden sizes of each MLP; actor and critic are separate networks of this shape."""
    activation: str = "relu"
    log_std: float = -2.9
    learn_log_std: bool = False
    """False = InterMimic's constant σ; True = rl-games' state-independent learned σ (initialised at log_std)."""
    learning_rate: float = ranged(2e-5, gt=0)
    lr_schedule: str = "constant"
    """``constant`` | ``linear`` | ``adaptive`` (rl-games schedules; ``kl_threshold`` for adaptive)."""
    kl_threshold: float = ranged(0.008, gt=0)
    gamma: float = ranged(0.99, gt=0, max=1)
    tau: float = ranged(0.95, min=0, max=1)
    e_clip: float = ranged(0.2, gt=0)
    clip_value: bool = False
    critic_coef: float = ranged(5.0, min=0)
    entropy_coef: float = 0.0
    bounds_loss_coef: float = ranged(10.0, min=0)
    bounds_soft_limit: float = ranged(1.0, gt=0)
    """|μ| beyond this is penalised quadratically (InterMimic: 1.0; stock rl-games: 1.1)."""
    horizon_length: int = ranged(32, min=1)
    minibatch_size: int = ranged(16384, min=1)
    """Requested minibatch; lowered to the largest divisor of horizon × num_envs that fits (see ``minibatch_for``)."""
    mini_epochs: int = ranged(6, min=1)
    normalize_input: bool = True
    normalize_value: bool = False
    normalize_advantage: bool = True
    grad_norm: float = ranged(1.0, gt=0)
    truncate_grads: bool = False
    value_bootstrap: bool = True
    """Timeouts bootstrap the value (the env reports ``infos["time_outs"]``); terminations do not."""
    max_epochs: int = ranged(100000, min=1)
    max_minutes: float | None = ranged(None, gt=0)
    """Wall-time budget of a run in minutes (None: only ``max_epochs`` stops it)."""
    save_every: int = ranged(500, min=1)
    """Write ``nn/last.pth`` (and ``nn/ep_<epoch>.pth``) every this many epochs (and at the end)."""
    keep_checkpoints: int = ranged(3, min=1)
    """How many ``nn/ep_<epoch>.pth`` files to keep (``last.pth`` always kept)."""
    games_to_track: int = ranged(100, min=1)
    torch_compile: bool | None = None
    """None = auto: on for CUDA, off on CPU (compilation costs more than it saves on a laptop)."""
    device: str = "auto"
    """``auto`` (cuda:0 when available, else cpu), ``cpu`` or ``cuda:N``: where PPO runs."""
    torch_threads: int = ranged(0, min=0)
    """CPU threads for torch; 0 = auto (``hoi_sim.threads.auto_threads``): one per core when idle OpenMP threads
    sleep (``OMP_WAIT_POLICY=PASSIVE``, which ``hoi-sim`` sets), else 1. Acting and the PPO update run between the
    MuJoCo backend's physics steps, so on an idle 2-core machine 2 threads give 1.1–1.3x the training samples/s of 1;
    with spinning idle threads on a loaded machine, 2 halved them (docs/training.md)."""
    cpu_bf16: bool = False
    """On a CPU device, run the networks' forward passes (acting and the PPO update) under bfloat16 autocast:
    matrix products in bf16 (AMX/AVX-512 BF16 kernels where the CPU has them), losses and parameters in fp32."""
    resume: str | None = None
    """A checkpoint (.pth) or a run directory (its ``nn/last.pth``) to continue from; ``auto``: the run folder's own
    ``nn/last.pth`` when it exists (else a fresh start)."""
    progress_every: int = ranged(1, min=0)
    """Print a progress line every this many epochs (0 = quiet)."""
    eval_every: int = ranged(0, min=0)
    """Every this many epochs, roll out the current policy deterministically from frame 0 of every training clip
    and log ``eval_mpjpe_mm``, ``eval_clip_frac`` and ``eval_success`` in ``progress.csv`` (0 = never)."""


def minibatch_for(batch_size: int, requested: int) -> int:
    """Largest divisor of ``batch_size`` that is ≤ ``requested`` (rl-games needs an exact split)."""
    if batch_size <= 0:
        raise InputError(f"batch size must be positive, got {batch_size}")
    m = max(1, min(int(requested), batch_size))
    while batch_size % m:
        m -= 1
    return m


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda:0`` when CUDA is available, else ``cpu``; other values pass through."""
    if device != "auto":
        return device
    import torch

    return "cuda:0" if torch.cuda.is_available() else "cpu"


NETWORK_NAME = "hoi_actor_critic"
ALGO_NAME = "hoi_a2c_continuous"


def _ppo_entries(ppo: PPOConfig, num_envs: int, device: str) -> dict[str, Any]:
    """The optimisation part of rl-games' ``config`` block (PPO, normalisation, bounds loss, compile)."""
    batch = ppo.horizon_length * num_envs
    compile_ = ppo.torch_compile if ppo.torch_compile is not None else device.startswith("cuda")
    return {
        "normalize_input": ppo.normalize_input,
        "normalize_value": ppo.normalize_value,
        "normalize_advantage": ppo.normalize_advantage,
        "value_bootstrap": ppo.value_bootstrap,
        "num_actors": num_envs,
        "reward_shaper": {"scale_value": 1.0},
        "gamma": ppo.gamma,
        "tau": ppo.tau,
        "learning_rate": ppo.learning_rate,
        "lr_schedule": None if ppo.lr_schedule == "constant" else ppo.lr_schedule,
        "kl_threshold": ppo.kl_threshold,
        "score_to_win": 1e30,
        "max_epochs": ppo.max_epochs,
        "save_best_after": 10**12,  # checkpoints are written by our observer (atomic, resumable)
        "save_frequency": 0,
        "managed_checkpoints": True,
        "print_stats": False,  # our observer prints one progress line per epoch
        "grad_norm": ppo.grad_norm,
        "entropy_coef": ppo.entropy_coef,
        "truncate_grads": ppo.truncate_grads,
        "e_clip": ppo.e_clip,
        "clip_value": ppo.clip_value,
        "horizon_length": ppo.horizon_length,
        "minibatch_size": minibatch_for(batch, ppo.minibatch_size),
        "mini_epochs": ppo.mini_epochs,
        "critic_coef": ppo.critic_coef,
        "bounds_loss_coef": ppo.bounds_loss_coef,
        "bounds_soft_limit": ppo.bounds_soft_limit,
        "bound_loss_type": "bound",
        "games_to_track": ppo.games_to_track,
        "cpu_bf16": bool(ppo.cpu_bf16) and not device.startswith("cuda"),
        "torch_compile": bool(compile_),
        "seq_length": 4,
        "use_diagnostics": False,
    }


def _network_params(ppo: PPOConfig) -> dict[str, Any]:
    """rl-games' ``network`` block: our actor-critic with separate MLPs and a fixed (or learnt) log-σ."""
    return {
        "name": NETWORK_NAME,
        "separate": True,
        "space": {"continuous": {
            "mu_activation": "None", "sigma_activation": "None",
            "mu_init": {"name": "default"},
            "sigma_init": {"name": "const_initializer", "val": float(ppo.log_std)},
            "fixed_sigma": True,
            "learn_sigma": bool(ppo.learn_log_std),
        }},
        "mlp": {"units": list(ppo.units), "activation": ppo.activation, "d2rl": False,
                "initializer": {"name": "default"}, "regularizer": {"name": "None"}},
    }


def rlgames_params(ppo: PPOConfig, *, env_name: str, num_envs: int, seed: int, run_dir: str | Path,
                   device: str, env_config: dict[str, Any] | None = None, name: str = "hoi") -> dict[str, Any]:
    """The ``params`` dict of rl-games' ``Runner.load`` (the ``params:`` block of its YAML files).

    Checkpoints go to ``run_dir/nn`` and TensorBoard summaries to ``run_dir/summaries``.
    """
    run_dir = Path(run_dir).resolve()
    config: dict[str, Any] = {
        "name": name,
        "full_experiment_name": run_dir.name,
        "train_dir": str(run_dir.parent),
        "env_name": env_name,
        "env_config": dict(env_config or {}),
        "device": device,
        "device_name": device,
        "multi_gpu": False,
        "ppo": True,
        "mixed_precision": False,
        **_ppo_entries(ppo, num_envs, device),
    }
    return {
        "seed": int(seed),
        "torch_threads": auto_threads(int(ppo.torch_threads)),
        "algo": {"name": ALGO_NAME},
        "model": {"name": "continuous_a2c_logstd"},
        "network": _network_params(ppo),
        "config": config,
    }
