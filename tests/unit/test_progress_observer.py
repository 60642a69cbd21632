"""ProgressObserver columns from fake step infos (no training): episode length in s and as a clip fraction,
periodic evaluation columns (empty on other epochs, header fixed from the first row), the best-evaluation checkpoint
(kept across a resumed process), the ETA in the progress line, and a failing evaluator that does not stop training."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from hoi_sim.train.agent import EPISODE_COLUMNS, EVAL_COLUMNS, ProgressObserver, format_duration


class _Meter:
    def __init__(self, value: float, size: int = 1) -> None:
        self.value, self.current_size = value, size

    def get_mean(self) -> torch.Tensor:
        return torch.tensor([self.value])


def _algo(epoch: int = 1, frame: int = 0) -> SimpleNamespace:
    model = torch.nn.Linear(2, 2)
    return SimpleNamespace(game_rewards=_Meter(1.5), game_lengths=_Meter(20.0), frame=frame, epoch_num=epoch,
                           writer=None, model=model, get_full_state_weights=lambda: {"model": model.state_dict()})


def _infos(length: list[int], seconds: list[float] | None = None, frac: list[float] | None = None) -> dict:
    info: dict = {"episode_length": torch.tensor(length, dtype=torch.long)}
    if seconds is not None:
        info["episode_length_s"] = torch.tensor(seconds)
    if frac is not None:
        info["episode_clip_frac"] = torch.tensor(frac)
    return info


def _epoch(obs: ProgressObserver, algo: SimpleNamespace, epoch: int, infos: list[dict]) -> None:
    algo.epoch_num = epoch
    for info in infos:
        obs.process_infos(info, torch.zeros(0, 1, dtype=torch.long))
    obs.after_steps()
    algo.frame += 32
    obs.after_print_stats(algo.frame, epoch, 0.0)


def _rows(run: Path) -> tuple[list[str], list[dict[str, str]]]:
    with (run / "progress.csv").open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def test_episode_columns_average_finished_episodes(tmp_path: Path) -> None:
    obs = ProgressObserver(tmp_path, max_epochs=100, save_every=1000, progress_every=0, save_initial=False)
    algo = _algo()
    obs.after_init(algo)
    # epoch 1: three episodes finish over two steps (1.0 s / 0.5, 2.0 s / 1.0, 0.6 s / 0.3); a stale nonzero
    # value where episode_length is 0 is ignored
    _epoch(obs, algo, 1, [_infos([30, 0, 0], [1.0, 9.0, 0.0], [0.5, 9.0, 0.0]),
                          _infos([0, 60, 18], [0.0, 2.0, 0.6], [0.0, 1.0, 0.3])])
    # epoch 2: no episode finished -> NaN
    _epoch(obs, algo, 2, [_infos([0, 0, 0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])])
    # epoch 3: the env does not report the new keys -> NaN
    _epoch(obs, algo, 3, [_infos([5, 0, 0])])
    header, rows = _rows(tmp_path)
    for col in (*EPISODE_COLUMNS, *EVAL_COLUMNS):
        assert col in header
    assert float(rows[0]["mean_episode_s"]) == pytest.approx(3.6 / 3)
    assert float(rows[0]["mean_episode_clip_frac"]) == pytest.approx(0.6)
    for r in rows[1:]:
        assert math.isnan(float(r["mean_episode_s"])) and math.isnan(float(r["mean_episode_clip_frac"]))
    assert all(r[c] == "" for r in rows for c in EVAL_COLUMNS)  # no evaluator: empty eval columns


def test_eval_columns_on_eval_epochs_and_progress_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    calls = []

    def evaluator(model: torch.nn.Module) -> dict[str, float]:
        calls.append(model)
        return {"eval_mpjpe_mm": 80.0 - len(calls), "eval_clip_frac": 0.5, "eval_success": 0.25}

    algo = _algo()
    obs = ProgressObserver(tmp_path, max_epochs=10, save_every=1000, progress_every=1, save_initial=False,
                           eval_every=2, evaluator=evaluator)
    obs.after_init(algo)
    for epoch in range(1, 5):
        _epoch(obs, algo, epoch, [_infos([3, 0], [0.1, 0.0], [0.2, 0.0])])
    assert calls == [algo.model, algo.model]
    header, rows = _rows(tmp_path)
    assert header.index("eval_mpjpe_mm") > header.index("fps")  # in the header from the first (non-eval) row
    assert [r["eval_mpjpe_mm"] for r in rows[::2]] == ["", ""]
    assert [float(r["eval_mpjpe_mm"]) for r in rows[1::2]] == [79.0, 78.0]
    assert float(rows[1]["eval_clip_frac"]) == 0.5 and float(rows[3]["eval_success"]) == 0.25
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and all(" eta " in line for line in lines)
    assert "eval_mpjpe" not in lines[0]
    assert "eval_mpjpe 79.0mm (epoch 2)" in lines[2]  # the latest evaluation is repeated until the next
    assert "eval_mpjpe 78.0mm (epoch 4)" in lines[3]
    assert "(0.10s, 20% of clip)" in lines[0]


def test_best_checkpoint_follows_the_furthest_evaluation(tmp_path: Path) -> None:
    import json

    # (clip fraction, MPJPE) per evaluation: further wins; at equal fraction lower MPJPE wins; NaN is the worst
    nan = float("nan")
    results = iter([(nan, nan), (0.3, 90.0), (0.6, 120.0), (0.5, 50.0), (0.6, 110.0), (nan, nan), (0.6, 115.0)])

    def evaluator(model: torch.nn.Module) -> dict[str, float]:
        frac, mpjpe = next(results)
        with torch.no_grad():
            model.bias.fill_(mpjpe)  # marks which policy was saved
        return {"eval_mpjpe_mm": mpjpe, "eval_clip_frac": frac, "eval_success": 0.0}

    def best() -> tuple[int, float]:
        meta = json.loads((tmp_path / "nn" / "best.json").read_text())
        bias = torch.load(tmp_path / "nn" / "best.pth", weights_only=True)["model"]["bias"]
        return meta["epoch"], float(bias[0])

    algo = _algo()
    obs = ProgressObserver(tmp_path, max_epochs=10, save_every=1000, progress_every=0, save_initial=False,
                           eval_every=1, evaluator=evaluator)
    obs.after_init(algo)
    seen = []
    # the first evaluation (nothing survived: NaN, written as null) is the best so far, until any other; a resumed
    # process reads null back as the worst
    _epoch(obs, algo, 1, [])
    assert json.loads((tmp_path / "nn" / "best.json").read_text())["eval_clip_frac"] is None
    obs = ProgressObserver(tmp_path, max_epochs=10, save_every=1000, progress_every=0, save_initial=False,
                           eval_every=1, evaluator=evaluator)
    obs.after_init(algo)
    for epoch in range(2, 6):
        _epoch(obs, algo, epoch, [])
        seen.append(best())
    assert seen == [(2, 90.0), (3, 120.0), (3, 120.0), (5, 110.0)]
    # a resumed process reads the best so far back: a NaN evaluation and a worse one keep epoch 5
    obs = ProgressObserver(tmp_path, max_epochs=10, save_every=1000, progress_every=0, save_initial=False,
                           eval_every=1, evaluator=evaluator)
    obs.after_init(algo)
    for epoch in (6, 7):
        _epoch(obs, algo, epoch, [])
    assert best() == (5, 110.0)


def test_failing_evaluator_leaves_columns_empty(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    def evaluator(model: torch.nn.Module) -> dict[str, float]:
        raise RuntimeError("boom")

    algo = _algo()
    obs = ProgressObserver(tmp_path, max_epochs=10, save_every=1000, progress_every=0, save_initial=False,
                           eval_every=1, evaluator=evaluator)
    obs.after_init(algo)
    _epoch(obs, algo, 1, [])
    _, rows = _rows(tmp_path)
    assert rows[0]["eval_mpjpe_mm"] == ""
    assert "evaluation at epoch 1 failed (RuntimeError: boom)" in capsys.readouterr().out


def test_format_duration() -> None:
    assert format_duration(723) == "12m03s"
    assert format_duration(0.4) == "0m00s"
    assert format_duration(3723) == "1h02m03s"
    assert format_duration(float("nan")) == "n/a"
