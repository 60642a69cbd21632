"""Batch solving of a folder of sessions (``hoi-sim solve DIR``): discovery, resume, per-session atomic outputs,
failures reported and skipped, progress with an ETA, and ``summary.json`` / ``summary.md``.

The solver itself is passed in (``solve_one(session, out_dir, log) -> metrics | None``), so the bookkeeping here
is tested without running it. Layout of the output tree ``OUT``::

    OUT/<session name>/...          one folder per solved session (what ``solve_one`` wrote, plus ``done.json``)
    OUT/summary.json                {"solved": [...], "failed": [{"session", "reason"}], "resumed": [...], ...}
    OUT/summary.md                  per-session metrics and failures, as a table

A session's folder appears only when it is complete: ``solve_one`` writes into a hidden staging folder
``OUT/.<name>.partial-*``, ``done.json`` is written last, and the staging folder is renamed into place. A killed run
leaves at most a staging folder, which the next run deletes; sessions whose folder holds ``done.json`` are skipped.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hoi_sim.errors import HoiSimError, one_line
from hoi_sim.io_utils import write_json_atomic, write_text_atomic

DONE_FILE = "done.json"
SESSION_MARKERS = ("video.mp4", "obj_org.obj", "kp_record_merged.json", "kp_record_new.json", "motion",
                   "output/obj_poses.json", "align/obj_poses.json")
"""Any of these inside a folder makes it a session (complete or not) rather than a folder of sessions."""

SolveOne = Callable[[Path, Path, Callable[[str], None]], "dict[str, float] | None"]
"""``solve_one(session, out_dir, log)``: solve ``session`` writing every output into ``out_dir`` (exists, empty);
returns its metrics (or None without ground truth); raises on failure. ``log`` takes one-line messages."""

SUMMARY_COLUMNS = (("object_rot_err_deg", "rot °"), ("object_trans_err_cm", "trans cm"), ("cd_o_cm", "CD-o cm"),
                   ("contact_dist_cm", "contact cm"), ("contact_excess_cm", "contact excess cm"),
                   ("penetration_cm", "pen. cm"), ("penetration_excess_cm", "pen. excess cm"))


def is_session_folder(folder: Path) -> bool:
    """True when ``folder`` holds any session file (it is then solved as one session, even if incomplete)."""
    return any((folder / m).exists() for m in SESSION_MARKERS)


def discover_sessions(root: Path, exclude: Path | None = None) -> list[Path]:
    """The sessions of a batch: every non-hidden sub-folder of ``root`` (sorted by name), except ``exclude`` (the
    output tree when it lies inside ``root``). A sub-folder that is not a valid session is still listed, so that
    the batch reports why it failed instead of skipping it silently."""
    if not root.is_dir():
        raise HoiSimError(f"{root}: folder not found")
    ex = exclude.resolve() if exclude is not None else None
    return [p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".") and p.resolve() != ex]


def is_finished(out_root: Path, name: str) -> bool:
    """A session counts as finished when its output folder holds ``done.json`` (written last)."""
    return (out_root / name / DONE_FILE).is_file()


@dataclass
class BatchSummary:
    """Outcome of a batch: names solved (this run or earlier), resumed (finished earlier, skipped now), failures
    with one-line reasons, per-session metrics and seconds (this run's)."""

    solved: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"solved": self.solved, "failed": self.failed, "resumed": self.resumed, "metrics": self.metrics,
                "seconds": {k: round(v, 2) for k, v in self.seconds.items()}}


def _fmt_time(seconds: float) -> str:
    s = int(round(max(seconds, 0.0)))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def progress_line(done: int, total: int, elapsed: float, eta: float | None, width: int = 24) -> str:
    """``[#####-----] 3/5  elapsed 0:12  ETA 0:08`` (ETA ``?`` before the first session has been timed)."""
    fill = int(round(width * done / max(total, 1)))
    eta_s = "?" if eta is None or not math.isfinite(eta) else _fmt_time(eta)
    return f"[{'#' * fill}{'-' * (width - fill)}] {done}/{total}  elapsed {_fmt_time(elapsed)}  ETA {eta_s}"


