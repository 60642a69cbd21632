"""Body − nearest object surface sample, the interaction-graph vector of InterMimic's observation: one search for
the simulated envs (``envs.hoi_env``) and for the reference clips (``motions.library``)."""

from __future__ import annotations

import torch

NEAREST_CHUNK = 8
"""Envs per chunk of the brute-force nearest-point search: a chunk's [8, 52, P] score table stays in cache."""


def nearest_surface_vec(body_pos: torch.Tensor, obj_pos: torch.Tensor, obj_rot: torch.Tensor,
                        points_local: torch.Tensor) -> torch.Tensor:
    """Body − nearest object surface sample (brute force, as InterMimic), computed in the object frame.

    Args:
        body_pos [N,52,3] world; obj_pos [N,3]; obj_rot [N,3,3] object → world; points_local [N,P,3] object frame.

    Returns:
        [N,52,3] world vectors.
    """
    local = (body_pos - obj_pos[:, None]) @ obj_rot  # Rᵀ(x − p) as row vectors
    # argmin_j ‖x − p_j‖² = argmin_j (‖p_j‖² − 2 x·p_j): one batched matrix product, no square roots. Done a few
    # envs at a time (each env's product is computed alone either way, so the scores are the same), and on the
    # CPU numpy's argmin (same first-minimum rule as torch's) is several times faster than torch's. The envs of
    # one backend usually share one cloud (one object): then ‖p_j‖² is computed once (a caller that knows it may
    # pass the cloud expanded, ``cloud.expand(N, -1, -1)``, which skips the comparison).
    n = local.shape[0]
    if n > 1 and (points_local.stride(0) == 0
                  or torch.equal(points_local[1:], points_local[:1].expand(n - 1, -1, -1))):
        sq = (points_local[:1] ** 2).sum(-1)[:, None].expand(n, 1, -1)
    else:
        sq = (points_local ** 2).sum(-1)[:, None]
    pts_t = points_local.transpose(-1, -2)
    idx = torch.empty(local.shape[:2], dtype=torch.long, device=local.device)
    on_cpu = local.device.type == "cpu"
    for s in range(0, n, NEAREST_CHUNK):
        sl = slice(s, s + NEAREST_CHUNK)
        score = torch.baddbmm(sq[sl], local[sl], pts_t[sl], alpha=-2.0)
        idx[sl] = torch.from_numpy(score.numpy().argmin(-1)) if on_cpu else score.argmin(-1)
    near = torch.gather(points_local, 1, idx[..., None].expand(idx.shape + (3,)))
    return (local - near) @ obj_rot.transpose(-1, -2)
