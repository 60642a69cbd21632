"""rl-games 1.6.5 extension points used by training (no rl-games code is copied or patched):

* :class:`ConstSigmaActorCritic` — registered with ``model_builder.register_network``: rl-games' ``actor_critic``
  network whose state-independent log-σ can be frozen (InterMimic's constant σ; rl-games' ``fixed_sigma`` only means
  "state-independent" and still learns it).
* :class:`HoiA2CAgent` — registered on the ``Runner.algo_factory``: rl-games' continuous PPO agent with the soft
  action bound configurable (InterMimic penalises |μ| > 1, rl-games > 1.1), atomic checkpoint writes and safe
  checkpoint reads (``weights_only=True``, :mod:`hoi_sim.train.checkpoint`).
* :class:`ProgressObserver` — an ``AlgoObserver``: one progress line per epoch (with an ETA), ``progress.csv``
  (episode length in seconds and as a fraction of its clip, periodic deterministic-rollout metrics), per-term
  reward scalars in TensorBoard, resumable checkpoints ``nn/last.pth`` + ``nn/ep_<epoch>.pth`` every
  ``save_every`` epochs, and ``nn/best.pth`` (+ ``nn/best.json``): the policy of the best periodic evaluation.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from rl_games.algos_torch import model_builder
from rl_games.algos_torch.a2c_continuous import A2CAgent
from rl_games.algos_torch.network_builder import A2CBuilder
from rl_games.common.algo_observer import AlgoObserver

from hoi_sim.io_utils import atomic_path, write_json_atomic
from hoi_sim.train.checkpoint import BEST, BEST_JSON, LAST, load_checkpoint, strip_compile_prefix
from hoi_sim.train.config import NETWORK_NAME

__all__ = ["BEST", "LAST", "ConstSigmaActorCritic", "HoiA2CAgent", "ProgressObserver", "register_networks",
           "save_state"]
INITIAL = "ep_0.pth"

EPISODE_COLUMNS = ("mean_episode_s", "mean_episode_clip_frac")
"""``progress.csv`` columns averaged over the episodes that finished in the epoch (NaN when none did or the env
does not report them): length in s, and length over the clip's length."""
EPISODE_INFO_KEYS = {"mean_episode_s": "episode_length_s", "mean_episode_clip_frac": "episode_clip_frac"}
"""CSV column → env step ``info`` key ([N] float, nonzero only where an episode finished this step)."""
EVAL_COLUMNS = ("eval_mpjpe_mm", "eval_clip_frac", "eval_success")
"""``progress.csv`` columns of the periodic deterministic rollout (empty on epochs without one)."""

Evaluator = Callable[[torch.nn.Module], dict[str, float]]
"""``evaluator(model) -> {column: value}``: a deterministic rollout of the running rl-games model."""


class ConstSigmaActorCritic(A2CBuilder):
    """``actor_critic`` with ``space.continuous.learn_sigma: False`` freezing the log-σ parameter."""

    def build(self, name: str, **kwargs: Any) -> torch.nn.Module:
        net = A2CBuilder.Network(self.params, **kwargs)
        cont = self.params.get("space", {}).get("continuous", {})
        if cont.get("fixed_sigma", False) and not cont.get("learn_sigma", True):
            net.sigma.requires_grad_(False)
        return net


def register_networks() -> None:
    """Make :data:`NETWORK_NAME` known to rl-games' model builder (idempotent)."""
    model_builder.register_network(NETWORK_NAME, ConstSigmaActorCritic)


