"""A training job as typed settings, built from the plain resolved config (``hoi_sim/cfg/config.yaml`` composed
by Hydra at the CLI, or the ``config.yaml`` saved beside a run's checkpoints), and the env it trains on.

The resolved config is a plain dict with the groups ``sim`` (backend yaml: ``backend`` + ``settings``), ``env``
(``EnvCfg`` fields), ``reward`` (a reward-set mapping), ``train`` (``PPOConfig`` fields), ``motions``
(``MotionsConfig``) and the top-level ``num_envs``, ``seed``, ``out``.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from hoi_sim.config_mapping import from_mapping, ranged
from hoi_sim.errors import InputError
from hoi_sim.motions.manifest import ClipEntry, check_clips, load_clip, resolve_motions
from hoi_sim.train.config import PPOConfig

if TYPE_CHECKING:
    from hoi_sim.envs.config import EnvCfg
    from hoi_sim.motions.library import MotionLibrary
    from hoi_sim.motions.schema import HOIMotion
    from hoi_sim.sim.config import SimConfig

CONFIG_NAME = "config.yaml"


@dataclass
class MotionsConfig:
    """Which clips: ``path`` (a motion file, folder or manifest), ``subset`` (an action label of a manifest),
    ``objects_dir`` (meshes of InterMimic ``.pt`` clips; default: an ``objects`` folder beside them), ``ground``
    (put each clip's stance feet on the floor at load, ``motions.grounding``) and ``fix_penetration`` (then take
    the object out of the floor and hands out of the object, ``motions.penetration``)."""

    path: str | None = None
    subset: str | None = None
    objects_dir: str | None = None
    ground: bool = True
    fix_penetration: bool = True


@dataclass
class RunSettings:
    """The top-level keys of the config: ``num_envs`` (≥ 1), ``seed``, ``out`` (run or report folder)."""

    num_envs: int = ranged(64, min=1)
    seed: int = 0
    out: str = "runs/train"


@dataclass
class TrainJob:
    """Everything one training run needs (see the module docstring)."""

    motions: MotionsConfig
    ppo: PPOConfig
    env: dict[str, Any]
    sim: dict[str, Any]
    reward: dict[str, Any] | str
    num_envs: int = 64
    seed: int = 0
    out: str = "runs/train"
    resolved: dict[str, Any] = field(default_factory=dict)
    """The plain config this job came from (saved beside the checkpoints)."""

    @property
    def reward_name(self) -> str:
        return self.reward if isinstance(self.reward, str) else str(self.reward.get("name", "custom"))


def job_from_config(cfg: dict[str, Any]) -> TrainJob:
    """Typed job from a plain resolved config; ``InputError`` names unknown or missing keys."""
    cfg = copy.deepcopy(cfg)
    motions = from_mapping(MotionsConfig, cfg.get("motions"), "motions")
    ppo = from_mapping(PPOConfig, cfg.get("train"), "train")
    if not isinstance(ppo.units, (list, tuple)) or not all(
            isinstance(u, int) and not isinstance(u, bool) and u > 0 for u in ppo.units):
        raise InputError(f"train.units must be a list of positive sizes, got {ppo.units!r}")
    top = from_mapping(RunSettings, {k: cfg[k] for k in ("num_envs", "seed", "out") if cfg.get(k) is not None}, "")
    return TrainJob(motions=motions, ppo=ppo, env=dict(cfg.get("env") or {}), sim=dict(cfg.get("sim") or {}),
                    reward=cfg.get("reward") or "tr_lr_cr", num_envs=top.num_envs, seed=top.seed, out=top.out,
                    resolved=cfg)


def load_run_config(checkpoint: str | Path) -> dict[str, Any]:
    """The resolved config saved beside ``checkpoint`` (a ``.pth`` file or a run folder)."""
    p = Path(checkpoint)
    for cand in ([p / "nn" / CONFIG_NAME, p / CONFIG_NAME] if p.is_dir()
                 else [p.parent / CONFIG_NAME, p.parent.parent / CONFIG_NAME]):
        if cand.is_file():
            return yaml.safe_load(cand.read_text()) or {}
    raise InputError(f"{checkpoint}: no {CONFIG_NAME} beside it (not written by `hoi-sim train`?)")


def clips_of(job: TrainJob) -> list[ClipEntry]:
    if not job.motions.path:
        raise InputError("no motions given: pass motions=PATH (a motion file, folder or manifest)")
    clips = resolve_motions(job.motions.path, job.motions.subset)
    return [dataclasses.replace(c, ground=bool(job.motions.ground), fix_penetration=bool(job.motions.fix_penetration))
            for c in clips]


def build_library(clips: list[ClipEntry], objects_dir: str | None, device: str,
                  backend: str = "mujoco") -> MotionLibrary:
    """A ``MotionLibrary`` of ``clips`` on ``device`` (every clip validated before any is prepared, and their
    assets checked for ``backend``: :func:`check_assets`)."""
    from hoi_sim.motions.library import MotionLibrary

    check_clips(clips, objects_dir)
    motions = [load_clip(c, objects_dir) for c in clips]
    check_assets(motions, [str(c.path) for c in clips], backend)
    return MotionLibrary(motions, device=device)


SKELETON_TOL_M = 1e-3
"""Clips whose bone offsets differ by more than this (m) have different skeletons (evaluation's grouping)."""


def check_assets(motions: list[HOIMotion], labels: list[str] | None = None, backend: str = "mujoco") -> None:
    """Every clip's skeleton and object, checked at load for ``backend``: ``mujoco`` and ``mjwarp`` simulate each
    env on its clip's own assets (any mix; ``hoi_sim.envs.backend``), while the kinematic ``fake`` refuses clips
    that need different skeletons with an ``InputError`` naming two of them and why.
    ``labels`` name the clips in the message (default: their names)."""
    from hoi_sim.envs.backend import refuse_mixed
    from hoi_sim.motions.assets import group_assets

    names = labels or [m.name for m in motions]
    groups, _ = group_assets(motions, names)
    if backend != "mujoco":
        refuse_mixed(groups, names, backend)


def sim_config(sim: dict[str, Any]) -> SimConfig:
    """``SimConfig``: Table 7, then the ``settings`` of the composed ``sim`` group."""
    from hoi_sim.sim.config import SimConfig

    settings = dict(sim.get("settings") or {})
    return SimConfig.from_table7().with_overrides(**settings)


ENV_KEYS_HELD_ABOVE = {"num_envs": "num_envs", "seed": "seed", "reward": "reward", "backend": "sim.backend"}
"""Fields of the ``env`` group that the run's top level holds (``cfg/config.yaml`` interpolates them)."""


def check_env_keys(job: TrainJob) -> None:
    """``InputError`` when the ``env`` group sets ``num_envs``, ``seed``, ``reward`` or ``backend`` apart from the
    top-level key or group that holds it (e.g. ``env.num_envs=8`` with ``num_envs=64``), or ``sim.settings.num_envs``
    differs from ``num_envs``: such a value is never read, so it is refused instead of ignored."""
    own = {"num_envs": job.num_envs, "seed": job.seed, "reward": job.reward_name,
           "backend": str(job.sim.get("backend", "mujoco"))}
    found = {f"env.{key}": (job.env.get(key), key, holder) for key, holder in ENV_KEYS_HELD_ABOVE.items()}
    found["sim.settings.num_envs"] = ((job.sim.get("settings") or {}).get("num_envs"), "num_envs", "num_envs")
    for name, (value, key, holder) in found.items():
        if value is not None and value != own[key]:
            raise InputError(f"{name}={value!r} is not read: the run's {key} is `{holder}` ({own[key]!r}); "
                             f"set {holder}={value} instead")


def env_config(job: TrainJob, *, num_envs: int | None = None, reward_path: str | Path | None = None,
               **overrides: Any) -> EnvCfg:
    """``EnvCfg`` of the job: its ``env`` group, the backend named by ``sim.backend``, the job's seed and
    ``num_envs``, the reward (a name, or ``reward_path`` where the composed reward set was written) and any
    ``overrides`` (e.g. ``state_init="start"`` for evaluation). The ``SimConfig`` goes in ``backend_kwargs``.
    ``sim=mjwarp`` with an env group on ``cpu`` moves the env to ``cuda`` when CUDA is available."""
    from hoi_sim.envs.config import EnvCfg

    env = dict(job.env)
    env.update(overrides)
    env["num_envs"] = int(num_envs if num_envs is not None else job.num_envs)
    env["backend"] = str(job.sim.get("backend", env.get("backend", "mujoco")))
    env["seed"] = job.seed
    env["reward"] = str(reward_path) if reward_path is not None else job.reward_name
    if env["backend"] == "mjwarp" and str(env.get("device", "cpu")) == "cpu":
        import torch

        if torch.cuda.is_available():  # sim=mjwarp with a CPU env group: run the GPU backend on the GPU
            env["device"] = "cuda"
    kwargs = dict(env.get("backend_kwargs") or {})
    if env["backend"] in ("mujoco", "mjwarp"):
        kwargs["cfg"] = sim_config(job.sim)
    env["backend_kwargs"] = kwargs
    return EnvCfg.from_dict(env)


def write_reward(job: TrainJob, path: str | Path) -> Path | None:
    """Write the composed reward set to ``path`` (None when the job names a built-in set)."""
    if isinstance(job.reward, str):
        return None
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(yaml.safe_dump(job.reward, sort_keys=False))
    return p
