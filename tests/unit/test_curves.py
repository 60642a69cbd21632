"""``plot_runs`` and ``hoi-sim plot`` on small synthetic progress.csv files: a valid PNG, clear errors for a
missing folder, a missing or empty progress.csv and a missing column."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from hoi_sim.cli import main
from hoi_sim.errors import InputError
from hoi_sim.viz.curves import plot_runs, read_progress

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HEADER = ["epoch", "frames", "mean_reward", "mean_episode_length", "mean_episode_s", "mean_episode_clip_frac", "fps",
          "elapsed_s", "eval_mpjpe_mm", "eval_clip_frac", "eval_success", "ended_fall", "term_tr"]


def _write_run(run: Path, epochs: int = 6, eval_every: int = 2, header: list[str] = HEADER) -> Path:
    run.mkdir(parents=True, exist_ok=True)
    with (run / "progress.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        for e in range(1, epochs + 1):
            ev = e % eval_every == 0
            w.writerow({"epoch": e, "frames": 64 * e, "mean_reward": 0.1 * e, "mean_episode_length": 10 + e,
                        "mean_episode_s": "nan" if e == 1 else 0.3 + 0.05 * e, "mean_episode_clip_frac": 0.1 * e,
                        "fps": 500 + e, "elapsed_s": 2.0 * e, "eval_mpjpe_mm": 100 - e if ev else "",
                        "eval_clip_frac": 0.1 * e if ev else "", "eval_success": 0.0 if ev else "", "ended_fall": 1,
                        "term_tr": 0.5})
    return run


def _is_png(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG_MAGIC


def test_plot_two_runs(tmp_path: Path) -> None:
    a = _write_run(tmp_path / "run_a")
    b = _write_run(tmp_path / "run_b", epochs=4, eval_every=3)
    out = plot_runs([a, b])
    assert out == a / "curves.png" and _is_png(out)
    out2 = plot_runs([a, b], tmp_path / "sub" / "c.png", x="elapsed_s")
    assert _is_png(out2)
    cols = read_progress(a)
    assert cols["eval_mpjpe_mm"][0] != cols["eval_mpjpe_mm"][0]  # empty cell -> NaN
    assert cols["eval_mpjpe_mm"][1] == 98.0
    assert not list(tmp_path.rglob(".*.png"))  # no temp file left behind


def test_plot_older_run_without_new_columns(tmp_path: Path) -> None:
    old = _write_run(tmp_path / "old", header=["epoch", "frames", "mean_reward", "mean_episode_length", "fps",
                                               "elapsed_s"])
    assert _is_png(plot_runs([old], x="frames"))


def test_plot_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such run folder"):
        plot_runs([tmp_path / "nope"])
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(InputError, match="no progress.csv"):
        plot_runs([tmp_path / "empty_dir"])
    (tmp_path / "blank").mkdir()
    (tmp_path / "blank" / "progress.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        plot_runs([tmp_path / "blank"])
    header_only = tmp_path / "header_only"
    header_only.mkdir()
    (header_only / "progress.csv").write_text(",".join(HEADER) + "\n")
    with pytest.raises(InputError, match="empty"):
        plot_runs([header_only])
    bad = _write_run(tmp_path / "bad", header=["epoch", "frames", "fps"])
    with pytest.raises(InputError, match=r"missing column\(s\) \['mean_reward'\]"):
        plot_runs([bad])
    good = _write_run(tmp_path / "good", header=["epoch", "mean_reward"])
    with pytest.raises(InputError, match=r"missing column\(s\) \['elapsed_s'\]"):
        plot_runs([good], x="elapsed_s")
    with pytest.raises(InputError, match="x must be one of"):
        plot_runs([good], x="time")


def test_cli_plot(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a = _write_run(tmp_path / "a")
    b = _write_run(tmp_path / "b")
    out = tmp_path / "curves_ab.png"
    assert main(["plot", str(a), str(b), "-o", str(out), "--x", "frames"]) == 0
    assert _is_png(out) and str(out) in capsys.readouterr().out
    assert main(["plot", str(a)]) == 0 and _is_png(a / "curves.png")
    assert main(["plot", str(a), str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "hoi-sim plot: error:" in err[0] and "missing" in err[0]
    (tmp_path / "e").mkdir()
    (tmp_path / "e" / "progress.csv").write_text("")
    assert main(["plot", str(tmp_path / "e")]) == 1
    with pytest.raises(SystemExit) as exc:
        main(["plot", "--help"])
    assert exc.value.code == 0
    with pytest.raises(SystemExit) as exc:
        main(["plot"])  # RUN is required
    assert exc.value.code == 2
