"""``hoi-sim render``: a decodable mp4 of a policy rollout with the reference ghost, and of a motion file."""

from __future__ import annotations

import ctypes.util
from pathlib import Path

import numpy as np
import pytest

from hoi_sim.cli import main

# no skip: `make setup` installs OSMesa, so a machine without a headless GL library is a set-up failure
assert ctypes.util.find_library("EGL") or ctypes.util.find_library("OSMesa"), \
    "no headless GL library (libEGL or libOSMesa): run `make setup`, which installs libosmesa6"


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    from hoi_sim.envs.toy import toy_motion
    from hoi_sim.motions import save_motion

    return save_motion(toy_motion(12, seed=2, name="walk"), tmp_path_factory.mktemp("clip") / "walk.npz")


def _frames(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    assert path.is_file() and path.stat().st_size > 1000
    return iio.imread(path)


def _coverage(frame: np.ndarray) -> tuple[float, float]:
    """Fractions of pixels in the simulated humanoid's orange and the ghost's blue."""
    f = frame.astype(int)
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    orange = (r > b + 50) & (r > g + 20)
    blue = b > r + 50
    return float(orange.mean()), float(blue.mean())


def test_render_policy_rollout_with_ghost(clip: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert main(["train", f"motions={clip}", f"out={run}", "env=test", "train=cpu_small", "num_envs=2",
                 "train.units=[16]", "train.horizon_length=4", "train.minibatch_size=8", "train.mini_epochs=1",
                 "train.max_epochs=1", "train.progress_every=0"]) == 0
    out = tmp_path / "rollout.mp4"
    assert main(["render", str(clip), "-c", str(run), "-o", str(out), "--width", "320", "--height", "240",
                 "--frames", "8", "--ghost-offset", "0", "1.0", "0"]) == 0
    frames = _frames(out)
    assert frames.ndim == 4 and frames.shape[1:] == (240, 320, 3) and 2 <= frames.shape[0] <= 9
    orange, blue = _coverage(frames[0])
    assert orange > 0.01 and blue > 0.005  # both humanoids are visible


def test_render_motion_file(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "motion.mp4"
    assert main(["render", str(clip), "-o", str(out), "--width", "320", "--height", "240", "--frames", "5"]) == 0
    frames = _frames(out)
    assert frames.shape[0] == 5
    orange, blue = _coverage(frames[-1])
    assert orange > 0.01 and blue < 0.001  # no ghost without a policy


def test_render_bad_size(clip: Path, tmp_path: Path) -> None:
    assert main(["render", str(clip), "-o", str(tmp_path / "x.mp4"), "--width", "100"]) == 1
