"""Stage-2 losses (Eq. 13–20), joint masks and the keyframe optimiser."""

from __future__ import annotations

import numpy as np
import torch

from hoi_sim import keypoints as kp
from hoi_sim.body import BodyParams, ProxyBody
from hoi_sim.body.mesh import box_mesh
from hoi_sim.recon.config import LossWeights, Stage2Config
from hoi_sim.recon.losses import collision_loss, contact_loss, edge_map, edge_weights, mask_loss, translation_guard
from hoi_sim.recon.sdf import build_sdf
from hoi_sim.recon.stage2 import Stage2Batch, joint_mask_released, joint_mask_tree, optimize_keyframes

torch.set_num_threads(1)


def test_contact_loss_matches_eq_18_19() -> None:
    b = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    o = torch.tensor([[[0.0, 0.3, 0.0], [1.0, 0.0, 0.1], [5.0, 5.0, 5.0]]])
    m = torch.tensor([[1.0, 1.0, 0.0]])  # the third pair is padding
    d = torch.tensor([0.3, 0.1])
    w = (d + 0.1) ** 2 / ((d + 0.1) ** 2).sum()
    assert torch.allclose(contact_loss(b, o, m), (w * d * d).sum()[None], atol=1e-6)
    assert float(contact_loss(b, o, torch.zeros(1, 3))) == 0.0


def test_collision_both_directions() -> None:
    body = ProxyBody()
    out = body(BodyParams.zeros(1))
    bv, bf = box_mesh(np.zeros(3), np.array([0.15, 0.15, 0.15]))
    sdf = build_sdf(bv, bf, res=24)
    ov = torch.as_tensor(bv, dtype=torch.float32)[None]
    R = torch.eye(3)[None]
    far = torch.tensor([[5.0, 0.0, 0.0]])
    at_pelvis = out.body_pos[:, 0]
    args = (out.body_pos, out.body_rot)
    apart = collision_loss(out.sample_vertices, R, far, ov + far[:, None], sdf, *args)
    inside = collision_loss(out.sample_vertices, R, at_pelvis, ov + at_pelvis[:, None], sdf, *args)
    assert float(apart) == 0.0 and float(inside) > 1.0
    # object vertices inside the body count too (human SDF direction): a tiny object at the pelvis
    tiny = ov * 0.1 + at_pelvis[:, None]
    only_o = collision_loss(out.sample_vertices[:, :0], R, at_pelvis, tiny, sdf, *args)
    assert float(only_o) > 0.05


def test_mask_loss_zero_at_truth_and_occlusion_masked() -> None:
    gt_h = torch.zeros(1, 20, 20)
    gt_h[:, 5:15, 5:10] = 1
    gt_o = torch.zeros(1, 20, 20)
    gt_o[:, 5:15, 8:15] = 1
    gt_h_vis = gt_h * (1 - gt_o)
    wh = torch.as_tensor(edge_weights(gt_h_vis.numpy()))
    wo = torch.as_tensor(edge_weights(gt_o.numpy()))
    lw = LossWeights()
    # a rendered human extending behind the object is not penalised where the object's GT mask hides it
    assert float(mask_loss(gt_h, gt_o, gt_h_vis, gt_o, wh, wo, lw)) == 0.0
    shifted = torch.roll(gt_o, 3, dims=2)
    assert float(mask_loss(gt_h, shifted, gt_h_vis, gt_o, wh, wo, lw)) > 0.0
    assert float(edge_map(gt_o).min()) >= 0.0 and float(edge_map(gt_o).max()) == 1.0
    assert float(translation_guard(torch.tensor([[0.05, -0.2, 0.0]]))) > 1e3


def test_joint_masks() -> None:
    rows = [np.array([kp.index("rightHand_palm")]), np.array([], dtype=np.int64)]
    tree = joint_mask_tree(rows, depth=3)
    assert np.flatnonzero(tree[0]).tolist() == [17, 19, 21]  # right shoulder, elbow, wrist
    assert not tree[1].any()
    rel = joint_mask_released(np.array([kp.index("rightHand_palm"), kp.index("hip_front")]), 2)
    assert np.flatnonzero(rel[0]).tolist() == [21] and (rel[0] == rel[1]).all()  # the pelvis unlocks nothing


