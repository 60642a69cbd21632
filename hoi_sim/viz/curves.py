"""Learning curves of training runs: ``plot_runs(runs, out)`` reads each run folder's ``progress.csv`` (written by
:class:`hoi_sim.train.agent.ProgressObserver`) and draws one PNG with four panels, one line per run:

1. mean episode reward;
2. mean episode length in s (solid, left axis) and as a fraction of the clip (dashed, right axis);
3. MPJPE of the periodic deterministic rollout (mm), markers at the evaluation epochs;
4. training throughput (samples/s).

Columns a run does not have (older runs, evaluation off) leave their panel empty with a note; the x column and
``mean_reward`` are required.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hoi_sim.errors import InputError
from hoi_sim.io_utils import atomic_path

PROGRESS = "progress.csv"
X_COLUMNS = {"epoch": "epoch", "frames": "frames (samples)", "elapsed_s": "wall time (s)"}
REQUIRED = ("mean_reward",)


def _float(text: str | None) -> float:
    """A CSV cell as a float; empty, missing or unparsable → NaN."""
    if text is None or text == "":
        return float("nan")
    try:
        return float(text)
    except ValueError:
        return float("nan")


def progress_file(run: str | os.PathLike) -> Path:
    """``run/progress.csv`` (``run`` may also name the CSV itself); ``InputError`` when absent."""
    p = Path(run)
    if p.is_dir():
        p = p / PROGRESS
    elif not p.exists():
        raise InputError(f"{run}: no such run folder")
    if not p.is_file():
        raise InputError(f"{p.parent}: no {PROGRESS} (not a training run folder?)")
    return p


def read_progress(run: str | os.PathLike, required: Sequence[str] = ("epoch", *REQUIRED)) -> dict[str, np.ndarray]:
    """Columns of a run's ``progress.csv`` as float arrays [E] (E epochs; NaN for empty cells).

    Raises ``InputError`` naming the file when it is missing, holds no rows or lacks a ``required`` column.
    """
    path = progress_file(run)
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    if not header or not rows:
        raise InputError(f"{path}: empty (no epoch written yet)")
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; has {header}")
    return {c: np.array([_float(r.get(c)) for r in rows], np.float64) for c in header}


def _label(run: str | os.PathLike) -> str:
    p = Path(run)
    p = p.parent if p.name == PROGRESS else p
    return p.resolve().name or str(p)


def plot_runs(runs: Sequence[str | os.PathLike], out: str | os.PathLike | None = None, x: str = "epoch") -> Path:
    """Draw the learning curves of ``runs`` (run folders) into a PNG, written atomically.

    Args:
        runs: run folders holding a ``progress.csv`` (at least one).
        out: PNG path; default ``<first run>/curves.png``.
        x: x axis: ``epoch``, ``frames`` (samples collected) or ``elapsed_s`` (wall time, s).

    Returns:
        The PNG's path.
    """
    if not runs:
        raise InputError("no run folder given")
    if x not in X_COLUMNS:
        raise InputError(f"x must be one of {sorted(X_COLUMNS)}, got {x!r}")
    labels = [_label(r) for r in runs]
    if len(set(labels)) < len(labels):  # e.g. several `…/<name>/run` folders: label them by their parent too
        dirs = [Path(r).parent if Path(r).name == PROGRESS else Path(r) for r in runs]
        labels = [f"{d.resolve().parent.name}/{lab}" for d, lab in zip(dirs, labels)]
    data = [(lab, read_progress(r, required=tuple(dict.fromkeys(("epoch", x, *REQUIRED)))))
            for lab, r in zip(labels, runs)]
    first = Path(runs[0])
    out_path = Path(out) if out is not None else (first.parent if first.name == PROGRESS else first) / "curves.png"

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), squeeze=False)
    ax_rew, ax_len, ax_eval, ax_fps = axes[0][0], axes[0][1], axes[1][0], axes[1][1]
    ax_frac = ax_len.twinx()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    has = {"len": False, "frac": False, "eval": False, "fps": False}
    for i, (label, cols) in enumerate(data):
        c = colors[i % len(colors)]
        xs = cols[x]
        ax_rew.plot(xs, cols["mean_reward"], color=c, label=label)
        if "mean_episode_s" in cols and np.isfinite(cols["mean_episode_s"]).any():
            ax_len.plot(xs, cols["mean_episode_s"], color=c, label=label)
            has["len"] = True
        if "mean_episode_clip_frac" in cols and np.isfinite(cols["mean_episode_clip_frac"]).any():
            ax_frac.plot(xs, cols["mean_episode_clip_frac"], color=c, linestyle="--", alpha=0.7)
            has["frac"] = True
        if "eval_mpjpe_mm" in cols:
            ok = np.isfinite(cols["eval_mpjpe_mm"])
            if ok.any():
                ax_eval.plot(xs[ok], cols["eval_mpjpe_mm"][ok], color=c, marker="o", markersize=4, label=label)
                has["eval"] = True
        if "fps" in cols and np.isfinite(cols["fps"]).any():
            ax_fps.plot(xs, cols["fps"], color=c, label=label)
            has["fps"] = True
    ax_rew.set_title("mean episode reward", fontsize=10)
    ax_len.set_title("mean episode length: s (solid), clip fraction (dashed)", fontsize=10)
    ax_len.set_ylabel("s")
    ax_frac.set_ylabel("fraction of clip")
    if has["frac"]:
        ax_frac.set_ylim(0.0, max(1.05, ax_frac.get_ylim()[1]))
    ax_eval.set_title("eval MPJPE (mm, deterministic rollout from frame 0)", fontsize=10)
    ax_eval.set_ylabel("mm")
    ax_fps.set_title("throughput (samples/s)", fontsize=10)
    for ax, key in ((ax_len, "len"), (ax_eval, "eval"), (ax_fps, "fps")):
        if not has[key] and not (key == "len" and has["frac"]):
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color="gray")
    for ax in (ax_rew, ax_len, ax_eval, ax_fps):
        ax.set_xlabel(X_COLUMNS[x])
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=8)
    ax_frac.tick_params(labelsize=8)
    handles, labels = ax_rew.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 4), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.04 * math.ceil(len(labels) / 4)))
    with atomic_path(out_path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return out_path
