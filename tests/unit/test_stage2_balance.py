"""Stage 2 lowers what it optimises: one Adam step brings paired points closer on a synthetic pair set, and the
collision margin leaves shallow penetrations free."""

from __future__ import annotations

import numpy as np
import torch

from hoi_sim import keypoints as kp
from hoi_sim.body import BodyParams, ProxyBody
from hoi_sim.body.mesh import box_mesh
from hoi_sim.recon.config import Stage2Config
from hoi_sim.recon.losses import collision_loss
from hoi_sim.recon.sdf import build_sdf
from hoi_sim.recon.stage2 import Stage2Batch, joint_mask_tree, optimize_keyframes

torch.set_num_threads(1)


def _pair_batch(body: ProxyBody, offset_m: float):
    """Three keyframes, each with the right palm and the back of the right hand paired with two corners of a box
    ``offset_m`` below the palm."""
    p = BodyParams.zeros(3)
    p.global_orient[:, 0] = np.pi
    p.transl[:, 2] = 3.0
    p.body_pose[1, 50] = 0.2  # frames differ a little
    out = body(p)
    rows = [kp.index("rightHand_palm"), kp.index("rightHand_back")]
    bv, bf = box_mesh(np.zeros(3), np.array([0.05, 0.05, 0.05]))
    t1 = out.keypoints[:, rows[0]] - torch.as_tensor(bv[0], dtype=torch.float32) + torch.tensor([0, 0, offset_m])
    pts = torch.as_tensor(bv[[0, 1]], dtype=torch.float32)[None].expand(3, 2, 3)
    return Stage2Batch(params=p, R1=torch.eye(3)[None].repeat(3, 1, 1), t1=t1, rows=torch.tensor([rows] * 3),
                       obj_pts=pts, pair_mask=torch.ones(3, 2, dtype=torch.bool),
                       joint_mask=torch.as_tensor(joint_mask_tree([np.array(rows)] * 3, 3)),
                       obj_free=torch.ones(3, dtype=torch.bool)), bv, bf


def test_one_stage2_step_lowers_contact_on_a_pair_set():
    body = ProxyBody()
    batch, bv, bf = _pair_batch(body, -0.06)
    sdf = build_sdf(bv, bf, res=16)
    cfg = Stage2Config(steps=1)
    res = optimize_keyframes(body, batch, torch.as_tensor(bv, dtype=torch.float32), torch.as_tensor(bf), sdf, cfg)
    first, last = res.history["contact"]
    assert last < first
    out = body(res.params)
    obj = torch.einsum("bij,bnj->bni", res.R, batch.obj_pts) + res.t[:, None]
    d_after = (out.keypoints[torch.arange(3)[:, None], batch.rows] - obj).norm(dim=-1)
    out0 = body(batch.params)
    obj0 = torch.einsum("bij,bnj->bni", batch.R1, batch.obj_pts) + batch.t1[:, None]
    d_before = (out0.keypoints[torch.arange(3)[:, None], batch.rows] - obj0).norm(dim=-1)
    assert float(d_after.mean()) < float(d_before.mean())


def test_collision_margin_frees_shallow_penetration():
    body = ProxyBody()
    out = body(BodyParams.zeros(1))
    bv, bf = box_mesh(np.zeros(3), np.array([0.15, 0.15, 0.15]))
    sdf = build_sdf(bv, bf, res=24)
    R = torch.eye(3)[None]
    # a 30 cm box around the pelvis: vertices at every depth, from shallow to deep
    hv = out.sample_vertices
    at = out.body_pos[:, 0]
    ov = torch.as_tensor(bv, dtype=torch.float32)[None] + at[:, None]
    args = (sdf, out.body_pos, out.body_rot)
    deep = collision_loss(hv, R, at, ov, *args)
    free = collision_loss(hv, R, at, ov, *args, margin=1.0)  # every depth is below 1 m
    some = collision_loss(hv, R, at, ov, *args, margin=0.01)
    assert float(deep) > float(some) > float(free) == 0.0
