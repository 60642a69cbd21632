"""The fast path of the observations' nearest-sample search gives the same numbers, bit for bit, as the plain
formulation: chunked search (numpy argmin, one cloud shared by all envs), and the k-d tree search picks the same
samples."""

from __future__ import annotations

import torch

from hoi_sim import rotations as rot
from hoi_sim import skeleton as sk
from hoi_sim.objects.nearest import SurfaceSearch, nearest_surface_vec


def _plain_nearest(body_pos: torch.Tensor, obj_pos: torch.Tensor, obj_rot: torch.Tensor,
                   points_local: torch.Tensor) -> torch.Tensor:
    """The one-shot formulation: one batched product over all envs, torch's argmin."""
    local = (body_pos - obj_pos[:, None]) @ obj_rot
    score = torch.baddbmm((points_local ** 2).sum(-1)[:, None], local, points_local.transpose(-1, -2), alpha=-2.0)
    idx = score.argmin(-1)
    near = torch.gather(points_local, 1, idx[..., None].expand(idx.shape + (3,)))
    return (local - near) @ obj_rot.transpose(-1, -2)


def _case(n: int, shared: bool, seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    cloud = torch.randn(1 if shared else n, 256, 3, generator=g) * torch.tensor([0.8, 0.4, 0.35])
    pts = cloud.expand(n, -1, -1).contiguous() if shared else cloud
    body = torch.randn(n, sk.NUM_BODIES, 3, generator=g) * 0.6 + torch.tensor([0.0, 0.0, 0.9])
    obj_pos = torch.randn(n, 3, generator=g) * 0.1
    obj_rot = rot.quat_to_matrix(torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=-1))
    return body, obj_pos, obj_rot, pts


def test_nearest_surface_vec_equals_plain_search() -> None:
    for n, shared in ((13, True), (13, False), (1, True), (24, True)):  # 13: a chunk of 8 and a partial one
        for seed in range(5):
            args = _case(n, shared, seed)
            assert torch.equal(nearest_surface_vec(*args), _plain_nearest(*args)), (n, shared, seed)


def test_nearest_surface_vec_keeps_nan_envs_apart() -> None:
    body, obj_pos, obj_rot, pts = _case(10, True, 7)
    body[3] = float("nan")
    out = nearest_surface_vec(body, obj_pos, obj_rot, pts)
    ok = torch.ones(10, dtype=torch.bool)
    ok[3] = False
    assert torch.equal(out[ok], _plain_nearest(body[ok], obj_pos[ok], obj_rot[ok], pts[ok]))
    assert torch.isnan(out[3]).all()


def test_nearest_surface_vec_accepts_an_expanded_cloud() -> None:
    body, obj_pos, obj_rot, pts = _case(11, True, 9)
    assert torch.equal(nearest_surface_vec(body, obj_pos, obj_rot, pts[:1].expand(11, -1, -1)),
                       _plain_nearest(body, obj_pos, obj_rot, pts))


def test_surface_search_picks_the_brute_force_samples() -> None:
    """The k-d tree search (one tree per distinct cloud; clips 0 and 2 share one) against the brute force."""
    g = torch.Generator().manual_seed(11)
    clouds = torch.randn(2, 300, 3, generator=g) * torch.tensor([0.8, 0.4, 0.35])
    per_clip = torch.stack([clouds[0], clouds[1], clouds[0]])
    search = SurfaceSearch(per_clip)
    assert len(search._trees) == 2
    for seed in range(4):
        body, obj_pos, obj_rot, _ = _case(17, True, seed)
        clip = torch.randint(0, 3, (17,), generator=g)
        body[5, 3] = float("nan")  # one body of one env: that body alone comes out non-finite
        got = search.vec(body, obj_pos, obj_rot, clip)
        want = _plain_nearest(body, obj_pos, obj_rot, per_clip[clip])
        ok = torch.isfinite(want).all(-1)
        assert not ok[5, 3] and ok.sum() == 17 * sk.NUM_BODIES - 1
        assert torch.equal(got[ok], want[ok]), seed
        assert torch.isnan(got[5, 3]).all()
        threaded = search.vec(body, obj_pos, obj_rot, clip, workers=2)  # the env passes its backend's threads
        assert torch.equal(threaded[ok], got[ok]) and torch.isnan(threaded[5, 3]).all()
