"""Collision-geom tables (``hoi_sim.humanoid.geoms``): ``scaled_geoms``' bone scaling, MuJoCo's compiled geoms, and the
closed-form nearest point on spheres, capsules and boxes."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest
import torch

from hoi_sim import rotations as rot
from hoi_sim.humanoid import geoms as hg
from hoi_sim.humanoid.kinematics import forward_kinematics
from hoi_sim.sim import humanoid_spec
from hoi_sim.skeleton import BODY_INDEX, NUM_BODIES, NUM_DOFS, neutral_offsets

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def subject_offsets(seed: int = 0) -> np.ndarray:
    """A non-neutral skeleton: every bone scaled by 0.85–1.15 and nudged by ≤ 1 cm."""
    rng = np.random.default_rng(seed)
    return neutral_offsets() * rng.uniform(0.85, 1.15, (NUM_BODIES, 1)) + rng.normal(0, 0.005, (NUM_BODIES, 3))


def posed(offsets: np.ndarray, n: int = 3, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """n random poses (float64): root_pos [n,3], root_quat [n,4], dof_pos [n,153], body_pos [n,52,3] (m),
    body_quat [n,52,4]."""
    g = torch.Generator().manual_seed(seed)
    root_pos = torch.randn(n, 3, generator=g, dtype=torch.float64)
    root_quat = rot.quat_normalize(torch.randn(n, 4, generator=g, dtype=torch.float64))
    dof = 0.4 * torch.randn(n, NUM_DOFS, generator=g, dtype=torch.float64)
    bp, bq = forward_kinematics(root_pos, root_quat, dof, torch.as_tensor(offsets))
    return root_pos, root_quat, dof, bp, bq


def test_geom_table_follows_the_builders_bone_scaling() -> None:
    for offsets in (None, subject_offsets(0), subject_offsets(1)):
        want = hg.table_from_specs(hg.scaled_geoms(offsets))
        got = hg.geom_table(None if offsets is None else torch.as_tensor(offsets)).numpy()
        np.testing.assert_allclose(got, want, atol=1e-6)
    batch = hg.geom_table(torch.as_tensor(np.stack([subject_offsets(0), subject_offsets(1)]), dtype=torch.float32))
    assert batch.shape == (2, NUM_BODIES, hg.TABLE_WIDTH) and batch.dtype == torch.float32


def test_geom_table_matches_mujocos_posed_geoms() -> None:
    """World centre, axis and box frame of every geom agree with MuJoCo's compiled humanoid in a random pose."""
    offsets = subject_offsets(2)
    root_pos, root_quat, dof, bp, bq = posed(offsets, n=1, seed=2)
    model = humanoid_spec.humanoid_model(offsets, ground=False)
    data = mujoco.MjData(model)
    data.qpos[:] = np.concatenate([root_pos[0].numpy(), root_quat[0].numpy(), dof[0].numpy()])
    mujoco.mj_kinematics(model, data)
    table = hg.geom_table(torch.as_tensor(offsets))
    for b in range(NUM_BODIES):
        g = model.body_geomadr[b + 1]
        row = table[b]
        centre = bp[0, b] + rot.quat_rotate(bq[0, b], row[0:3])
        np.testing.assert_allclose(centre.numpy(), data.geom_xpos[g], atol=1e-6)
        xmat = data.geom_xmat[g].reshape(3, 3)
        size = model.geom_size[g]
        if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_CAPSULE:
            axis = rot.quat_rotate(bq[0, b], row[3:6]).numpy()
            np.testing.assert_allclose(np.abs(axis @ xmat[:, 2]), size[1], atol=1e-6)  # half length along its z
            assert row[9].item() == pytest.approx(size[0])
        elif model.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX:
            frame = rot.quat_to_matrix(bq[0, b]).numpy() @ row[10:19].reshape(3, 3).numpy()
            np.testing.assert_allclose(frame, xmat, atol=1e-6)
            np.testing.assert_allclose(row[6:9].numpy(), size, atol=1e-7)
        else:
            assert row[9].item() == pytest.approx(size[0])


def test_offsets_from_pose_recovers_the_skeleton() -> None:
    offsets = subject_offsets(3)
    *_, bp, bq = posed(offsets, n=4, seed=3)
    got = hg.offsets_from_pose(bp, bq)
    np.testing.assert_allclose(got[:, 1:].numpy(), np.broadcast_to(offsets[1:], (4, NUM_BODIES - 1, 3)), atol=1e-9)
    assert torch.all(got[:, 0] == 0)


def _row(c=(0, 0, 0), u=(0, 0, 0), h=(0, 0, 0), r=0.0, quat=(1.0, 0, 0, 0)) -> torch.Tensor:
    R = rot.quat_to_matrix(torch.tensor(quat, dtype=torch.float64)).reshape(-1)
    return torch.cat([torch.tensor([*c, *u, *h, r], dtype=torch.float64), R])


