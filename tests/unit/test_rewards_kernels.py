"""Reward kernels against hand-computed values (one test or more per kernel)."""

from __future__ import annotations

import math

import pytest
import torch

from hoi_sim import rotations as rot
from hoi_sim.envs import terminations as term
from hoi_sim.humanoid import geoms as hg
from hoi_sim.rewards import intermimic as im
from hoi_sim.rewards import kernels as k


def zq(angle: float) -> torch.Tensor:
    """Unit quaternion (wxyz) of a rotation by ``angle`` about z."""
    return torch.tensor([math.cos(angle / 2), 0.0, 0.0, math.sin(angle / 2)])


def test_pos_sq_error_mean_over_bodies_and_single_entity() -> None:
    ref = torch.zeros(1, 2, 3)
    sim = torch.tensor([[[1.0, 0, 0], [0, 2.0, 0]]])
    assert k.pos_sq_error(ref, sim).item() == pytest.approx(2.5)  # (1 + 4) / 2
    assert k.pos_sq_error(torch.zeros(1, 3), torch.tensor([[0.0, 3.0, 4.0]])).item() == pytest.approx(25.0)


def test_rot_sq_error_positive_angle_and_sign_invariant() -> None:
    ref = torch.tensor([[1.0, 0, 0, 0]])
    sim = zq(0.3)[None]
    assert k.rot_sq_error(ref, sim).item() == pytest.approx(0.09, abs=1e-6)
    assert k.rot_sq_error(ref, -sim).item() == pytest.approx(0.09, abs=1e-6)  # q and −q: same rotation
    both = k.rot_sq_error(torch.stack([ref, ref], 1), torch.stack([sim, zq(0.0)[None]], 1))
    assert both.item() == pytest.approx(0.045, abs=1e-6)


def test_keypoint_label_miss_counts_only_missed_annotated_contacts() -> None:
    label = torch.tensor([[1, 1, 0, -1]])
    contact = torch.tensor([[True, False, True, True]])
    assert k.keypoint_label_miss(label, contact).item() == 1.0  # body 1 only; extra contacts are free
    assert k.keypoint_label_miss(label, contact, "mean").item() == pytest.approx(0.25)
    assert k.keypoint_label_miss(label, label > 0).item() == 0.0


def test_graph_points_joint_and_keypoint_forms() -> None:
    body_pos = torch.tensor([[[1.0, 0, 0]]])
    body_quat = zq(math.pi / 2)[None, None]
    ig_body = torch.tensor([[0]])
    off = torch.tensor([[[0.1, 0, 0]]])
    joint = k.graph_points_human(body_pos, body_quat, ig_body, off, "joint")
    kp = k.graph_points_human(body_pos, body_quat, ig_body, off, "keypoint")
    assert torch.allclose(joint, torch.tensor([[[1.0, 0, 0]]]))
    assert torch.allclose(kp, torch.tensor([[[1.0, 0.1, 0]]]), atol=1e-6)
    with pytest.raises(ValueError):
        k.graph_points_human(body_pos, body_quat, ig_body, off, "nope")
    with pytest.raises(ValueError):  # the surface point needs the object point it is nearest to
        k.graph_points_human(body_pos, body_quat, ig_body, off, "surface")


