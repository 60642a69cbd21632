"""Issue 14 §6: the reliability defects, each with a test that failed before its fix."""

from __future__ import annotations

import json
import math

import numpy as np


def _strict_load(text: str):
    def refuse(name: str):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


# --- defect 7: strict JSON ------------------------------------------------------------------------------------------
def test_json_output_is_strict(tmp_path) -> None:
    from hoi_sim.io_utils import dumps_json, write_json_atomic

    data = {"a": float("nan"), "b": [np.float32(1.5), float("inf"), -math.inf], "c": np.arange(2), "d": (1, 2)}
    assert _strict_load(dumps_json(data)) == {"a": None, "b": [1.5, None, None], "c": [0, 1], "d": [1, 2]}
    write_json_atomic(tmp_path / "m.json", {"x": float("inf")})
    assert _strict_load((tmp_path / "m.json").read_text()) == {"x": None}
