"""Table-1-style reports: per action subset and overall, one row per (checkpoint, reward setting), plus the
reference motion itself as a baseline row, overall and **per clip** (scope ``clip``: the contact floor a policy's
contact on that clip is judged against). Each row counts the distinct objects and subjects (skeletons) of its clips
(``n_objects``, ``n_subjects``: by content, from ``ClipResult.object`` / ``subject``; 0 = not given). Written as
``report.md``, ``report.csv``, ``report.json`` and ``report.png`` (grouped bar plot, matplotlib Agg), each atomically.

The headline contact column is ``contact_mm`` (mean surface distance over active interaction-graph edges and
frames, mm: the paper's Table 1 unit); Eq. 23's sum of squares is the separate ``contact_sum_m2`` (m²).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hoi_sim.io_utils import atomic_path, dumps_json, write_text_atomic
from hoi_sim.provenance import provenance as current_provenance

REPORT_VERSION = 2
"""2: ``contact_mm`` / ``contact_sum_m2`` (were ``contact_mean_mm`` / ``contact``), per-clip reference rows."""
REFERENCE = "reference"
OVERALL = "overall"
CLIP = "clip"
"""Scope of the per-clip reference rows."""

METRICS: dict[str, tuple[str, str]] = {
    "mpjpe_mm": ("mm", "Eq. 22 MPJPE over all 52 bodies, mean over frames reached"),
    "mpjpe_body_mm": ("mm", "Eq. 22 MPJPE over the 22 SMPL-X body joints (no fingers)"),
    "contact_mm": ("mm", "contact: mean over active interaction-graph edges and frames of the distance between the "
                         "object point R_t^o M^o + p_t^o and the human end p_t^h (by default the nearest point of "
                         "the body's collision geom: surface contact); the paper's Table 1 contact (mm)"),
    "contact_sum_m2": ("m²", "Eq. 23 as written: SUM over frames and active interaction-graph edges of the squared "
                             "distance (per clip, then averaged over clips)"),
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
    object: str = ""
    """The clip's object by content (``motions.assets.clip_asset_ids``: mesh, scale, mass mode); empty: unknown."""
    subject: str = ""
    """The clip's subject by its skeleton (bone offsets, ``motions.assets.clip_asset_ids``); empty: unknown."""
    ended_by: str = ""
    """The termination terms that ended a policy's rollout, comma-separated; empty when it reached the end."""


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
    clip: str = ""
    """The clip of a per-clip row (scope ``clip``); empty otherwise."""
    n_objects: int = 0
    """Distinct objects (by content) among the row's clips; 0 when the results do not say."""
    n_subjects: int = 0
    """Distinct subjects (skeletons) among the row's clips; 0 when the results do not say."""


def _setting_key(s: str) -> tuple[int, str]:
    return (_ORDER.index(s) if s in _ORDER else len(_ORDER), s)


def _nanmean(xs: Iterable[float]) -> float:
    arr = np.asarray([x for x in xs if x is not None], np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.mean()) if arr.size else float("nan")


def _row(scope: str, subset: str, setting: str, checkpoint: str, clips: list[ClipResult], clip: str = ""
         ) -> ReportRow:
    values = {m: _nanmean(c.metrics.get(m, float("nan")) for c in clips) for m in METRIC_NAMES if m != "success_rate"}
    values["success_rate"] = float(np.mean([c.reached_end for c in clips])) if clips else float("nan")
    return ReportRow(scope, subset, setting, checkpoint, len(clips), int(sum(c.frames for c in clips)),
                     {m: values[m] for m in METRIC_NAMES}, clip, len({c.object for c in clips if c.object}),
                     len({c.subject for c in clips if c.subject}))


def _reference_per_clip(results: list[ClipResult]) -> list[ClipResult]:
    """The reference result of each (subset, clip), once, sorted by subset then clip."""
    seen: dict[tuple[str, str], ClipResult] = {}
    for r in results:
        if r.setting == REFERENCE:
            seen.setdefault((r.subset, r.clip), r)
    return [seen[k] for k in sorted(seen)]


def build_rows(results: list[ClipResult]) -> list[ReportRow]:
    """Per-subset rows (one per checkpoint × setting; the reference once per subset), overall rows (one per
    setting, pooling every clip evaluated under that setting), then one reference row per clip (scope ``clip``)."""
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
    for r in _reference_per_clip(results):
        rows.append(_row(CLIP, r.subset, REFERENCE, "", [r], r.clip))
    return rows


def _table_rows(rows: list[ReportRow]) -> list[ReportRow]:
    """The subset and overall rows (the per-clip ones have their own section)."""
    return [r for r in rows if r.scope != CLIP]


