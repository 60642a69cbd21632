"""Soft silhouette renderer: agreement with a hard rasterisation, gradients against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hoi_sim.body import BodyParams, ProxyBody
from hoi_sim.body.mesh import box_mesh
from hoi_sim.recon.render import hard_silhouette, render_silhouette, render_size, scale_intrinsics

torch.set_num_threads(1)
K_FULL = torch.tensor([[600.0, 0.0, 320.0], [0.0, 600.0, 240.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a & b).sum()) / max(float((a | b).sum()), 1.0)


@pytest.fixture(scope="module")
def body_scene() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, int]:
    body = ProxyBody(dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    p = BodyParams.zeros(4, torch.float64)
    p.body_pose.copy_(0.3 * torch.randn(4, 63, generator=g, dtype=torch.float64))
    p.global_orient[:, 0] = np.pi  # SMPL-X y-up → camera y-down
    p.transl[:, 2] = 3.0
    p.transl[:, 1] = 0.3
    h, w, s = render_size(480, 640, 0.25, 160)
    return body(p).sample_vertices, body.sample_faces, scale_intrinsics(K_FULL, s), h, w


def test_soft_matches_hard_rasterisation(body_scene) -> None:
    v, f, K, h, w = body_scene
    soft, _ = render_silhouette(v, f, K, h, w, sigma=0.25)
    hard = hard_silhouette(v, f, K, h, w)
    assert hard.sum() > 500
    assert _iou(soft > 0.5, hard) >= 0.95
    # a box seen at an angle, both windings (double-sided faces)
    bv, bf = box_mesh(np.zeros(3), np.array([0.3, 0.2, 0.1]))
    R = torch.as_tensor(np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0])
    verts = (torch.as_tensor(bv) @ R.T + torch.tensor([0.1, 0.0, 2.5], dtype=torch.float64))[None]
    for faces in (torch.as_tensor(bf), torch.as_tensor(bf[:, ::-1].copy())):
        s2, _ = render_silhouette(verts, faces, K, h, w, sigma=0.25)
        assert _iou(s2 > 0.5, hard_silhouette(verts, faces, K, h, w)) >= 0.95


def test_values_in_unit_interval_and_empty_off_screen(body_scene) -> None:
    v, f, K, h, w = body_scene
    soft, _ = render_silhouette(v, f, K, h, w)
    assert float(soft.min()) >= 0.0 and float(soft.max()) <= 1.0
    behind = v.clone()
    behind[..., 2] = -behind[..., 2]
    empty, _ = render_silhouette(behind, f, K, h, w)
    assert float(empty.max()) == 0.0


def test_depth_is_nearest_surface(body_scene) -> None:
    _, _, K, h, w = body_scene
    v1, f1 = box_mesh(np.array([0.0, 0.0, 2.0]), np.array([0.2, 0.2, 0.05]))
    v2, f2 = box_mesh(np.array([0.1, 0.0, 4.0]), np.array([0.6, 0.6, 0.05]))
    verts = torch.as_tensor(np.concatenate([v1, v2]))[None]
    faces = torch.as_tensor(np.concatenate([f1, f2 + len(v1)]))
    sil, depth = render_silhouette(verts, faces, K, h, w, with_depth=True)
    on = sil[0] > 0.9
    d = depth[0][on]
    assert torch.isfinite(d).all()
    near = (d < 3.0).sum()
    # per-face mean depth: within the 10 cm thickness of the nearer box, never the far one
    assert near > 50 and (d[d < 3.0] - 2.0).abs().max() <= 0.051 and (d[d > 3.0] - 4.0).abs().max() <= 0.051


def test_gradient_sign_agrees_with_finite_differences(body_scene) -> None:
    v, f, K, h, w = body_scene
    v = v[:1]
    target = (hard_silhouette(v + torch.tensor([0.04, -0.03, 0.0], dtype=torch.float64), f, K, h, w)).double()

    def loss(shift: torch.Tensor) -> torch.Tensor:
        s, _ = render_silhouette(v + shift, f, K, h, w, sigma=0.5)
        return ((s - target) ** 2).sum()

    shift = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    loss(shift).backward()
    g = shift.grad.clone()
    eps = 5e-3
    fd = torch.stack([(loss(eps * e) - loss(-eps * e)) / (2 * eps) for e in torch.eye(3, dtype=torch.float64)])
    for i in (0, 1):  # image-plane directions: strong, well-defined signal
        assert torch.sign(g[i]) == torch.sign(fd[i]) and abs(float(fd[i])) > 1.0
    assert float(torch.nn.functional.cosine_similarity(g, fd, dim=0)) > 0.9
    # the gradient points toward the target: a small step reduces the loss
    with torch.no_grad():
        assert loss(-0.01 * g / g.norm()) < loss(torch.zeros(3, dtype=torch.float64))
