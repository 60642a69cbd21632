"""Body models behind one interface (SMPL-X parameters in, vertices/joints/keypoints out).

* :class:`SMPLXBody`: the real SMPL-X through ``smplx`` with the user's model file.
* :class:`ProxyBody`: the neutral humanoid's geoms, rigidly skinned; no licence needed (tests, demo).

:func:`load_body_model` picks SMPL-X when a model file is configured, else the proxy.
"""

from __future__ import annotations

import os

import torch

from hoi_sim.body.base import BodyModel, BodyOutput, BodyParams
from hoi_sim.body.proxy import ProxyBody
from hoi_sim.body.smplx_body import ENV_VAR, SMPLXBody, resolve_model_path


def load_body_model(kind: str = "auto", model_path: str | os.PathLike | None = None,
                    dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> BodyModel:
    """``kind``: 'smplx' (needs a model file), 'proxy', or 'auto' (SMPL-X when configured, else proxy)."""
    if kind == "proxy":
        return ProxyBody(dtype=dtype, device=device)
    if kind == "smplx" or (kind == "auto" and resolve_model_path(model_path) is not None):
        return SMPLXBody(model_path, dtype=dtype, device=device)
    if kind != "auto":
        raise ValueError(f"unknown body model kind {kind!r} (smplx, proxy, auto)")
    return ProxyBody(dtype=dtype, device=device)


__all__ = ["ENV_VAR", "BodyModel", "BodyOutput", "BodyParams", "ProxyBody", "SMPLXBody", "load_body_model",
           "resolve_model_path"]
