"""Body models: the proxy agrees with the humanoid FK, SMPL-X (synthetic fixture) agrees with the proxy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hoi_sim import rotations as rot
from hoi_sim.body import BodyParams, ProxyBody, SMPLXBody, load_body_model
from hoi_sim.body.base import C_S2H, axis_angle_to_matrix
from hoi_sim.body.mesh import primitives_sdf
from hoi_sim.humanoid.kinematics import forward_kinematics
from hoi_sim.skeleton import SMPLX_JOINT_IDS


def _random_params(B: int, seed: int = 0, scale: float = 0.4) -> BodyParams:
    g = torch.Generator().manual_seed(seed)
    p = BodyParams.zeros(B, torch.float64)
    for k in ("global_orient", "body_pose", "left_hand_pose", "right_hand_pose"):
        getattr(p, k).copy_(torch.randn(getattr(p, k).shape, generator=g, dtype=torch.float64) * scale)
    p.transl.copy_(torch.randn(B, 3, generator=g, dtype=torch.float64))
    return p


def test_proxy_matches_humanoid_fk() -> None:
    body = ProxyBody(dtype=torch.float64)
    p = _random_params(8)
    out = body(p)
    C = torch.as_tensor(C_S2H)
    local = axis_angle_to_matrix(p.full_pose())[:, list(SMPLX_JOINT_IDS)]  # [B,52,3,3] SMPL-X axes
    local_h = C @ local @ C.T
    dof = rot.matrix_to_euler_xyz(local_h[:, 1:]).reshape(8, 153)
    root_q = rot.matrix_to_quat(local_h[:, 0])
    pelvis_h = out.body_pos[:, 0] @ C.T
    pos_h, _ = forward_kinematics(pelvis_h, root_q, dof)
    assert torch.allclose(pos_h @ C, out.body_pos, atol=1e-9)
    assert out.vertices.shape == (8, body.num_vertices, 3)
    assert out.joints.shape == (8, 55, 3) and out.keypoints.shape == (8, 87, 3)


def test_proxy_rest_pelvis_and_transl() -> None:
    body = ProxyBody(dtype=torch.float64)
    p = BodyParams.zeros(1, torch.float64)
    rest = body(p).joints[0, 0]
    p.transl[:] = torch.tensor([0.1, 0.2, 0.3])
    p.global_orient[:] = torch.tensor([0.3, -0.2, 0.5])
    moved = body(p).joints[0, 0]  # the pelvis rotates about itself, SMPL-X style
    assert torch.allclose(moved - rest, torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64))


def test_primitives_sdf_inside_outside() -> None:
    body = ProxyBody(dtype=torch.float64)
    out = body(BodyParams.zeros(1, torch.float64))
    pelvis = out.body_pos[:, 0:1]
    far = pelvis + torch.tensor([[[0.0, 0.0, 2.0]]], dtype=torch.float64)
    sd = primitives_sdf(torch.cat([pelvis, far], 1), out.body_pos, out.body_rot)
    assert sd[0, 0] < -0.05 and sd[0, 1] > 1.5
    # mesh vertices lie on the union surface or inside another primitive (overlapping geoms)
    sdv = primitives_sdf(out.vertices, out.body_pos, out.body_rot)
    assert sdv.max() < 5e-3 and sdv.min() > -0.2


def test_load_body_model_auto_without_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOI_SIM_SMPLX_MODEL", raising=False)
    assert isinstance(load_body_model("auto"), ProxyBody)


@pytest.fixture(scope="module")
def smplx_fixture_dir(tmp_path_factory: pytest.TempPathFactory):
    from hoi_sim.testing import smplx_fixture as fixture
    d = tmp_path_factory.mktemp("smplx")
    fixture.write_smplx_fixture(d)
    return d


def test_smplx_fixture_agrees_with_proxy(smplx_fixture_dir) -> None:
    sm = SMPLXBody(smplx_fixture_dir / "smplx" / "SMPLX_NEUTRAL.npz", dtype=torch.float64)
    px = ProxyBody(dtype=torch.float64)
    p = _random_params(6, seed=1)
    a, b = sm(p), px(p)
    ids = list(SMPLX_JOINT_IDS)
    assert np.abs((a.joints[:, ids] - b.joints[:, ids]).numpy()).max() < 1e-5
    assert np.abs((a.body_rot - b.body_rot).numpy()).max() < 1e-6
    # keypoint vertices of the fixture ride on the same bodies as the proxy's keypoints
    assert np.abs((a.keypoints - b.keypoints).numpy()).max() < 0.03
    assert a.sample_vertices.shape[1] <= 1100 and sm.sample_faces.max() < a.sample_vertices.shape[1]
