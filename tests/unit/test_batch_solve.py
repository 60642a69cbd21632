"""Batch bookkeeping of ``hoi-sim solve DIR`` (``hoi_sim.recon.batch``) with a stand-in solver: resume skips
finished sessions, a failing session is reported and skipped, a killed run leaves no half-written session folder,
and the summaries list everything."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hoi_sim.errors import InputError
from hoi_sim.recon.batch import discover_sessions, is_finished, progress_line, run_batch


def _tree(tmp_path: Path, names: list[str]) -> list[Path]:
    for n in names:
        (tmp_path / "in" / n).mkdir(parents=True)
    return discover_sessions(tmp_path / "in")


class FakeSolver:
    """Writes ``result.txt`` and ``metrics.json``; fails on names starting with 'bad'; counts its calls."""

    def __init__(self, interrupt_on: str | None = None) -> None:
        self.calls: list[str] = []
        self.interrupt_on = interrupt_on

    def __call__(self, session: Path, out: Path, log) -> dict[str, float]:
        self.calls.append(session.name)
        log(f"solving {session.name}")
        (out / "result.txt").write_text(session.name)
        if session.name == self.interrupt_on:
            raise KeyboardInterrupt
        if session.name.startswith("bad"):
            raise InputError(f"session {session} is missing: kp_record_merged.json")
        metrics = {"object_rot_err_deg": 1.0, "contact_excess_cm": 0.25}
        (out / "metrics.json").write_text(json.dumps(metrics))  # as the real solve writes it
        return metrics


def test_failures_are_reported_and_skipped(tmp_path):
    sessions = _tree(tmp_path, ["a", "bad1", "b", "bad2", "c"])
    out, lines = tmp_path / "out", []
    solver = FakeSolver()
    summary = run_batch(sessions, out, solver, say=lines.append)
    assert summary.solved == ["a", "b", "c"]
    assert [f["session"] for f in summary.failed] == ["bad1", "bad2"]
    assert "missing: kp_record_merged.json" in summary.failed[0]["reason"]
    doc = json.loads((out / "summary.json").read_text())
    assert doc["solved"] == ["a", "b", "c"] and doc["failed"] == summary.failed
    md = (out / "summary.md").read_text()
    assert "| a | 1.00 |" in md and "**bad2**" in md and "0.25" in md
    assert not (out / "bad1").exists() and (out / "a" / "result.txt").read_text() == "a"
    assert (out / "a" / "solve.log").read_text().strip() == "solving a"
    assert not list(out.glob(".*"))  # no staging folder left behind
    assert any("ETA" in line for line in lines)


def test_resume_skips_finished_sessions(tmp_path):
    sessions = _tree(tmp_path, ["a", "b", "c"])
    out = tmp_path / "out"
    run_batch(sessions, out, FakeSolver(), say=lambda m: None)
    again = FakeSolver()
    summary = run_batch(sessions, out, again, say=lambda m: None)
    assert again.calls == [] and summary.resumed == ["a", "b", "c"] and summary.solved == ["a", "b", "c"]
    assert summary.metrics["b"]["object_rot_err_deg"] == 1.0  # read back from the earlier run
    redo = FakeSolver()
    run_batch(sessions, out, redo, say=lambda m: None, redo=True)
    assert redo.calls == ["a", "b", "c"]


def test_killed_run_continues_with_the_rest(tmp_path):
    sessions = _tree(tmp_path, ["a", "b", "c", "d"])
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        run_batch(sessions, out, FakeSolver(interrupt_on="c"), say=lambda m: None)
    assert is_finished(out, "a") and is_finished(out, "b")
    assert not (out / "c").exists()  # the half-solved session left no folder
    assert json.loads((out / "summary.json").read_text())["solved"] == ["a", "b"]
    rest = FakeSolver()
    summary = run_batch(sessions, out, rest, say=lambda m: None)
    assert rest.calls == ["c", "d"]
    assert summary.solved == ["a", "b", "c", "d"] and summary.resumed == ["a", "b"]
    assert not list(out.glob(".*"))


def test_discovery_skips_hidden_and_output_folders(tmp_path):
    for n in ("s1", ".hidden", "s2", "out"):
        (tmp_path / n).mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in discover_sessions(tmp_path, exclude=tmp_path / "out")] == ["s1", "s2"]


def test_progress_line_has_eta():
    assert progress_line(0, 4, 0.0, None).endswith("ETA ?")
    line = progress_line(2, 4, 65.0, 65.0, width=4)
    assert line.startswith("[##--] 2/4") and "elapsed 1:05" in line and "ETA 1:05" in line
