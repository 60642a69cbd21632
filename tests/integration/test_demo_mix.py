"""The demo's solved and retargeted motion (``hoi-sim demo``'s synth → solve → convert, reduced) mixed with a sub2
and a sub8 clip under one action label (issue 12, acceptance): the three clips replay in one batch with every reset
within 1 mm of its reference, and ``train=cpu_small`` runs two epochs on the mixed subset on the MuJoCo backend.
Skips without ../shared."""

from __future__ import annotations

import csv
import json

import pytest

from hoi_sim.cli import main
from hoi_sim.motions.manifest import read_manifest

pytestmark = [pytest.mark.usefixtures("one_torch_thread"), pytest.mark.shared_data]

CLIPS = ("OMOMO_new/sub2_largetable_000.pt", "OMOMO_retarget_sub8/sub8_plasticbox_000.pt")


@pytest.fixture(scope="module")
def demo_motion(tmp_path_factory):
    """The demo's pipeline on a 24-frame scene at 96×96 (as ``hoi-sim demo --quick``), up to ``motion.npz``."""
    from hoi_sim.demo_scene import scripted_reach_motion
    from hoi_sim.motions import save_motion

    d = tmp_path_factory.mktemp("demo")
    save_motion(scripted_reach_motion(num_frames=24), d / "reference_motion.npz")
    for argv in (["synth", str(d / "reference_motion.npz"), "-o", str(d / "session"), "--size", "96x96"],
                 ["solve", str(d / "session"), "-o", str(d / "solve"), "--config", "fast", "--body", "proxy"],
                 ["convert", str(d / "solve" / "hoi_sequence.npz"), "-o", str(d / "motion.npz"), "--action",
                  "touch"]):
        assert main(argv) == 0, argv
    return d / "motion.npz"


@pytest.fixture(scope="module")
def manifest(demo_motion, omomo_dir, tmp_path_factory):
    root = omomo_dir.parent
    clips = [root / c for c in CLIPS]
    if not all(c.is_file() for c in clips):
        pytest.skip(f"needs {', '.join(map(str, clips))} (../shared data is not beside this checkout)")
    out = tmp_path_factory.mktemp("mix") / "mixed.csv"
    assert main(["manifest", *map(str, clips), str(demo_motion), "-o", str(out), "--action", "lift"]) == 0
    return out


def test_demo_motion_replays_in_one_batch_with_sub2_and_sub8(manifest, tmp_path) -> None:
    assert {c.action for c in read_manifest(manifest)} == {"lift"}
    out = tmp_path / "replay.json"
    assert main(["replay", str(manifest), "--subset", "lift", "--max-seconds", "0.3", "--collision", "convex_hull",
                 "--no-fix-penetration", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["env"] for r in rows] == [0, 1, 2] and {r["batch"] for r in rows} == {0}
    assert rows[2]["object"]["name"] == "object" and rows[2]["frames"] == 24  # the demo's own box
    assert len({r["object"]["hash"] for r in rows}) == 3 and len({r["skeleton"] for r in rows}) == 2
    for r in rows:
        assert r["reset_error_mm"] <= 1.0, r
        assert r["frames_survived"] >= 1


def test_cpu_small_trains_on_the_mixed_subset(manifest, tmp_path) -> None:
    run = tmp_path / "run"
    assert main(["train", f"motions={manifest}", "motions.subset=lift", "motions.fix_penetration=false", "env=test",
                 "sim=mujoco", "train=cpu_small", "num_envs=3", "train.units=[16]", "train.horizon_length=4",
                 "train.minibatch_size=12", "train.mini_epochs=1", "train.max_epochs=2", "train.eval_every=0",
                 "train.progress_every=0", f"out={run}"]) == 0
    rows = list(csv.DictReader((run / "progress.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert list(run.rglob("*.pth"))
