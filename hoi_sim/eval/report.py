"""Table-1-style reports: per action subset and overall, one row per (checkpoint, reward setting), plus the
reference motion itself as a baseline row. Written as ``report.md``, ``report.csv``, ``report.json`` and
``report.png`` (grouped bar plot, matplotlib Agg), each atomically.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hoi_sim.io_utils import atomic_path, write_text_atomic

REPORT_VERSION = 1
REFERENCE = "reference"
OVERALL = "overall"

METRICS: dict[str, tuple[str, str]] = {
    "mpjpe_mm": ("mm", "Eq. 22 MPJPE over all 52 bodies, mean over frames reached"),
    "mpjpe_body_mm": ("mm", "Eq. 22 MPJPE over the 22 SMPL-X body joints (no fingers)"),
    "contact": ("m²", "Eq. 23 contact score: SUM over frames and active interaction-graph edges of the squared "
                      "object-point ↔ joint distance (per clip, then averaged over clips)"),
    "contact_mean_mm": ("mm", "mean object-point ↔ joint distance over active interaction-graph edges and frames"),
    "jitter": ("m/s³", "Eq. 24 jitter: per-joint RMS of the third difference / dt³, averaged over the 52 bodies"),
    "success_rate": ("fraction", "InterMimic: clips whose rollout reached the last frame without termination"),
    "object_error_mm": ("mm", "InterMimic: mean sim ↔ reference distance of the object's surface points"),
}
METRIC_NAMES = tuple(METRICS)

SETTING_LABELS = {REFERENCE: "reference motion", "tr": "TR only", "tr_lr": "TR+LR", "tr_lr_cr": "TR+LR+CR",
                  "intermimic": "InterMimic"}
_ORDER = [REFERENCE, "tr", "tr_lr", "tr_lr_cr", "intermimic"]


@dataclass
class ClipResult:
    """Metrics of one clip under one policy (or of the reference itself, ``setting == "reference"``)."""

    setting: str
    subset: str
    checkpoint: str
    clip: str
    frames: int
    """Frames evaluated (reached by the rollout)."""
    reached_end: bool
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class ReportRow:
    """One table row: means over the clips of (scope, subset, setting, checkpoint)."""

    scope: str
    subset: str
    setting: str
    checkpoint: str
    n_clips: int
    frames: int
    values: dict[str, float]


def _setting_key(s: str) -> tuple[int, str]:
    return (_ORDER.index(s) if s in _ORDER else len(_ORDER), s)


def _nanmean(xs: Iterable[float]) -> float:
    arr = np.asarray([x for x in xs if x is not None], np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else float("nan")


def _row(scope: str, subset: str, setting: str, checkpoint: str, clips: list[ClipResult]) -> ReportRow:
    values = {m: _nanmean(c.metrics.get(m, float("nan")) for c in clips) for m in METRIC_NAMES if m != "success_rate"}
    values["success_rate"] = float(np.mean([c.reached_end for c in clips])) if clips else float("nan")
    return ReportRow(scope, subset, setting, checkpoint, len(clips), int(sum(c.frames for c in clips)),
                     {m: values[m] for m in METRIC_NAMES})


def build_rows(results: list[ClipResult]) -> list[ReportRow]:
    """Per-subset rows (one per checkpoint × setting; the reference once per subset) then overall rows (one per
    setting, pooling every clip evaluated under that setting)."""
    rows: list[ReportRow] = []
    subsets = sorted({r.subset for r in results})
    for sub in subsets:
        groups: dict[tuple[str, str], list[ClipResult]] = {}
        for r in results:
            if r.subset == sub:
                key = (r.setting, "" if r.setting == REFERENCE else r.checkpoint)
                if r.setting == REFERENCE and any(c.clip == r.clip for c in groups.get(key, [])):
                    continue  # the reference of a clip counts once even when several checkpoints saw it
                groups.setdefault(key, []).append(r)
        for (setting, ckpt) in sorted(groups, key=lambda k: (_setting_key(k[0]), k[1])):
            rows.append(_row(sub, sub, setting, ckpt, groups[(setting, ckpt)]))
    by_setting: dict[str, list[ClipResult]] = {}
    for r in results:
        lst = by_setting.setdefault(r.setting, [])
        if r.setting == REFERENCE and any(c.clip == r.clip and c.subset == r.subset for c in lst):
            continue
        lst.append(r)
    for setting in sorted(by_setting, key=_setting_key):
        ckpts = sorted({r.checkpoint for r in by_setting[setting]}) if setting != REFERENCE else []
        rows.append(_row(OVERALL, OVERALL, setting, ";".join(ckpts), by_setting[setting]))
    return rows


def _fmt(v: float, metric: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if metric == "success_rate":
        return f"{v:.2f}"
    if metric == "contact":
        return f"{v:.4g}"
    return f"{v:.2f}"


def to_markdown(rows: list[ReportRow]) -> str:
    """Markdown: a units/definitions list, then one table per subset and the overall table."""
    lines = ["# HOI imitation evaluation", "",
             "Rows are reward settings (the paper's Table 1); `reference motion` is the clip itself (baseline).", "",
             "Metrics (units):", ""]
    lines += [f"- `{m}` ({u}): {d}" for m, (u, d) in METRICS.items()]
    header = ["setting", "checkpoint", "clips", "frames"] + [f"{m} ({METRICS[m][0]})" for m in METRIC_NAMES]
    for scope in [s for s in dict.fromkeys(r.subset for r in rows)]:
        lines += ["", f"## {'Overall' if scope == OVERALL else 'Subset: ' + scope}", "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in (r for r in rows if r.subset == scope):
            ck = r.checkpoint if len(r.checkpoint) <= 40 else "…" + r.checkpoint[-39:]
            cells = [SETTING_LABELS.get(r.setting, r.setting), ck or "–", str(r.n_clips), str(r.frames)]
            cells += [_fmt(r.values[m], m) for m in METRIC_NAMES]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_csv(rows: list[ReportRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["scope", "subset", "setting", "checkpoint", "n_clips", "frames", *METRIC_NAMES])
    for r in rows:
        w.writerow([r.scope, r.subset, r.setting, r.checkpoint, r.n_clips, r.frames,
                    *[("" if math.isnan(r.values[m]) else f"{r.values[m]:.6g}") for m in METRIC_NAMES]])
    return buf.getvalue()


def _json_safe(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_json_safe(v) for v in x]
    return x


def to_json(rows: list[ReportRow], results: list[ClipResult]) -> str:
    data = {"schema_version": REPORT_VERSION,
            "metrics": {m: {"unit": u, "definition": d} for m, (u, d) in METRICS.items()},
            "rows": [asdict(r) for r in rows], "clips": [asdict(c) for c in results]}
    return json.dumps(_json_safe(data), indent=1)


def plot(rows: list[ReportRow], path: str | os.PathLike) -> None:
    """Grouped bar plot: one panel per metric, groups = subsets + overall, bars = settings."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scopes = list(dict.fromkeys(r.subset for r in rows))
    settings = sorted({r.setting for r in rows}, key=_setting_key)
    metrics = [m for m in METRIC_NAMES if m != "contact"]
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3.8), squeeze=False)
    width = 0.8 / max(1, len(settings))
    x = np.arange(len(scopes))
    for ax, m in zip(axes[0], metrics):
        for i, s in enumerate(settings):
            vals = []
            for sc in scopes:
                cand = [r.values[m] for r in rows if r.subset == sc and r.setting == s]
                vals.append(_nanmean(cand))
            ax.bar(x + (i - (len(settings) - 1) / 2) * width, np.nan_to_num(vals), width,
                   label=SETTING_LABELS.get(s, s))
        ax.set_title(f"{m} ({METRICS[m][0]})", fontsize=9)
        ax.set_xticks(x, scopes, rotation=30, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(settings), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def write_report(results: list[ClipResult], out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``report.{md,csv,json,png}`` into ``out_dir``; returns their paths by extension."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = build_rows(results)
    paths = {ext: out / f"report.{ext}" for ext in ("md", "csv", "json", "png")}
    write_text_atomic(paths["md"], to_markdown(rows))
    write_text_atomic(paths["csv"], to_csv(rows))
    write_text_atomic(paths["json"], to_json(rows, results))
    plot(rows, paths["png"])
    return paths
