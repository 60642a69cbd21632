"""Humanoid skeletons from SMPL-X shape parameters (betas), using the ``smplx`` package and the user's model file.

The SMPL-X model file is licensed and never shipped: its location comes from an argument or the environment
variable ``HOI_SIM_SMPLX_MODEL`` (a folder holding ``smplx/SMPLX_{GENDER}.npz``, the folder ``smplx/`` itself, or
the ``.npz`` file). Tests use the synthetic file of :mod:`hoi_sim.testing.smplx_fixture`.

Frames: SMPL-X is y up, z forward, x left; the humanoid is z up, x forward, y left, ``v_h = C v_s`` with
``C = SMPLX_TO_HUMANOID`` (docs/contracts.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hoi_sim.errors import InputError
from hoi_sim.skeleton import NUM_BODIES, PARENTS, SMPLX_JOINT_IDS

SMPLX_MODEL_ENV = "HOI_SIM_SMPLX_MODEL"
SMPLX_TO_HUMANOID = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
"""C: SMPL-X axes → humanoid axes, ``v_h = C v_s``."""
GENDERS = ("neutral", "male", "female")


def resolve_model_path(model_path: str | os.PathLike | None = None, gender: str = "neutral") -> Path:
    """The folder that ``smplx.create`` expects (it holds ``smplx/``), or the ``.npz`` file itself.

    Args:
        model_path: folder or file; None reads ``$HOI_SIM_SMPLX_MODEL``.
        gender: ``neutral``, ``male`` or ``female`` (picks ``SMPLX_{GENDER}.npz``).

    Raises:
        InputError: no path given, or no SMPL-X file for that gender there.
    """
    if gender not in GENDERS:
        raise InputError(f"gender must be one of {GENDERS}, got {gender!r}")
    if model_path is None:
        env = os.environ.get(SMPLX_MODEL_ENV)
        if not env:
            raise InputError(f"no SMPL-X model: pass model_path or set ${SMPLX_MODEL_ENV} to the folder holding "
                             "smplx/SMPLX_NEUTRAL.npz (the model is licensed and is not shipped)")
        model_path = env
    path = Path(model_path).expanduser()
    fname = f"SMPLX_{gender.upper()}.npz"
    if path.is_file():
        return path
    if (path / "smplx" / fname).is_file():
        return path
    if path.name == "smplx" and (path / fname).is_file():
        return path.parent
    raise InputError(f"SMPL-X model file {fname} not found under {path} (expected {path / 'smplx' / fname})")


def offsets_from_joints(joints_smplx: np.ndarray) -> np.ndarray:
    """Bone offsets of the humanoid from SMPL-X rest joints.

    Args:
        joints_smplx: [55, 3] (or more rows; the first 55 are used) SMPL-X joint positions (m) in the SMPL-X frame,
            at zero pose (the rest skeleton).

    Returns:
        offsets [52, 3] float64 (m), humanoid frame: ``C (J[id(b)] − J[id(parent(b))])``, row 0 zero.
    """
    j = np.asarray(joints_smplx, dtype=np.float64)
    if j.ndim != 2 or j.shape[0] < 55 or j.shape[1] != 3:
        raise InputError(f"SMPL-X joints must have shape (55, 3), got {j.shape}")
    ids = np.array(SMPLX_JOINT_IDS)
    parent_ids = np.array([SMPLX_JOINT_IDS[max(p, 0)] for p in PARENTS])
    bones = j[ids] - j[parent_ids]
    offsets = bones @ SMPLX_TO_HUMANOID.T
    offsets[0] = 0.0
    assert offsets.shape == (NUM_BODIES, 3)
    return offsets


def rest_joints_smplx(
    model_path: str | os.PathLike | None, betas: np.ndarray | Sequence[float], gender: str = "neutral"
) -> np.ndarray:
    """SMPL-X rest joints [55, 3] (m, SMPL-X frame, zero pose, zero translation) for shape ``betas`` [S]."""
    import smplx  # heavy import (torch); only needed here
    import torch

    b = np.asarray(betas, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(b)):
        raise InputError("betas contain NaN or inf")
    root = resolve_model_path(model_path, gender)
    model = smplx.create(str(root), model_type="smplx", gender=gender, ext="npz", flat_hand_mean=True,
                         use_pca=False, num_betas=max(len(b), 1))
    n = int(model.num_betas)
    if len(b) > n:
        if np.any(b[n:] != 0.0):
            raise InputError(f"the SMPL-X model at {root} has {n} shape coefficients; got {len(b)} nonzero betas")
        b = b[:n]
    b = np.pad(b, (0, n - len(b)))
    with torch.no_grad():
        out = model(betas=torch.as_tensor(b, dtype=torch.float32)[None], return_verts=False)
    return out.joints[0, :55].double().numpy()


def offsets_from_smplx(
    model_path: str | os.PathLike | None, betas: np.ndarray | Sequence[float], gender: str = "neutral"
) -> np.ndarray:
    """Humanoid bone offsets [52, 3] (m, humanoid frame) of the SMPL-X body with shape ``betas`` [S].

    Args:
        model_path: SMPL-X model location (see :func:`resolve_model_path`); None reads ``$HOI_SIM_SMPLX_MODEL``.
        betas: shape coefficients [S]; missing trailing ones are zero.
        gender: ``neutral``, ``male`` or ``female``.
    """
    return offsets_from_joints(rest_joints_smplx(model_path, betas, gender))