def save_state(state: dict[str, Any], path: str | os.PathLike) -> None:
    """``torch.save`` through a temp file + rename, so a kill mid-write never leaves a torn checkpoint."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


class HoiA2CAgent(A2CAgent):
    """rl-games continuous PPO with ``config.bounds_soft_limit``, atomic ``save``, and ``config.cpu_bf16``: the
    networks' forward passes (acting, values, the PPO update) under CPU bfloat16 autocast, outputs back in fp32."""

    def _autocast(self) -> Any:
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(self.config.get("cpu_bf16", False)))

    def get_action_values(self, obs: dict[str, Any]) -> dict[str, Any]:
        with self._autocast():
            out = super().get_action_values(obs)
        return {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in out.items()}

    def get_values(self, obs: dict[str, Any]) -> torch.Tensor:
        with self._autocast():
            return super().get_values(obs).float()

    def train_actor_critic(self, input_dict: dict[str, Any]) -> Any:
        with self._autocast():
            return super().train_actor_critic(input_dict)


    def bound_loss(self, mu: torch.Tensor) -> torch.Tensor | float:
        """Σ over action dims of the squared excess of μ [B, A] beyond ±``bounds_soft_limit`` → [B]."""
        if self.bounds_loss_coef is None:
            return 0
        lim = float(self.config.get("bounds_soft_limit", 1.1))
        high = torch.clamp_min(mu - lim, 0.0) ** 2
        low = torch.clamp_max(mu + lim, 0.0) ** 2
        return (high + low).sum(dim=-1)

    preloaded: dict[str, Any] | None = None
    """A checkpoint state already read (safely) by the runner; ``restore`` uses it instead of reading ``fn``."""

    def restore(self, fn: str, set_epoch: bool = True) -> None:
        """Load a checkpoint with ``torch.load(weights_only=True)`` (rl-games' own ``restore`` unpickles anything);
        a crafted file is refused with an ``InputError`` naming it."""
        state = self.preloaded if self.preloaded is not None else load_checkpoint(fn, resumable=True)
        self.preloaded = None
        self.set_full_state_weights(strip_compile_prefix(state), set_epoch=set_epoch)

    def restore_central_value_function(self, fn: str) -> None:
        self.set_central_value_function_weights(load_checkpoint(fn, resumable=True))

    def save(self, fn: str) -> None:
        """rl-games' own saves (best / max-epochs) are skipped when ``config.managed_checkpoints`` is set: the
        :class:`ProgressObserver` writes the checkpoints then."""
        if self.config.get("managed_checkpoints", False):
            return
        save_state(self.get_full_state_weights(), fn if fn.endswith(".pth") else fn + ".pth")


