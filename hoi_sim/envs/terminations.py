"""InterMimic's early terminations as pure tensor tests (reference/intermimic-notes.md §4.4).

Each returns an [N] bool mask. N envs, Kb key bodies, P object surface points.
"""

from __future__ import annotations

import torch


def fallen(root_pos: torch.Tensor, height: float) -> torch.Tensor:
    """Root height below ``height`` (m): root_pos [N,3] → [N]."""
    return root_pos[:, 2] < height


def key_body_error(ref_key_pos: torch.Tensor, sim_key_pos: torch.Tensor, threshold: float) -> torch.Tensor:
    """Mean key-body distance (m) above ``threshold``: [N,Kb,3] ×2 → [N]."""
    return (ref_key_pos - sim_key_pos).norm(dim=-1).mean(-1) > threshold


def object_error(ref_points: torch.Tensor, sim_points: torch.Tensor, threshold: float) -> torch.Tensor:
    """Mean distance (m) of corresponding object surface samples above ``threshold``: [N,P,3] ×2 → [N]."""
    return (ref_points - sim_points).norm(dim=-1).mean(-1) > threshold


def interaction_graph_broken(sim_key_pos: torch.Tensor, sim_points: torch.Tensor, ref_key_pos: torch.Tensor,
                             ref_points: torch.Tensor, ratio: float = 2.0, floor: float = 0.5) -> torch.Tensor:
    """InterMimic's IG test on e_kj = x_k − p_j (key body k, object point j), sim and reference:
    any pair with ‖e − e_ref‖ > ratio·max(‖e_ref‖, floor) or > ratio·max(‖e‖, floor). → [N] bool."""
    diff = torch.cdist(sim_key_pos - ref_key_pos, sim_points - ref_points)  # ‖e_sim − e_ref‖, [N,Kb,P]
    lim = ratio * torch.minimum(torch.cdist(ref_key_pos, ref_points).clamp_min(floor),
                                torch.cdist(sim_key_pos, sim_points).clamp_min(floor))
    return (diff > lim).flatten(1).any(-1)


def hand_missing(label: torch.Tensor, contact: torch.Tensor, hand_ids: torch.Tensor) -> torch.Tensor:
    """The reference says the hand touches (a label > 0.1 among ``hand_ids``) and none of its bodies touches:
    label [N,52], contact [N,52] bool, hand_ids [H] → [N] bool."""
    ref_touch = (label[:, hand_ids] > 0.1).any(-1)
    sim_touch = contact[:, hand_ids].any(-1)
    return ref_touch & ~sim_touch
