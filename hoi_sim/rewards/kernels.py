"""Pure reward kernels of the paper's reward sets (TR, Eq. 5 LR, Eq. 6 CR).

Every kernel is a function of tensors only, returns a per-env tensor ``[N]`` and has no side effects.
N = envs, B = bodies (any subset), K = interaction-graph edges. Units: metres, radians, seconds.
Errors are ≥ 0; the reward set decides how an error becomes a reward (``exp(−w·e)`` or ``w·e``).
Eq. 6's human end p^h is by default the nearest point of the body's collision geom (``form="surface"``,
docs/rewards.md).
"""

from __future__ import annotations

import torch

from hoi_sim import rotations as rot
from hoi_sim.humanoid import geoms as hg


def pos_sq_error(ref: torch.Tensor, sim: torch.Tensor) -> torch.Tensor:
    """Mean over entities of the squared Euclidean distance.

    Args:
        ref, sim: [N, B, 3] (or [N, 3] for a single entity such as the object).

    Returns:
        [N] mean_b ‖ref_b − sim_b‖² (m², or (m/s)² / (rad/s)² for velocities).
    """
    d = ((ref - sim) ** 2).sum(-1)
    return d if d.dim() == 1 else d.mean(-1)


def rot_sq_error(ref_quat: torch.Tensor, sim_quat: torch.Tensor) -> torch.Tensor:
    """Mean over entities of the squared rotation difference angle ``θ(q_ref ⊖ q_sim)²``.

    Args:
        ref_quat, sim_quat: [N, B, 4] or [N, 4] unit quaternions (wxyz).

    Returns:
        [N] mean_b θ_b² (rad²), θ ∈ [0, π] (the positive angle; no sign quirk).
    """
    a = rot.quat_diff_angle(ref_quat, sim_quat) ** 2
    return a if a.dim() == 1 else a.mean(-1)


def keypoint_label_miss(label: torch.Tensor, contact: torch.Tensor, reduce: str = "sum") -> torch.Tensor:
    """Eq. 5: ``R_lr = Σ_b ‖ĉ_b − c_b‖ ⊙ ĉ_b`` — annotated contacts the simulation misses.

    Args:
        label: [N, B] reference contact labels in {−1, 0, +1}; ĉ_b = 1 where the label is +1 (annotated contact).
        contact: [N, B] bool (or {0,1}) simulated contact, the predicted label c_b.
        reduce: "sum" (the paper: a count of missed bodies) or "mean" (fraction of the B bodies).

    Returns:
        [N] penalty ≥ 0; 0 when every annotated contact is simulated (extra contacts are not penalised).
    """
    c_hat = (label > 0).to(torch.float32)
    miss = (c_hat - contact.to(torch.float32)).abs() * c_hat
    return miss.sum(-1) if reduce == "sum" else miss.mean(-1)


POINT_FORMS = ("surface", "joint", "keypoint")
"""Human end of an interaction-graph edge: ``surface`` (default: the nearest point of the body's collision geom to
the edge's object point), ``joint`` (the paper's wording: the joint position) or ``keypoint`` (joint + R_body ·
the keypoint's body-frame offset)."""


def graph_points_human(body_pos: torch.Tensor, body_quat: torch.Tensor, ig_body: torch.Tensor,
                       ig_body_offset: torch.Tensor, form: str = "surface", obj_points: torch.Tensor | None = None,
                       geoms: torch.Tensor | None = None, active: torch.Tensor | None = None) -> torch.Tensor:
    """Human end p^h_k of each interaction-graph edge.

    Args:
        body_pos: [N, 52, 3] world body positions; body_quat: [N, 52, 4] wxyz.
        ig_body: [N, K] long, body index of each edge; ig_body_offset: [N, K, 3] body-frame offset (m).
        form: one of :data:`POINT_FORMS`: "surface" (the nearest point of body b_k's collision geom to the edge's
            object point ``obj_points``), "joint" (the joint position) or "keypoint" (joint + R_body · offset).
        obj_points: [N, K, 3] world object ends (:func:`graph_points_object`); needed by "surface".
        geoms: [N, 52, W] or [52, W] geom tables of the posed skeleton for "surface"; None = each queried body's geom
            derived from the pose (``humanoid.geoms.nearest_on_posed_body``).
        active: optional [N, K] bool for "surface": only these edges are computed (the others get the joint).

    Returns:
        [N, K, 3] world points (m).
    """
    if form == "surface":
        if obj_points is None:
            raise ValueError("form 'surface' needs the edges' object points")
        return hg.nearest_on_posed_body(obj_points, body_pos, body_quat, ig_body, geoms, active)[0]
    idx = ig_body.clamp_min(0)
    p = torch.gather(body_pos, 1, idx[..., None].expand(idx.shape + (3,)))
    if form == "joint":
        return p
    if form != "keypoint":
        raise ValueError(f"unknown interaction-graph point form {form!r} ({' | '.join(POINT_FORMS)})")
    q = torch.gather(body_quat, 1, idx[..., None].expand(idx.shape + (4,)))
    return p + rot.quat_rotate(q, ig_body_offset)


def graph_points_object(obj_pos: torch.Tensor, obj_quat: torch.Tensor, ig_obj_point: torch.Tensor) -> torch.Tensor:
    """Object end of each edge, ``R_t^o M^o + p_t^o``: [N, 3], [N, 4], [N, K, 3] (object frame) → [N, K, 3] world."""
    return rot.quat_rotate(obj_quat[:, None, :].expand(ig_obj_point.shape[:-1] + (4,)), ig_obj_point) + obj_pos[:, None]


def keypoint_contact_sq_dist(obj_points_world: torch.Tensor, human_points: torch.Tensor, active: torch.Tensor,
                             ref_offset: torch.Tensor | None = None, reduce: str = "sum") -> torch.Tensor:
    """Eq. 6 without −λ_c: ``Σ_k active_k ‖R^o M^o_k + p^o − p^h_k‖²``.

    Args:
        obj_points_world: [N, K, 3] object ends in the world (:func:`graph_points_object`).
        human_points: [N, K, 3] human ends in the world (:func:`graph_points_human`).
        active: [N, K] bool, the edges active at this frame (padding edges are inactive).
        ref_offset: optional [N, K, 3] reference gap (object end − human end of the *reference*); when given the
            distance is measured to that gap instead of to zero, so a reconstruction residual is not penalised.
        reduce: "sum" over active edges (the paper) or "mean" over active edges (0 when none is active).

    Returns:
        [N] penalty ≥ 0 (m²).
    """
    gap = obj_points_world - human_points
    if ref_offset is not None:
        gap = gap - ref_offset
    sq = (gap ** 2).sum(-1) * active.to(gap.dtype)
    if reduce == "sum":
        return sq.sum(-1)
    return sq.sum(-1) / active.sum(-1).clamp_min(1).to(gap.dtype)
