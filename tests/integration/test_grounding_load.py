"""Grounding at load on a real clip (skips without ../shared): what ``convert`` says it did, and the reset drop in
PD replay before and after (single convex hull; the penetration fix, which needs coacd hulls, is off here)."""

from __future__ import annotations

import pytest

from hoi_sim.cli import main

CLIP = "sub2_largetable_000.pt"
pytestmark = [pytest.mark.shared_data, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def clip(omomo_dir, objects_dir):
    path = omomo_dir / CLIP
    if not path.exists():
        pytest.skip(f"{path} missing")
    return path, objects_dir


def test_convert_says_what_grounding_did(clip, tmp_path, capsys) -> None:
    from hoi_sim.motions import load_motion, validate_motion
    from hoi_sim.motions.grounding import foot_heights, report_of

    path, objects = clip
    assert main(["convert", str(path), "-o", str(tmp_path / "g.npz"), "--objects", str(objects), "--ground",
                 "--no-fix-penetration"]) == 0
    out = capsys.readouterr().out
    assert "grounding: dz -" in out and "median stance foot" in out and "per-frame contact" in out
    m = load_motion(tmp_path / "g.npz")
    assert validate_motion(m) == []
    rep = report_of(m)
    assert rep is not None and rep.dz_m < -0.04 and abs(rep.median_after_m) <= 0.01 and abs(rep.lowest_after_m) <= 0.002
    assert foot_heights(m.body_pos[:1], m.body_quat[:1], m.skeleton_offsets).min() == pytest.approx(0.0, abs=0.002)


def test_reset_drop_before_and_after(clip) -> None:
    from hoi_sim.eval.replay import replay_pd
    from hoi_sim.motions.manifest import load_clip
    from hoi_sim.sim.config import SimConfig

    path, objects = clip
    cfg = SimConfig.for_backend("mujoco")
    raw = load_clip(path, objects, ground=False, fix_penetration=False)
    grounded = load_clip(path, objects, fix_penetration=False)
    before = replay_pd(raw, cfg, max_seconds=0.1, collision="convex_hull")["reset_drop_mm"]
    after = replay_pd(grounded, cfg, max_seconds=0.1, collision="convex_hull")["reset_drop_mm"]
    assert before > 40.0  # the feet start ~55 mm above the floor: the humanoid falls
    # on the floor it only sags (the PD holds a bent pose with an error; ~3 mm even for the straight zero pose)
    assert after < 10.0 and after < before / 4
