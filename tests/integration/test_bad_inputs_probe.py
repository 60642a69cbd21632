"""The hostile-input probe (tests/probes/bad_inputs.py), its fast subset: every crafted bad input to validate,
convert, train, replay, eval and synth exits non-zero with one error line naming the file or field, and leaves the
files it was given unchanged (issue 14 §6)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).resolve().parents[1] / "probes" / "bad_inputs.py"

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _module():
    spec = importlib.util.spec_from_file_location("hoi_sim_bad_inputs_probe", PROBE)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_bad_inputs_are_refused_cleanly() -> None:
    probe = _module()
    lines: list[str] = []
    outcomes = probe.run_probes(fast=True, log=lines.append)
    assert len(outcomes) >= 30
    assert {o.probe.name.split(":")[0] for o in outcomes} >= {"validate", "convert", "train", "replay", "eval",
                                                                "synth"}
    failed = [f"{o.probe.name}: {o.detail}" for o in outcomes if not o.ok]
    assert not failed, "\n".join(failed)
