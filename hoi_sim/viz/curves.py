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


def _labels(runs: Sequence[str | os.PathLike]) -> list[str]:
    """One label per run: its folder name, or parent/name when names repeat (several ``…/<name>/run`` folders)."""
    labels = [_label(r) for r in runs]
    if len(set(labels)) < len(labels):
        dirs = [Path(r).parent if Path(r).name == PROGRESS else Path(r) for r in runs]
        labels = [f"{d.resolve().parent.name}/{lab}" for d, lab in zip(dirs, labels)]
    return labels


def _plot_run(axes: dict, label: str, cols: dict[str, np.ndarray], x: str, color: str, has: dict[str, bool]) -> None:
    """One run's lines on the panels; ``has`` records which optional panels got data."""
    xs = cols[x]
    axes["rew"].plot(xs, cols["mean_reward"], color=color, label=label)
    if "mean_episode_s" in cols and np.isfinite(cols["mean_episode_s"]).any():
        axes["len"].plot(xs, cols["mean_episode_s"], color=color, label=label)
        has["len"] = True
    if "mean_episode_clip_frac" in cols and np.isfinite(cols["mean_episode_clip_frac"]).any():
        axes["frac"].plot(xs, cols["mean_episode_clip_frac"], color=color, linestyle="--", alpha=0.7)
        has["frac"] = True
    if "eval_mpjpe_mm" in cols:
        ok = np.isfinite(cols["eval_mpjpe_mm"])
        if ok.any():
            axes["eval"].plot(xs[ok], cols["eval_mpjpe_mm"][ok], color=color, marker="o", markersize=4, label=label)
            has["eval"] = True
    if "eval_clip_frac" in cols:  # how far the rollout got: the MPJPE is over the frames it reached
        ok = np.isfinite(cols["eval_clip_frac"])
        if ok.any():
            axes["eval_frac"].plot(xs[ok], cols["eval_clip_frac"][ok], color=color, marker="s", markersize=3,
                                   linestyle="--", alpha=0.7)
            has["eval_frac"] = True
    if "fps" in cols and np.isfinite(cols["fps"]).any():
        axes["fps"].plot(xs, cols["fps"], color=color, label=label)
        has["fps"] = True


def _decorate(axes: dict, has: dict[str, bool], x: str) -> None:
    """Titles, axis labels, grids and "no data" notes of the four panels."""
    axes["rew"].set_title("mean episode reward", fontsize=10)
    axes["len"].set_title("mean episode length: s (solid), clip fraction (dashed)", fontsize=10)
    axes["len"].set_ylabel("s")
    axes["frac"].set_ylabel("fraction of clip")
    if has["frac"]:
        axes["frac"].set_ylim(0.0, max(1.05, axes["frac"].get_ylim()[1]))
    axes["eval"].set_title("eval from frame 0: MPJPE (solid), clip fraction reached (dashed)", fontsize=10)
    axes["eval"].set_ylabel("mm")
    axes["eval_frac"].set_ylabel("fraction of clip")
    axes["eval_frac"].set_ylim(0.0, 1.05)
    axes["eval_frac"].tick_params(labelsize=8)
    axes["fps"].set_title("throughput (samples/s)", fontsize=10)
    for key in ("len", "eval", "fps"):
        if not has[key] and not (key == "len" and has["frac"]):
            axes[key].text(0.5, 0.5, "no data", ha="center", va="center", transform=axes[key].transAxes,
                           color="gray")
    for key in ("rew", "len", "eval", "fps"):
        axes[key].set_xlabel(X_COLUMNS[x])
        axes[key].grid(True, alpha=0.3)
        axes[key].tick_params(labelsize=8)
    axes["frac"].tick_params(labelsize=8)


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
    data = [(lab, read_progress(r, required=tuple(dict.fromkeys(("epoch", x, *REQUIRED)))))
            for lab, r in zip(_labels(runs), runs)]
    first = Path(runs[0])
    out_path = Path(out) if out is not None else (first.parent if first.name == PROGRESS else first) / "curves.png"

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, grid = plt.subplots(2, 2, figsize=(11, 7.5), squeeze=False)
    axes = {"rew": grid[0][0], "len": grid[0][1], "eval": grid[1][0], "fps": grid[1][1]}
    axes["frac"] = axes["len"].twinx()
    axes["eval_frac"] = axes["eval"].twinx()
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    has = {"len": False, "frac": False, "eval": False, "eval_frac": False, "fps": False}
    for i, (label, cols) in enumerate(data):
        _plot_run(axes, label, cols, x, colors[i % len(colors)], has)
    _decorate(axes, has, x)
    handles, labels = axes["rew"].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 4), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.04 * math.ceil(len(labels) / 4)))
    with atomic_path(out_path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return out_path
