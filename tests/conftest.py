"""Shared fixtures: paths to ../shared data (tests that need it skip with a reason when it is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HOI_SIM_SHARED", REPO.parent / "shared"))
OMOMO_DIR = SHARED / "data" / "intermimic" / "OMOMO_new"
OBJECTS_DIR = SHARED / "data" / "intermimic" / "objects"
REFERENCE_DIR = SHARED / "reference"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path} (../shared data is not beside this checkout)")
    return path


@pytest.fixture(scope="session")
def omomo_dir() -> Path:
    return _need(OMOMO_DIR)


@pytest.fixture(scope="session")
def omomo_clips(omomo_dir: Path) -> list[Path]:
    return sorted(omomo_dir.glob("*.pt"))


@pytest.fixture(scope="session")
def objects_dir() -> Path:
    return _need(OBJECTS_DIR)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return _need(REFERENCE_DIR)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small tensors: one intra-op torch thread avoids oversubscribing a loaded 2-core machine
    (use with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