def _posed_subject(n: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random poses of a non-neutral skeleton: (offsets [52,3], body_pos [n,52,3], body_quat [n,52,4])."""
    from hoi_sim.humanoid.kinematics import forward_kinematics
    from hoi_sim.skeleton import NUM_DOFS, neutral_offsets

    g = torch.Generator().manual_seed(7)
    offsets = torch.as_tensor(neutral_offsets(), dtype=torch.float32) * torch.empty(52, 1).uniform_(0.85, 1.15,
                                                                                                  generator=g)
    bp, bq = forward_kinematics(torch.randn(n, 3, generator=g), rot.quat_normalize(torch.randn(n, 4, generator=g)),
                                0.4 * torch.randn(n, NUM_DOFS, generator=g), offsets)
    return offsets, bp, bq


def test_surface_point_of_a_reference_in_contact_is_at_zero_distance() -> None:
    """Object points placed on the collision geoms of a posed subject (built from ``humanoid.geoms.scaled_geoms``) are
    at < 1 mm from the surface point; pushed out along the normal by 2 cm they are at 2 cm; inside they are at 0."""
    from hoi_sim.humanoid.geoms import scaled_geoms
    from hoi_sim.skeleton import BODY_INDEX

    offsets, bp, bq = _posed_subject()
    geoms = scaled_geoms(offsets.numpy())
    bodies, local, normal = [], [], []
    for name in ("L_Elbow", "R_Wrist", "Head", "L_Index3"):
        b = BODY_INDEX[name]
        g = geoms[b][0]
        if g.type == "capsule":  # mid-side of the capsule, perpendicular to its axis
            a0, a1 = torch.tensor(g.fromto[:3]), torch.tensor(g.fromto[3:])
            n = torch.linalg.cross(a1 - a0, torch.tensor([0.0, 0.0, 1.0]))
            n = n / n.norm()
            p = 0.5 * (a0 + a1) + g.size[0] * n
        elif g.type == "box":  # centre of the box's +z face (the wrist boxes carry no rotation)
            n = torch.tensor([0.0, 0.0, 1.0])
            p = torch.tensor(g.pos) + g.size[2] * n
        else:
            n = torch.tensor([1.0, 1.0, 0.0]) / math.sqrt(2)
            p = torch.tensor(g.pos) + g.size[0] * n
        bodies.append(b)
        local.append(p)
        normal.append(n)
    ig_body = torch.tensor(bodies).expand(bp.shape[0], -1)
    local, normal = torch.stack(local).float(), torch.stack(normal).float()

    def world(p: torch.Tensor) -> torch.Tensor:  # body-frame points [K,3] → world [n,K,3]
        idx = ig_body[..., None]
        return (torch.gather(bp, 1, idx.expand(-1, -1, 3))
                + rot.quat_rotate(torch.gather(bq, 1, idx.expand(-1, -1, 4)), p.expand(bp.shape[0], -1, -1)))

    for table in (None, hg.geom_table(offsets)):
        _, on = hg.nearest_on_posed_body(world(local), bp, bq, ig_body, table)
        assert on.max().item() < 1e-3
        _, out = hg.nearest_on_posed_body(world(local + 0.02 * normal), bp, bq, ig_body, table)
        assert torch.allclose(out, torch.full_like(out, 0.02), atol=1e-5)
        _, inside = hg.nearest_on_posed_body(world(local - 0.004 * normal), bp, bq, ig_body, table)
        assert torch.all(inside == 0)
    # the same through Eq. 6: the surface form closes the gap, the joint form measures to the joint centre
    objp = world(local + 0.02 * normal)
    active = torch.ones_like(ig_body, dtype=torch.bool)
    surf = k.graph_points_human(bp, bq, ig_body, torch.zeros_like(objp), "surface", objp)
    assert torch.allclose(k.keypoint_contact_sq_dist(objp, surf, active), torch.full((bp.shape[0],), 4 * 0.02 ** 2),
                          atol=1e-6)
    joint = k.graph_points_human(bp, bq, ig_body, torch.zeros_like(objp), "joint")
    assert torch.all(k.keypoint_contact_sq_dist(objp, joint, active) > 4 * 0.03 ** 2)


def test_graph_points_object_rigid_transform() -> None:
    p = k.graph_points_object(torch.tensor([[0.0, 0, 1]]), zq(math.pi / 2)[None], torch.tensor([[[1.0, 0, 0]]]))
    assert torch.allclose(p, torch.tensor([[[0.0, 1.0, 1.0]]]), atol=1e-6)


def test_keypoint_contact_sq_dist_sum_mean_and_reference_gap() -> None:
    objp = torch.tensor([[[0.0, 0, 0], [1.0, 0, 0], [0.0, 3.0, 0]]])
    human = torch.tensor([[[0.0, 0, 0.5], [0.0, 0, 0], [0.0, 0, 0]]])
    active = torch.tensor([[True, True, False]])
    assert k.keypoint_contact_sq_dist(objp, human, active).item() == pytest.approx(0.25 + 1.0)
    assert k.keypoint_contact_sq_dist(objp, human, active, reduce="mean").item() == pytest.approx(0.625)
    assert k.keypoint_contact_sq_dist(objp, human, active, ref_offset=objp - human).item() == 0.0
    assert k.keypoint_contact_sq_dist(objp, human, torch.zeros(1, 3, dtype=torch.bool), reduce="mean").item() == 0.0


def test_proximity_weight() -> None:
    body = torch.tensor([[[0.0, 0, 0.2], [0.0, 0, 1.0]]])
    pts = torch.tensor([[[0.0, 0, 0], [5.0, 0, 0]]])
    h = im.proximity_weight(body, pts)
    assert torch.allclose(h, torch.tensor([[math.exp(-1.0), math.exp(-5.0)]]), atol=1e-6)


def test_weighted_pos_and_rot_errors() -> None:
    ref = torch.zeros(1, 2, 3)
    sim = torch.tensor([[[1.0, 0, 0], [0, 2.0, 0]]])
    w = torch.tensor([[0.5, 1.0]])
    assert im.weighted_pos_error(ref, sim, w).item() == pytest.approx((0.5 + 4.0) / 2)
    qr = torch.tensor([[[1.0, 0, 0, 0], [1.0, 0, 0, 0]]])
    qs = torch.stack([zq(0.4), -zq(0.2)])[None]  # −q: InterMimic's wrapped acos would make this negative
    h = torch.tensor([[0.25, 0.5]])
    assert im.weighted_rot_error(qr, qs, h).item() == pytest.approx((0.4 * 0.75 + 0.2 * 0.5) / 2, abs=1e-6)


def test_component_sq_error_and_accel() -> None:
    assert im.component_sq_error(torch.zeros(1, 2, 3), torch.ones(1, 2, 3)).item() == pytest.approx(1.0)
    v = torch.tensor([[1.0, 3.0], [1.0, 3.0]])
    pv = torch.zeros(2, 2)
    a = im.accel_sq_mean(v, pv, 0.5, torch.tensor([True, False]))
    assert a.tolist() == pytest.approx([(4.0 + 36.0) / 2, 0.0])


def test_heading_local_obj() -> None:
    root_pos = torch.tensor([[1.0, 0, 0.9]])
    root_quat = zq(math.pi / 2)[None]
    p, q = im.heading_local_obj(root_pos, root_quat, torch.tensor([[1.0, 1.0, 0.5]]), zq(math.pi / 2)[None])
    assert torch.allclose(p, torch.tensor([[1.0, 0.0, 0.5]]), atol=1e-6)  # ahead of the root, z absolute
    assert torch.allclose(q.abs(), torch.tensor([[1.0, 0, 0, 0]]), atol=1e-6)


def test_interaction_graph_error_by_hand() -> None:
    key = torch.zeros(1, 1, 3)
    sim_pts = torch.tensor([[[1.0, 0, 0], [0.0, 2.0, 0]]])
    ref_pts = torch.tensor([[[1.0, 0.5, 0], [0.0, 2.0, 0]]])
    # e_sim = (−1,0,0), (0,−2,0); e_ref = (−1,−0.5,0), (0,−2,0); ‖Δ‖² = 0.25, 0
    w_sim = torch.tensor([1.0, 0.25]) / 1.25
    w_ref = torch.tensor([1 / 1.25, 0.25]) / (1 / 1.25 + 0.25)
    expected = 0.5 * 0.25 * (w_sim[0] + w_ref[0]).item()
    got = im.interaction_graph_error(key, sim_pts, key, ref_pts).item()
    assert got == pytest.approx(expected, rel=1e-4)
    assert im.interaction_graph_error(key, sim_pts, key, sim_pts).item() == pytest.approx(0.0, abs=1e-7)


def test_contact_label_kernels() -> None:
    hand = torch.tensor([0, 1, 2, 3])
    label = torch.tensor([[1, 0, 0, 0, -1, 0]])
    contact = torch.tensor([[True, True, False, False, False, False]])
    assert im.hand_contact_factor(label, contact, hand, 5.0).item() == pytest.approx(0.5 * (1 + math.exp(-2.5)))
    no_ref = torch.zeros(1, 6, dtype=torch.long)
    assert im.hand_contact_factor(no_ref, contact, hand, 5.0).item() == 1.0
    lab = torch.tensor([[1, 0, 1]])
    c = torch.tensor([[False, True, True]])
    assert im.positive_label_error(lab, c, torch.tensor([0, 1, 2])).item() == pytest.approx(1 / 3)
    lab = torch.tensor([[-1, -1, 0, 1]])
    c = torch.tensor([[True, False, True, True]])
    assert im.negative_label_error(lab, c).item() == pytest.approx(0.25)
    f = torch.tensor([[[1.0, -2.0, 0.0], [0.0, 0.0, 3.0]]])
    assert im.contact_force_sq(f).item() == pytest.approx(36.0)


def test_termination_kernels() -> None:
    assert term.fallen(torch.tensor([[0, 0, 0.2], [0, 0, 0.9]]), 0.3).tolist() == [True, False]
    ref = torch.zeros(2, 2, 3)
    sim = torch.zeros(2, 2, 3)
    sim[0, :, 0] = 0.6
    sim[1, 0, 0] = 0.6  # mean 0.3
    assert term.key_body_error(ref, sim, 0.5).tolist() == [True, False]
    assert term.object_error(ref, sim, 0.5).tolist() == [True, False]
    key = torch.zeros(1, 1, 3)
    pts = torch.tensor([[[0.2, 0, 0]]])
    assert not term.interaction_graph_broken(key, pts, key, pts).item()
    # ‖e_ref‖ = 0.2 → limit 2·max(0.2, 0.5) = 1.0: a 1.5 m shift of the body breaks the graph, 0.9 m does not
    assert term.interaction_graph_broken(key + torch.tensor([0.0, 1.5, 0]), pts, key, pts).item()
    assert not term.interaction_graph_broken(key + torch.tensor([0.0, 0.9, 0]), pts, key, pts).item()
    label = torch.tensor([[1, 0, 0], [0, 0, 0], [1, 0, 0]])
    contact = torch.tensor([[False, False, False], [False, False, False], [False, True, False]])
    assert term.hand_missing(label, contact, torch.tensor([0, 1])).tolist() == [True, False, False]


def test_sq_dist_matches_cdist() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 5, 3, generator=g)
    b = torch.rand(2, 7, 3, generator=g)
    assert torch.allclose(im.sq_dist(a, b), torch.cdist(a, b) ** 2, atol=1e-5)