def _install(staging: Path, target: Path) -> None:
    """Move a complete staging folder to ``target`` (an older folder there is set aside, then deleted)."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{time.time_ns()}")
        target.rename(old)
    staging.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _solve_into(session: Path, out_root: Path, solve_one: SolveOne) -> dict[str, float] | None:
    """Solve one session into a staging folder and install it as ``out_root/<name>`` (with ``done.json``)."""
    staging = Path(tempfile.mkdtemp(prefix=f".{session.name}.partial-", dir=out_root))
    lines: list[str] = []
    t0 = time.perf_counter()
    try:
        metrics = solve_one(session, staging, lines.append)
        write_text_atomic(staging / "solve.log", "\n".join(lines) + "\n")
        write_json_atomic(staging / DONE_FILE, {"session": str(session), "seconds": time.perf_counter() - t0,
                                                "finished_unix": time.time()}, indent=1)
        _install(staging, out_root / session.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return metrics


def _read_metrics(folder: Path) -> dict[str, float] | None:
    import json

    p = folder / "metrics.json"
    try:
        return json.loads(p.read_text()) if p.is_file() else None
    except (OSError, ValueError):
        return None


def _failure_reason(exc: Exception) -> str:
    return one_line(exc) if isinstance(exc, HoiSimError) else f"{type(exc).__name__}: {one_line(exc)}"


def run_batch(sessions: list[Path], out_root: Path, solve_one: SolveOne,
              say: Callable[[str], None] = print, redo: bool = False) -> BatchSummary:
    """Solve ``sessions`` into ``out_root``: finished ones are skipped (unless ``redo``), a failing one is reported
    and skipped, the summary files are rewritten after every session (a killed run leaves a current summary).

    ``say`` gets one line per session: the progress bar with elapsed time and ETA, and the outcome."""
    out_root.mkdir(parents=True, exist_ok=True)
    for stale in out_root.glob(".*.partial-*"):  # a killed run's staging folders
        shutil.rmtree(stale, ignore_errors=True)
    names = [s.name for s in sessions]
    if len(set(names)) != len(names):
        raise HoiSimError("two sessions share a folder name; their outputs would collide under " + str(out_root))
    summary, t0, timed = BatchSummary(), time.perf_counter(), []
    todo = []
    for s in sessions:
        if not redo and is_finished(out_root, s.name):
            summary.solved.append(s.name)
            summary.resumed.append(s.name)
            if (m := _read_metrics(out_root / s.name)) is not None:
                summary.metrics[s.name] = m
        else:
            todo.append(s)
    if summary.resumed:
        say(f"resume: {len(summary.resumed)} of {len(sessions)} sessions already solved in {out_root}, skipped")
    for i, s in enumerate(todo):
        eta = (sum(timed) / len(timed)) * (len(todo) - i) if timed else None
        say(progress_line(i, len(todo), time.perf_counter() - t0, eta) + f"  solving {s.name}")
        tic = time.perf_counter()
        try:
            metrics = _solve_into(s, out_root, solve_one)
        except Exception as exc:  # noqa: BLE001 - one bad session never stops the batch; KeyboardInterrupt does
            summary.failed.append({"session": s.name, "reason": _failure_reason(exc)})
            say(f"  FAILED {s.name}: {summary.failed[-1]['reason']}")
        else:
            timed.append(time.perf_counter() - tic)
            summary.solved.append(s.name)
            summary.seconds[s.name] = timed[-1]
            if metrics is not None:
                summary.metrics[s.name] = metrics
            say(f"  solved {s.name} in {timed[-1]:.1f} s")
        write_summary(out_root, summary, sessions)
    say(progress_line(len(todo), len(todo), time.perf_counter() - t0, 0.0) + "  done")
    write_summary(out_root, summary, sessions)
    return summary


def _order(summary: BatchSummary, sessions: list[Path]) -> BatchSummary:
    rank = {s.name: i for i, s in enumerate(sessions)}
    summary.solved.sort(key=lambda n: rank.get(n, len(rank)))
    return summary


def summary_markdown(summary: BatchSummary) -> str:
    """``summary.md``: one row of metrics per solved session (n/a without ground truth), then the failures."""
    head = ["session", *(label for _, label in SUMMARY_COLUMNS), "seconds"]
    lines = [f"# Batch solve: {len(summary.solved)} solved, {len(summary.failed)} failed", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in summary.solved:
        m = summary.metrics.get(name, {})
        cells = [f"{m[k]:.2f}" if isinstance(m.get(k), (int, float)) else "n/a" for k, _ in SUMMARY_COLUMNS]
        sec = f"{summary.seconds[name]:.1f}" if name in summary.seconds else "(earlier run)"
        lines.append("| " + " | ".join([name, *cells, sec]) + " |")
    if summary.failed:
        lines += ["", "## Failed", ""] + [f"- **{f['session']}**: {f['reason']}" for f in summary.failed]
    return "\n".join(lines) + "\n"


def write_summary(out_root: Path, summary: BatchSummary, sessions: list[Path]) -> None:
    """Write ``summary.json`` and ``summary.md`` into ``out_root`` (each atomically)."""
    _order(summary, sessions)
    write_json_atomic(out_root / "summary.json", summary.to_json(), indent=1)
    write_text_atomic(out_root / "summary.md", summary_markdown(summary))
