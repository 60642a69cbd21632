"""Pure kernels of InterMimic's product reward (reference/intermimic-notes.md §5), written from its formulas.

Shapes: N envs, B bodies, P object surface points (1024), Kb key bodies (21). Units: m, rad, s.
Differences from InterMimic's code, each a fix of a documented quirk (docs/rewards.md):
rotation angles are the positive angle of ``q_ref⁻¹·q_sim`` (``rotations.quat_diff_angle``), never negative;
the position proximity override applies to the bodies *named* Ankle/Toe unless asked for the original index mix-up.
"""

from __future__ import annotations

import torch

from hoi_sim import rotations as rot


def proximity_weight(body_pos: torch.Tensor, obj_points_world: torch.Tensor, scale: float = 5.0) -> torch.Tensor:
    """h_b = exp(−scale · d_b), d_b = distance from body b to the nearest object surface point.

    Args:
        body_pos: [N, B, 3] world body positions (the reference's, in InterMimic).
        obj_points_world: [N, P, 3] object surface samples in the world.

    Returns:
        [N, B] weights in (0, 1]; 1 means touching the surface.
    """
    d = torch.cdist(body_pos, obj_points_world).amin(-1)
    return torch.exp(-scale * d)


def weighted_pos_error(ref_pos: torch.Tensor, sim_pos: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """e_p = mean_b(‖x_ref − x_sim‖² · hp_b): [N, B, 3], [N, B, 3], [N, B] → [N] (m²)."""
    return (((ref_pos - sim_pos) ** 2).sum(-1) * weight).mean(-1)


def weighted_rot_error(ref_quat: torch.Tensor, sim_quat: torch.Tensor, far_weight: torch.Tensor) -> torch.Tensor:
    """e_r = mean_b(θ(q_ref⁻¹ q_sim) · (1 − h_b)): [N, B, 4], [N, B, 4], [N, B] (h) → [N] (rad), θ ∈ [0, π]."""
    ang = rot.quat_angle(rot.quat_mul(rot.quat_conj(ref_quat), sim_quat))
    return (ang * (1.0 - far_weight)).mean(-1)


def component_sq_error(ref: torch.Tensor, sim: torch.Tensor) -> torch.Tensor:
    """Mean over all components of the squared difference: [N, ...] → [N]."""
    return ((ref - sim) ** 2).flatten(1).mean(-1)


def heading_local_obj(root_pos: torch.Tensor, root_quat: torch.Tensor, obj_pos: torch.Tensor,
                      obj_quat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Object pose in the root's heading frame, z kept absolute (InterMimic's object observation/reward frame).

    Args:
        root_pos [N, 3], root_quat [N, 4], obj_pos [N, 3], obj_quat [N, 4] (world, wxyz).

    Returns:
        local position [N, 3] (x, y heading-local relative to the root; z = world object height) and local
        rotation [N, 4] = heading⁻¹ · q_obj.
    """
    h_inv = rot.quat_conj(rot.heading_quat(root_quat))
    local = rot.quat_rotate(h_inv, obj_pos - root_pos)
    local = torch.cat([local[:, :2], obj_pos[:, 2:3]], dim=-1)
    return local, rot.quat_mul(h_inv, obj_quat)


def accel_sq_mean(vel: torch.Tensor, prev_vel: torch.Tensor, dt: float, mask: torch.Tensor) -> torch.Tensor:
    """mean((Δvel / dt)²) per env, zeroed where ``mask`` is False (the first steps after a reset).

    Args:
        vel, prev_vel: [N, D]; dt: control step (s); mask: [N] bool.

    Returns:
        [N] mean squared acceleration ((unit/s²)²).
    """
    a = (vel - prev_vel) / dt
    return (a ** 2).mean(-1) * mask.to(a.dtype)


def sq_dist(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared distances [N, A, B] between a [N, A, 3] and b [N, B, 3] as ‖a‖² + ‖b‖² − 2a·b (clamped at 0)."""
    out = torch.baddbmm((b ** 2).sum(-1)[:, None, :], a, b.transpose(-1, -2), alpha=-2.0)
    return (out + (a ** 2).sum(-1)[..., None]).clamp_min(0.0)


def interaction_graph_error(sim_key_pos: torch.Tensor, sim_points: torch.Tensor, ref_key_pos: torch.Tensor,
                            ref_points: torch.Tensor, min_sq: float = 0.01) -> torch.Tensor:
    """0.5·E of InterMimic's r_ig: E = Σ_kj ‖e_sim − e_ref‖² (W_sim + W_ref), e_kj = x_k − p_j.

    W = 1 / max(‖e‖², min_sq), normalised to sum 1 over all (k, j) pairs, separately for sim and reference.

    Args:
        sim_key_pos, ref_key_pos: [N, Kb, 3] key-body positions; sim_points, ref_points: [N, P, 3] object
            surface samples in the world.

    Returns:
        [N] 0.5·E (m²); r_ig = exp(−w_ig · value).
    """
    # ‖e_sim − e_ref‖ = ‖(x_k − x_k^ref) − (p_j − p_j^ref)‖: three distance matrices, no [N,Kb,P,3] tensor
    sq_sim = sq_dist(sim_key_pos, sim_points)
    sq_ref = sq_dist(ref_key_pos, ref_points)
    diff = sq_dist(sim_key_pos - ref_key_pos, sim_points - ref_points)
    w_sim = 1.0 / sq_sim.clamp_min(min_sq)
    w_ref = 1.0 / sq_ref.clamp_min(min_sq)
    w_sim = w_sim / w_sim.sum((1, 2), keepdim=True)
    w_ref = w_ref / w_ref.sum((1, 2), keepdim=True)
    return 0.5 * (diff * (w_sim + w_ref)).sum((1, 2))


def hand_contact_factor(label: torch.Tensor, contact: torch.Tensor, hand_ids: torch.Tensor,
                        weight: float) -> torch.Tensor:
    """One hand's r_hand_side = R·0.5·(1 + exp(−w·e)) + (1 − R).

    R = 1 if any reference label of the hand's bodies is > 0.1; e = mean over the hand's bodies of |c_b − R|.

    Args:
        label: [N, 52] reference labels; contact: [N, 52] sim contact flags; hand_ids: [H] long body indices.

    Returns:
        [N] factor in [0.5, 1].
    """
    lab = label[:, hand_ids].to(torch.float32)
    c = contact[:, hand_ids].to(torch.float32)
    r_flag = (lab > 0.1).any(-1).to(torch.float32)
    e = (c - r_flag[:, None]).abs().mean(-1)
    return r_flag * 0.5 * (1.0 + torch.exp(-weight * e)) + (1.0 - r_flag)


def positive_label_error(label: torch.Tensor, contact: torch.Tensor, body_ids: torch.Tensor) -> torch.Tensor:
    """r_other's error: mean over ``body_ids`` of |c_b − label_b| · [label_b > 0.1]: → [N]."""
    lab = label[:, body_ids].to(torch.float32)
    c = contact[:, body_ids].to(torch.float32)
    return ((c - lab).abs() * (lab > 0.1).to(torch.float32)).mean(-1)


def negative_label_error(label: torch.Tensor, contact: torch.Tensor) -> torch.Tensor:
    """r_all's error: mean over all bodies of [label_b < −0.1] · |(1 − c_b) + label_b| (fraction of −1 bodies
    in contact): [N, B], [N, B] → [N]."""
    lab = label.to(torch.float32)
    c = contact.to(torch.float32)
    return ((lab < -0.1).to(torch.float32) * ((1.0 - c) + lab).abs()).mean(-1)


def contact_force_sq(force: torch.Tensor) -> torch.Tensor:
    """r_eg3's error: (Σ_b |F_x| + |F_y| + |F_z|)², force [N, B, 3] (N) → [N] (N²)."""
    return force.abs().sum((1, 2)) ** 2