def format_duration(seconds: float) -> str:
    """``12m03s`` (``1h02m03s`` from an hour on, ``n/a`` when not finite)."""
    if not math.isfinite(seconds):
        return "n/a"
    total = max(0, int(round(seconds)))
    h, rest = divmod(total, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else f"{m}m{sec:02d}s"


def _scalar(x: Any) -> float:
    if isinstance(x, torch.Tensor):
        return float(x.float().mean().item()) if x.numel() else float("nan")
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


class ProgressObserver(AlgoObserver):
    """Progress line, CSV log, TensorBoard scalars and checkpoints.

    ``progress.csv``, one row per epoch: ``epoch``, ``frames``, ``mean_reward`` and ``mean_episode_length`` (control
    steps; rl-games' window of the last ``games_to_track`` episodes), ``mean_episode_s`` and
    ``mean_episode_clip_frac`` (episodes that finished in this epoch; NaN when none did or the env does not report
    ``info["episode_length_s"]`` / ``info["episode_clip_frac"]``), ``fps`` (training samples/s, eval time
    excluded), ``elapsed_s`` (wall time), ``eval_mpjpe_mm``, ``eval_clip_frac``, ``eval_success`` (the
    ``evaluator``'s results every ``eval_every`` epochs, empty otherwise), ``ended_<termination>`` (episodes ended
    by each termination) and ``term_<reward term>`` (mean of each reward term). Each evaluation that reaches further
    into the clip than every earlier one of the run (equal: lower MPJPE) writes ``nn/best.pth`` and ``nn/best.json``.

    Args:
        run_dir: the run folder (``nn/`` and ``progress.csv`` live there).
        max_epochs: for the progress line, its ETA and the final checkpoint.
        save_every: checkpoint period in epochs (≥ 1).
        keep: how many ``ep_<epoch>.pth`` files to keep.
        progress_every: print period in epochs (0 = quiet).
        save_initial: write ``nn/ep_0.pth`` (the untrained policy) before the first update of a fresh run.
        eval_every: run ``evaluator`` every this many epochs (0 = never).
        evaluator: ``evaluator(algo.model) -> {column: value}`` (keys of :data:`EVAL_COLUMNS`); it must leave the
            model's train/eval mode as it found it.
        max_minutes: wall-time budget of this process (None = none): the first epoch that ends past it is the last
            (checkpoint written, rl-games stops as at ``max_epochs``).
    """

    def __init__(self, run_dir: str | os.PathLike, *, max_epochs: int, save_every: int, keep: int = 3,
                 progress_every: int = 1, save_initial: bool = True, eval_every: int = 0,
                 evaluator: Evaluator | None = None, max_minutes: float | None = None) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.nn_dir = self.run_dir / "nn"
        self.max_epochs = max_epochs
        self.save_every = max(1, int(save_every))
        self.keep = max(1, int(keep))
        self.progress_every = int(progress_every)
        self.save_initial = save_initial
        self.algo: Any = None
        self._last_epoch = -1
        self._first_steps = True
        self._t0 = time.perf_counter()
        self._frames0 = 0
        self._terms: dict[str, list[float]] = {}
        self._ends: dict[str, int] = {}
        self.max_minutes = max_minutes
        self.eval_every = max(0, int(eval_every))
        self.evaluator = evaluator
        self._epoch0 = 0  # epochs already done when this process started (resume)
        self._eval_s = 0.0  # wall time spent in evaluations (excluded from fps)
        self._last_eval: tuple[int, float] | None = None  # (epoch, eval_mpjpe_mm) of the latest evaluation
        self._best: dict[str, Any] | None = None  # epoch and eval columns of nn/best.pth
        # per CSV column of EPISODE_COLUMNS: [sum over finished episodes, count] (tensors on the env device)
        self._episodes: dict[str, list[Any]] = {}

    # --- rl-games hooks -------------------------------------------------------------------------------------------
    def after_init(self, algo: Any) -> None:
        self.algo = algo

    def process_infos(self, infos: Any, done_indices: torch.Tensor) -> None:
        """Collect per-term reward means the env reports in ``infos["reward_terms"]`` (name → [N] or scalar)."""
        if not isinstance(infos, dict):
            return
        terms = infos.get("reward_terms")
        if isinstance(terms, dict):
            for k, v in terms.items():
                self._terms.setdefault(str(k), []).append(_scalar(v))
        ends = infos.get("terminations")
        if isinstance(ends, dict):
            for k, v in ends.items():
                n = int(v.sum()) if isinstance(v, torch.Tensor) else int(bool(v))
                self._ends[str(k)] = self._ends.get(str(k), 0) + n
        self._collect_episodes(infos)

    def _collect_episodes(self, infos: dict[str, Any]) -> None:
        """Add ``infos["episode_length_s"]`` / ``infos["episode_clip_frac"]`` ([N] float) of the envs whose episode
        finished this step (``infos["episode_length"]`` [N] > 0; without it, the nonzero entries) to the epoch's
        sums. Absent keys are skipped (their columns stay NaN)."""
        length = infos.get("episode_length")
        for column, key in EPISODE_INFO_KEYS.items():
            v = infos.get(key)
            if not isinstance(v, torch.Tensor):
                continue
            v = v.reshape(-1).float()
            if isinstance(length, torch.Tensor) and length.numel() == v.numel():
                mask = length.reshape(-1).to(v.device) > 0
            else:
                mask = v != 0
            acc = self._episodes.setdefault(column, [0.0, 0])
            acc[0] = acc[0] + torch.where(mask, v, torch.zeros_like(v)).sum()
            acc[1] = acc[1] + mask.sum()

    def _episode_means(self) -> dict[str, float]:
        """Mean of each :data:`EPISODE_COLUMNS` over the epoch's finished episodes (NaN when none); resets."""
        out = {}
        for column in EPISODE_COLUMNS:
            total, count = self._episodes.get(column, (0.0, 0))
            count = int(count)
            out[column] = float(total) / count if count > 0 else float("nan")
        self._episodes.clear()
        return out

    def _maybe_evaluate(self, epoch_num: int) -> dict[str, Any]:
        """The evaluator's columns on evaluation epochs, else empty strings (one CSV header from the first row).
        An evaluator that raises is reported on one line and its columns stay empty: training goes on."""
        row: dict[str, Any] = {k: "" for k in EVAL_COLUMNS}
        if self.evaluator is None or self.eval_every <= 0 or epoch_num % self.eval_every:
            return row
        t0 = time.perf_counter()
        try:
            results = self.evaluator(self.algo.model)
        except Exception as exc:  # noqa: BLE001 - a failed evaluation must not end a long training run
            print(f"[train] evaluation at epoch {epoch_num} failed ({type(exc).__name__}: {exc}); "
                  "its columns stay empty", flush=True)
            return row
        finally:
            self._eval_s += time.perf_counter() - t0
        row.update({k: float(v) for k, v in results.items() if k in EVAL_COLUMNS})
        mpjpe = row["eval_mpjpe_mm"]
        self._last_eval = (epoch_num, float(mpjpe) if mpjpe != "" else float("nan"))
        self._maybe_save_best(epoch_num, row)
        writer = getattr(self.algo, "writer", None)
        if writer is not None:
            for k in EVAL_COLUMNS:
                if row[k] != "":
                    writer.add_scalar(f"eval/{k.removeprefix('eval_')}", row[k], epoch_num)
        return row

    @staticmethod
    def _eval_key(row: dict[str, Any]) -> tuple[float, float]:
        """Order of evaluations: further into the clip first, then lower MPJPE (NaN, empty or null: worst)."""
        def number(key: str, worst: float) -> float:
            v = row.get(key)
            v = float(v) if isinstance(v, (int, float)) else math.nan
            return worst if math.isnan(v) else v

        return number("eval_clip_frac", -1.0), -number("eval_mpjpe_mm", math.inf)

    def _maybe_save_best(self, epoch_num: int, row: dict[str, Any]) -> None:
        """Write ``nn/best.pth`` (and ``nn/best.json``: epoch and eval columns) when this evaluation beats every
        earlier one of the run, resumed processes included."""
        meta = self.nn_dir / BEST_JSON
        if self._best is None and meta.is_file():
            try:
                self._best = json.loads(meta.read_text())
            except (OSError, ValueError):
                self._best = None
        if self._best is not None and self._eval_key(row) <= self._eval_key(self._best):
            return
        save_state(self.algo.get_full_state_weights(), self.nn_dir / BEST)
        self._best = {"epoch": int(epoch_num), **{k: row[k] for k in EVAL_COLUMNS}}
        write_json_atomic(meta, self._best)

    def after_steps(self) -> None:
        if not self._first_steps:
            return
        self._first_steps = False
        algo = self.algo
        self._frames0 = int(algo.frame)
        self._epoch0 = max(0, int(algo.epoch_num) - 1)  # rl-games counts the running epoch already
        if self.save_initial and algo.epoch_num == 1:  # fresh run: weights are still the initial ones
            state = algo.get_full_state_weights()
            state["epoch"], state["frame"] = 0, 0
            save_state(state, self.nn_dir / INITIAL)

    def after_print_stats(self, frame: int, epoch_num: int, total_time: float) -> None:
        if epoch_num == self._last_epoch:
            return
        self._last_epoch = epoch_num
        algo = self.algo
        rew = algo.game_rewards.get_mean()[0] if algo.game_rewards.current_size > 0 else float("nan")
        length = algo.game_lengths.get_mean() if algo.game_lengths.current_size > 0 else float("nan")
        rew, length = _scalar(rew), _scalar(length)
        episodes = self._episode_means()
        evals = self._maybe_evaluate(epoch_num)
        elapsed = time.perf_counter() - self._t0
        fps = (int(algo.frame) - self._frames0) / max(elapsed - self._eval_s, 1e-9)
        done = max(1, epoch_num - self._epoch0)
        eta = max(0, self.max_epochs - epoch_num) * elapsed / done
        if self.max_minutes is not None:
            eta = min(eta, max(0.0, 60.0 * self.max_minutes - elapsed))
            if elapsed >= 60.0 * self.max_minutes and epoch_num < self.max_epochs:
                self.max_epochs = epoch_num  # out of wall time: this epoch is the last
                algo.max_epochs = epoch_num  # rl-games checks epoch_num >= max_epochs right after this hook
        terms = {k: sum(v) / len(v) for k, v in self._terms.items() if v}
        ends = dict(self._ends)
        self._terms.clear()
        self._ends.clear()
        if algo.writer is not None:
            for k, v in terms.items():
                algo.writer.add_scalar(f"reward_terms/{k}", v, epoch_num)
            for k, n in ends.items():
                algo.writer.add_scalar(f"terminations/{k}", n, epoch_num)
            for k, v in episodes.items():
                if not math.isnan(v):
                    algo.writer.add_scalar(f"episodes/{k.removeprefix('mean_episode_')}", v, epoch_num)
        self._append_csv({"epoch": epoch_num, "frames": int(algo.frame), "mean_reward": rew,
                          "mean_episode_length": length, **episodes, "fps": fps, "elapsed_s": elapsed,
                          **evals,
                          **{f"ended_{k}": n for k, n in sorted(ends.items())},
                          **{f"term_{k}": v for k, v in sorted(terms.items())}})
        if self.progress_every and (epoch_num % self.progress_every == 0 or epoch_num == self.max_epochs):
            r = "n/a" if math.isnan(rew) else f"{rew:.3f}"
            ln = "n/a" if math.isnan(length) else f"{length:.1f}"
            line = (f"[train] epoch {epoch_num}/{self.max_epochs}  frames {int(algo.frame)}  mean_reward {r}  "
                    f"mean_ep_len {ln}")
            if not math.isnan(episodes["mean_episode_s"]):
                line += f" ({episodes['mean_episode_s']:.2f}s"
                frac = episodes["mean_episode_clip_frac"]
                line += ")" if math.isnan(frac) else f", {100 * frac:.0f}% of clip)"
            line += f"  fps {fps:.0f}  elapsed {elapsed:.0f}s  eta {format_duration(eta)}"
            if self._last_eval is not None and not math.isnan(self._last_eval[1]):
                line += f"  eval_mpjpe {self._last_eval[1]:.1f}mm (epoch {self._last_eval[0]})"
            print(line, flush=True)
        if epoch_num % self.save_every == 0 or epoch_num >= self.max_epochs:
            self.save_checkpoint(epoch_num)

    # --- helpers --------------------------------------------------------------------------------------------------
    def save_checkpoint(self, epoch: int) -> Path:
        """Write ``nn/last.pth`` and a copy ``nn/ep_<epoch>.pth``; keep the newest ``keep`` epoch files."""
        last = self.nn_dir / LAST
        save_state(self.algo.get_full_state_weights(), last)
        ep = self.nn_dir / f"ep_{epoch}.pth"
        with atomic_path(ep) as tmp:
            shutil.copyfile(last, tmp)
        eps = sorted((p for p in self.nn_dir.glob("ep_*.pth") if p.name != INITIAL),
                     key=lambda p: int(p.stem.split("_")[1]))
        for old in eps[:-self.keep]:
            old.unlink(missing_ok=True)
        return ep

    def _append_csv(self, row: dict[str, Any]) -> None:
        """Append ``row`` to ``progress.csv``; the header is fixed by the first row written (resume keeps it)."""
        path = self.run_dir / "progress.csv"
        fields: list[str] | None = None
        if path.exists():
            with path.open(newline="") as f:
                fields = next(csv.reader(f), None)
        with path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=fields or list(row), extrasaction="ignore", restval="")
            if not fields:
                w.writeheader()
            w.writerow(row)