def _fmt(v: float, metric: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if metric == "success_rate":
        return f"{v:.2f}"
    if metric == "contact_sum_m2":
        return f"{v:.4g}"
    return f"{v:.2f}"


def _clip_contact(results: list[ClipResult]) -> tuple[list[str], dict[tuple[str, str, str], float]]:
    """Settings with rollouts (ordered) and the mean ``contact_mm`` per (subset, clip, setting) over checkpoints."""
    acc: dict[tuple[str, str, str], list[float]] = {}
    for r in results:
        if r.setting != REFERENCE:
            acc.setdefault((r.subset, r.clip, r.setting), []).append(r.metrics.get("contact_mm", float("nan")))
    settings = sorted({k[2] for k in acc}, key=_setting_key)
    return settings, {k: _nanmean(v) for k, v in acc.items()}


def to_markdown(rows: list[ReportRow], results: list[ClipResult] | None = None, contact_form: str | None = None
                ) -> str:
    """Markdown: a units/definitions list, one table per subset, the overall table, then the contact per clip
    (the reference's own contact — the floor — beside each setting's)."""
    lines = ["# HOI imitation evaluation", "",
             "Rows are reward settings (the paper's Table 1); `reference motion` is the clip itself (baseline).", "",
             "Metrics (units):", ""]
    lines += [f"- `{m}` ({u}): {d}" for m, (u, d) in METRICS.items()]
    if contact_form:
        lines += ["", f"Human end of the contact metrics: `{contact_form}` (eval.form)."]
    header = ["setting", "checkpoint", "clips", "objects", "subjects", "frames"]
    header += [f"{m} ({METRICS[m][0]})" for m in METRIC_NAMES]
    table = _table_rows(rows)
    for scope in [s for s in dict.fromkeys(r.subset for r in table)]:
        lines += ["", f"## {'Overall' if scope == OVERALL else 'Subset: ' + scope}", "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in (r for r in table if r.subset == scope):
            ck = r.checkpoint if len(r.checkpoint) <= 40 else "…" + r.checkpoint[-39:]
            cells = [SETTING_LABELS.get(r.setting, r.setting), ck or "–", str(r.n_clips), str(r.n_objects or "–"),
                     str(r.n_subjects or "–"), str(r.frames)]
            cells += [_fmt(r.values[m], m) for m in METRIC_NAMES]
            lines.append("| " + " | ".join(cells) + " |")
    clip_rows = [r for r in rows if r.scope == CLIP]
    if clip_rows:
        settings, policy = _clip_contact(results or [])
        head = ["subset", "clip", "frames", "reference contact_mm (mm)", "reference contact_sum_m2 (m²)"]
        head += [f"{SETTING_LABELS.get(s, s)} contact_mm (mm)" for s in settings]
        lines += ["", "## Contact per clip", "",
                  "The reference motion's own contact on each clip: the floor a policy's contact on that clip is "
                  "judged against (policy columns: mean over the checkpoints of that setting).", "",
                  "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in clip_rows:
            cells = [r.subset, r.clip, str(r.frames), _fmt(r.values["contact_mm"], "contact_mm"),
                     _fmt(r.values["contact_sum_m2"], "contact_sum_m2")]
            cells += [_fmt(policy.get((r.subset, r.clip, s), float("nan")), "contact_mm") for s in settings]
            lines.append("| " + " | ".join(cells) + " |")
    lines += _survival_lines(results or [])
    return "\n".join(lines) + "\n"


def _survival_lines(results: list[ClipResult]) -> list[str]:
    """Markdown: how long each policy stayed up (control steps reached from frame 0) against its clip's length."""
    length = {(c.subset, c.clip): c.frames for c in results if c.setting == REFERENCE}
    pol = [c for c in results if c.setting != REFERENCE]
    if not pol:
        return []
    out = ["", "## How long the policies stayed up", "",
           "Deterministic rollout from frame 0; a rollout ends at a termination or at the clip's last frame.", "",
           "| setting | checkpoint | clip | steps reached | clip steps | fraction | reached the end | ended by |",
           "|---|---|---|---|---|---|---|---|"]
    for c in pol:
        total = length.get((c.subset, c.clip))
        steps = "–" if total is None else str(total - 1)
        frac = "–" if not total or total < 2 else f"{100.0 * c.frames / (total - 1):.0f}%"
        ck = c.checkpoint if len(c.checkpoint) <= 40 else "…" + c.checkpoint[-39:]
        out.append(f"| {SETTING_LABELS.get(c.setting, c.setting)} | {ck} | {c.clip} | {c.frames} | {steps} | "
                   f"{frac} | {'yes' if c.reached_end else 'no'} | {c.ended_by or '–'} |")
    if not all(c.reached_end for c in pol):
        out += ["", "A policy that falls or loses the object before the end needs more training: "
                "`hoi-sim train train=cpu_track motions=CLIP` is the CPU preset that learns to track a whole clip "
                "(residual actions, PSI, early termination; docs/training.md), and `hoi-sim bench imitation CLIP "
                "--minutes M` trains, evaluates and plots it in one command."]
    return out


def to_csv(rows: list[ReportRow]) -> str:
    """One line per row (subset, overall and per-clip reference rows; ``clip`` is empty except on the latter)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["scope", "subset", "setting", "checkpoint", "clip", "n_clips", "n_objects", "n_subjects", "frames",
                *METRIC_NAMES])
    for r in rows:
        w.writerow([r.scope, r.subset, r.setting, r.checkpoint, r.clip, r.n_clips, r.n_objects or "",
                    r.n_subjects or "", r.frames,
                    *[("" if math.isnan(r.values[m]) else f"{r.values[m]:.6g}") for m in METRIC_NAMES]])
    return buf.getvalue()


def to_json(rows: list[ReportRow], results: list[ClipResult], contact_form: str | None = None,
            provenance: dict | None = None) -> str:
    data = {"schema_version": REPORT_VERSION,
            "metrics": {m: {"unit": u, "definition": d} for m, (u, d) in METRICS.items()},
            "contact_form": contact_form, "provenance": provenance,
            "rows": [asdict(r) for r in rows], "clips": [asdict(c) for c in results]}
    return dumps_json(data, indent=1)


def plot(rows: list[ReportRow], path: str | os.PathLike, results: list[ClipResult] | None = None) -> None:
    """Grouped bar plot: one panel per metric (groups = subsets + overall, bars = settings); below it, when there
    are per-clip reference rows, ``contact_mm`` per clip (bars = the reference and each setting)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = _table_rows(rows)
    clip_rows = [r for r in rows if r.scope == CLIP]
    scopes = list(dict.fromkeys(r.subset for r in table))
    settings = sorted({r.setting for r in table}, key=_setting_key)
    metrics = [m for m in METRIC_NAMES if m != "contact_sum_m2"]
    n_rows = 2 if clip_rows else 1
    fig = plt.figure(figsize=(3.2 * len(metrics), 3.8 * n_rows))
    grid = fig.add_gridspec(n_rows, len(metrics))
    axes = [fig.add_subplot(grid[0, i]) for i in range(len(metrics))]
    width = 0.8 / max(1, len(settings))
    x = np.arange(len(scopes))
    for ax, m in zip(axes, metrics):
        for i, s in enumerate(settings):
            vals = []
            for sc in scopes:
                cand = [r.values[m] for r in table if r.subset == sc and r.setting == s]
                vals.append(_nanmean(cand))
            ax.bar(x + (i - (len(settings) - 1) / 2) * width, np.nan_to_num(vals), width,
                   label=SETTING_LABELS.get(s, s))
        ax.set_title(f"{m} ({METRICS[m][0]})", fontsize=9)
        ax.set_xticks(x, scopes, rotation=30, ha="right", fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(settings), fontsize=8, frameon=False)
    if clip_rows:
        ax = fig.add_subplot(grid[1, :])
        pol_settings, policy = _clip_contact(results or [])
        bars = [REFERENCE, *pol_settings]
        xc = np.arange(len(clip_rows))
        w = 0.8 / len(bars)
        for i, s in enumerate(bars):
            vals = [r.values["contact_mm"] if s == REFERENCE else policy.get((r.subset, r.clip, s), float("nan"))
                    for r in clip_rows]
            ax.bar(xc + (i - (len(bars) - 1) / 2) * w, np.nan_to_num(vals), w, label=SETTING_LABELS.get(s, s))
        ax.set_title("contact_mm (mm) per clip: the reference motion is the floor", fontsize=9)
        ax.set_xticks(xc, [r.clip for r in clip_rows], rotation=60, ha="right", fontsize=6)
        ax.tick_params(axis="y", labelsize=7)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.1 / n_rows))
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def write_report(results: list[ClipResult], out_dir: str | os.PathLike, contact_form: str | None = None
                 ) -> dict[str, Path]:
    """Write ``report.{md,csv,json,png}`` into ``out_dir``; returns their paths by extension. ``contact_form``
    (the human end of the contact metrics, e.g. ``surface``) is stated in the md and json, and the json names the
    code that made it (``hoi_sim.provenance``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = build_rows(results)
    paths = {ext: out / f"report.{ext}" for ext in ("md", "csv", "json", "png")}
    write_text_atomic(paths["md"], to_markdown(rows, results, contact_form))
    write_text_atomic(paths["csv"], to_csv(rows))
    write_text_atomic(paths["json"], to_json(rows, results, contact_form, current_provenance()))
    plot(rows, paths["png"], results)
    return paths