def test_nearest_point_closed_forms() -> None:
    sphere = _row(c=(1.0, 0, 0), r=0.1)
    capsule = _row(u=(0, 0, 0.2), r=0.05)  # segment z ∈ [−0.2, 0.2]
    s = math.sqrt(0.5)
    box = _row(c=(0, 1.0, 0), h=(0.1, 0.2, 0.3), quat=(math.cos(math.pi / 8), 0, 0, math.sin(math.pi / 8)))
    cases = [  # (row, query, expected nearest, expected distance)
        (sphere, (1.0, 0.5, 0), (1.0, 0.1, 0), 0.4),
        (sphere, (1.02, 0, 0), (1.02, 0, 0), 0.0),  # inside: the point itself
        (capsule, (0.3, 0, 0.1), (0.05, 0, 0.1), 0.25),  # beside the segment
        (capsule, (0, 0, 0.5), (0, 0, 0.25), 0.25),  # beyond the end cap
        (box, (0, 1.0, 0.5), (0, 1.0, 0.3), 0.2),  # above the top face (z is the box's own z)
        (box, (0, 1.0, 0.1), (0, 1.0, 0.1), 0.0),  # inside
        # along the box's own x axis (rotated 45° about z): face at 0.1 along (s, s, 0)
        (box, (0.5 * s, 1.0 + 0.5 * s, 0), (0.1 * s, 1.0 + 0.1 * s, 0), 0.4),
    ]
    for row, x, want, dist in cases:
        near, d = hg.nearest_on_geoms(torch.tensor(x, dtype=torch.float64), row)
        np.testing.assert_allclose(near.numpy(), want, atol=1e-12)
        assert d.item() == pytest.approx(dist, abs=1e-12)


def test_nearest_point_against_dense_surface_samples() -> None:
    """Closed form vs. the minimum over 200k surface samples of each neutral primitive (1 mm sampling)."""
    table = hg.geom_table(None, dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    for name in ("L_Elbow", "R_Wrist", "Head", "L_Toe"):
        row = table[BODY_INDEX[name]]
        c, u, h, r = row[0:3], row[3:6], row[6:9], row[9]
        R = row[10:19].reshape(3, 3)
        m = 200_000
        if r > 0:  # sphere or capsule: a point of the segment + r × a random direction
            d = torch.randn(m, 3, generator=g, dtype=torch.float64)
            surf = c + (2 * torch.rand(m, 1, generator=g, dtype=torch.float64) - 1) * u + r * d / d.norm(dim=-1,
                                                                                                         keepdim=True)
        else:  # box: random points of the 6 faces
            y = (2 * torch.rand(m, 3, generator=g, dtype=torch.float64) - 1) * h
            axis = torch.randint(0, 3, (m,), generator=g)
            y[torch.arange(m), axis] = h[axis] * torch.sign(torch.randn(m, generator=g, dtype=torch.float64))
            surf = c + y @ R.T
        q = c + 0.15 * torch.randn(20, 3, generator=g, dtype=torch.float64)
        near, dist = hg.nearest_on_geoms(q, row.expand(20, -1))
        brute = torch.cdist(q, surf).min(-1).values
        outside = dist > 0
        assert outside.sum() >= 10
        np.testing.assert_allclose(dist[outside].numpy(), brute[outside].numpy(), atol=2e-3)
        assert torch.all(dist[outside] <= brute[outside] + 1e-9)  # never beyond the true surface distance
        np.testing.assert_allclose((near - q).norm(dim=-1).numpy(), dist.numpy(), atol=1e-12)


def test_posed_nearest_derived_from_the_pose_equals_the_table_path() -> None:
    offsets = subject_offsets(4)
    *_, bp, bq = posed(offsets, n=5, seed=4)
    g = torch.Generator().manual_seed(4)
    body = torch.randint(0, NUM_BODIES, (5, 7), generator=g)
    body[0, 0] = -1  # padding edge: read as the Pelvis
    pts = torch.gather(bp, 1, body.clamp_min(0)[..., None].expand(5, 7, 3)) + 0.1 * torch.randn(
        5, 7, 3, generator=g, dtype=torch.float64)
    derived = hg.nearest_on_posed_body(pts, bp, bq, body)
    table = hg.nearest_on_posed_body(pts, bp, bq, body, hg.geom_table(torch.as_tensor(offsets)))
    for a, b in zip(derived, table):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-9)
    neutral = hg.nearest_on_posed_body(pts, bp, bq, body, hg.geom_table(None, dtype=torch.float64))
    assert not np.allclose(neutral[1].numpy(), table[1].numpy(), atol=1e-4)  # the skeleton matters
