"""Body − nearest object surface sample, the interaction-graph vector of InterMimic's observation: one search for
the simulated envs (``envs.hoi_env``) and for the reference clips (``motions.library``)."""

from __future__ import annotations

import numpy as np
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


class SurfaceSearch:
    """Body − nearest object surface sample for envs that each hold one clip's cloud: on the CPU a k-d tree per
    distinct cloud (``scipy.spatial.cKDTree``; exact, about 3× faster than :func:`nearest_surface_vec` at 64 envs ×
    52 bodies × 1024 samples), elsewhere :func:`nearest_surface_vec`. The tree measures in float64 where the brute
    force scores in float32, so the two may pick different samples only where two lie at the same distance to
    within float32 rounding.

    Args:
        points: [M,P,3] surface samples of each clip's object, object frame (m).
    """

    def __init__(self, points: torch.Tensor) -> None:
        self.points = points
        self._trees: list | None = None
        self._cloud_of_clip: torch.Tensor | None = None
        if points.device.type != "cpu" or points.shape[0] == 0:
            return
        from scipy.spatial import cKDTree

        clouds = points.detach().numpy()
        seen: dict[bytes, int] = {}  # a cloud's bytes → its index among the distinct clouds
        cloud_of, first = [], []  # per clip: its distinct cloud; per distinct cloud: its first clip
        for i, c in enumerate(clouds):
            k = seen.setdefault(c.tobytes(), len(seen))
            if k == len(first):
                first.append(i)
            cloud_of.append(k)
        self._trees = [cKDTree(clouds[i].astype(np.float64)) for i in first]
        self._clouds = [points[i] for i in first]
        self._cloud_of_clip = torch.tensor(cloud_of, dtype=torch.long)

    def vec(self, body_pos: torch.Tensor, obj_pos: torch.Tensor, obj_rot: torch.Tensor, clip_ids: torch.Tensor,
            workers: int = 1) -> torch.Tensor:
        """[N,B,3] world vectors body − nearest sample of clip ``clip_ids[i]``'s cloud, for body_pos [N,B,3],
        obj_pos [N,3], obj_rot [N,3,3] (object → world); a row with a non-finite input gives non-finite output.
        ``workers``: threads of the k-d tree query (the same answer on any number)."""
        if self._trees is None:
            return nearest_surface_vec(body_pos, obj_pos, obj_rot, self.points[clip_ids])
        local = (body_pos - obj_pos[:, None]) @ obj_rot
        near = torch.full_like(local, float("nan"))
        cloud = self._cloud_of_clip[clip_ids.cpu()]
        finite = torch.isfinite(local).all(-1)  # [N,B]
        for k, tree in enumerate(self._trees):
            sel = finite & (cloud == k)[:, None]
            q = local[sel]
            if q.shape[0]:
                _, idx = tree.query(q.numpy().astype(np.float64), k=1, workers=workers)
                near[sel] = self._clouds[k][torch.from_numpy(idx)]
        return (local - near) @ obj_rot.transpose(-1, -2)
