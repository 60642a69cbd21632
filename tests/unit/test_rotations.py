import math

import torch

from hoi_sim import rotations as r


def test_euler_round_trip_random():
    g = torch.Generator().manual_seed(0)
    q = r.quat_normalize(torch.randn(20000, 4, generator=g, dtype=torch.float64))
    q2 = r.euler_xyz_to_quat(r.quat_to_euler_xyz(q))
    assert r.quat_diff_angle(q, q2).max() < 1e-9


def test_euler_near_gimbal_lock():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(2000, 3, generator=g, dtype=torch.float64) * 2 - 1
    a[:1000, 1] = math.pi / 2 - torch.rand(1000, generator=g, dtype=torch.float64) * 1e-6
    a[1000:, 1] = -math.pi / 2
    m = r.euler_xyz_to_matrix(a)
    m2 = r.euler_xyz_to_matrix(r.matrix_to_euler_xyz(m))
    assert (m - m2).abs().max() < 1e-6


def test_euler_matches_matrix_product():
    a = torch.tensor([[0.3, -0.7, 1.1]], dtype=torch.float64)
    rx = torch.tensor([[1, 0, 0], [0, math.cos(0.3), -math.sin(0.3)], [0, math.sin(0.3), math.cos(0.3)]])
    ry = torch.tensor([[math.cos(-0.7), 0, math.sin(-0.7)], [0, 1, 0], [-math.sin(-0.7), 0, math.cos(-0.7)]])
    rz = torch.tensor([[math.cos(1.1), -math.sin(1.1), 0], [math.sin(1.1), math.cos(1.1), 0], [0, 0, 1]])
    expected = (rx @ ry @ rz).double()
    assert torch.allclose(r.euler_xyz_to_matrix(a)[0], expected, atol=1e-12)
    assert torch.allclose(r.quat_to_matrix(r.euler_xyz_to_quat(a))[0], expected, atol=1e-12)


def test_axis_angle_and_matrix_round_trips():
    g = torch.Generator().manual_seed(2)
    aa = torch.randn(500, 3, generator=g, dtype=torch.float64)
    aa = aa / aa.norm(dim=-1, keepdim=True) * torch.rand(500, 1, generator=g, dtype=torch.float64) * 3.1
    assert torch.allclose(r.quat_to_axis_angle(r.axis_angle_to_quat(aa)), aa, atol=1e-9)
    q = r.axis_angle_to_quat(aa)
    q = torch.where(q[:, :1] < 0, -q, q)
    assert torch.allclose(r.matrix_to_quat(r.quat_to_matrix(q)), q, atol=1e-9)
    v = torch.randn(500, 3, generator=g, dtype=torch.float64)
    assert torch.allclose(r.quat_rotate(q, v), (r.quat_to_matrix(q) @ v[..., None])[..., 0], atol=1e-12)


def test_slerp_midpoint():
    q0 = torch.tensor([1.0, 0, 0, 0], dtype=torch.float64)
    q1 = r.axis_angle_to_quat(torch.tensor([0, 0, 1.0], dtype=torch.float64))
    mid = r.slerp(q0, q1, torch.tensor(0.5, dtype=torch.float64))
    assert torch.allclose(r.quat_to_axis_angle(mid), torch.tensor([0, 0, 0.5], dtype=torch.float64), atol=1e-12)


def test_quat_to_matrix_is_the_textbook_formula_bit_for_bit() -> None:
    """The fused form (a·(2b) ± c·(2d)) gives exactly the floats of 1 − 2(y² + z²), 2(xy − wz) …"""
    g = torch.Generator().manual_seed(5)
    for dtype in (torch.float32, torch.float64):
        q = torch.randn(500, 4, generator=g, dtype=dtype)
        w, x, y, z = r.quat_normalize(q).unbind(-1)
        plain = torch.stack([
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ], dim=-1).reshape(500, 3, 3)
        assert torch.equal(r.quat_to_matrix(q), plain), dtype