def test_optimize_keyframes_reduces_loss_and_respects_masks() -> None:
    body = ProxyBody()
    p = BodyParams.zeros(2)
    p.global_orient[:, 0] = np.pi
    p.transl[:, 2] = 3.0
    out = body(p)
    row = kp.index("rightHand_palm")
    bv, bf = box_mesh(np.zeros(3), np.array([0.1, 0.1, 0.1]))
    sdf = build_sdf(bv, bf, res=16)
    # object 8 cm off the palm along the palm normal, paired with a corner vertex
    palm = out.keypoints[:, row]
    t1 = palm + torch.tensor([0.0, 0.0, -0.25])
    pts = torch.as_tensor(bv[:1], dtype=torch.float32)[None].expand(2, 1, 3)
    jm = torch.as_tensor(joint_mask_tree([np.array([row])] * 2, 3))
    batch = Stage2Batch(params=p, R1=torch.eye(3)[None].repeat(2, 1, 1), t1=t1, rows=torch.tensor([[row], [row]]),
                        obj_pts=pts, pair_mask=torch.ones(2, 1, dtype=torch.bool), joint_mask=jm,
                        obj_free=torch.tensor([True, False]))
    cfg = Stage2Config(steps=30, lr_pose=1e-2, lr_obj_trans=5e-3, lr_obj_rot=1e-2, optimize_object=True)
    res = optimize_keyframes(body, batch, torch.as_tensor(bv, dtype=torch.float32), torch.as_tensor(bf), sdf, cfg)
    h = res.history
    assert h["contact"][1] < 0.7 * h["contact"][0]
    moved = (res.params.body_pose - p.body_pose).abs().reshape(2, 21, 3).amax(-1) > 0
    assert set(np.flatnonzero(moved[0]).tolist()) <= {16, 18, 20} and moved[0].any()  # body_pose index = joint − 1
    assert torch.equal(res.R[1], torch.eye(3)) and torch.equal(res.t[1], t1[1])  # a frozen object stays put
    assert not torch.equal(res.t[0], t1[0])
    # the default leaves every object where stage 1 put it, and the human alone closes the gap
    res = optimize_keyframes(body, batch, torch.as_tensor(bv, dtype=torch.float32), torch.as_tensor(bf), sdf,
                             Stage2Config(steps=30, lr_pose=1e-2))
    assert torch.equal(res.t, t1) and torch.equal(res.R, batch.R1)
    assert res.history["contact"][1] < 0.7 * res.history["contact"][0]


def test_mask_loss_pulls_the_object_back() -> None:
    """Only the mask term on: a shifted object moves toward the pose that made the ground-truth masks."""
    from hoi_sim.recon.losses import edge_weights
    from hoi_sim.recon.render import hard_silhouette, scale_intrinsics
    from hoi_sim.recon.stage2 import MaskTargets

    body = ProxyBody()
    p = BodyParams.zeros(1)
    p.global_orient[:, 0] = np.pi
    p.transl[:, 2] = 3.0
    out = body(p)
    bv, bf = box_mesh(np.zeros(3), np.array([0.15, 0.1, 0.1]))
    ov, of = torch.as_tensor(bv, dtype=torch.float32), torch.as_tensor(bf)
    t_true = torch.tensor([[0.35, 0.0, 2.7]])
    K = scale_intrinsics(torch.tensor([[600.0, 0, 160], [0, 600.0, 120], [0, 0, 1]]), 0.25)
    h, w = 60, 80
    gh = hard_silhouette(out.sample_vertices, body.sample_faces, K, h, w).float()
    go = hard_silhouette(ov[None] + t_true[:, None], of, K, h, w).float()
    gh = gh * (1 - go)  # the object is in front
    masks = MaskTargets(gh, go, torch.as_tensor(edge_weights(gh.numpy())), torch.as_tensor(edge_weights(go.numpy())),
                        torch.ones(1, dtype=torch.bool), K)
    t1 = t_true + torch.tensor([[0.06, -0.04, 0.0]])
    for occlusion in ("gt_mask", "depth"):
        cfg = Stage2Config(steps=40, lr_pose=0.0, lr_hand=0.0, lr_obj_rot=0.0, lr_obj_trans=3e-3, optimize_object=True,
                           weights=LossWeights(contact=0.0, collision=0.0, mask=1.0))
        cfg.render.occlusion = occlusion
        batch = Stage2Batch(params=p, R1=torch.eye(3)[None], t1=t1, rows=torch.zeros(1, 1, dtype=torch.long),
                            obj_pts=torch.zeros(1, 1, 3), pair_mask=torch.zeros(1, 1, dtype=torch.bool),
                            joint_mask=torch.zeros(1, 55, dtype=torch.bool), obj_free=torch.ones(1, dtype=torch.bool),
                            masks=masks)
        sdf = build_sdf(bv, bf, res=8)
        res = optimize_keyframes(body, batch, ov, of, sdf, cfg, (h, w))
        before = float((t1 - t_true)[:, :2].norm())
        after = float((res.t - t_true)[:, :2].norm())
        assert after < 0.5 * before, occlusion
        assert res.history["mask"][1] < res.history["mask"][0]
