"""Provenance of results (``hoi_sim.provenance``): the commit of the source tree a process imported the package from,
and one entry per training session in ``nn/provenance.json``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from hoi_sim import __version__
from hoi_sim.provenance import PROVENANCE_JSON, provenance, record_session, source_commit

ROOT = Path(__file__).resolve().parents[2]


def test_commit_is_the_checkouts_head() -> None:
    p = provenance()
    assert p["hoi_sim"] == __version__ and p["libraries"]["torch"] and p["libraries"]["mujoco"]
    if not (ROOT / ".git").exists():
        pytest.skip("the package is not imported from a git checkout here")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert p["commit"] == head and isinstance(p["dirty"], bool)


def test_a_folder_outside_git_has_no_commit(tmp_path) -> None:
    assert source_commit(tmp_path) == (None, None)


def test_sessions_append_and_a_torn_file_is_kept_aside(tmp_path) -> None:
    record_session(tmp_path, epoch=0)
    entries = record_session(tmp_path, epoch=7)
    assert [e["epoch"] for e in entries] == [0, 7]
    assert json.loads((tmp_path / PROVENANCE_JSON).read_text()) == entries
    (tmp_path / PROVENANCE_JSON).write_text("{not json")
    assert [e["epoch"] for e in record_session(tmp_path, epoch=9)] == [9]
    assert (tmp_path / "provenance.json.bad").read_text() == "{not json"
