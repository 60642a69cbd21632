"""Evaluation metrics, exactly as the paper defines them (supplementary §11.2, Eq. 22–24), plus InterMimic's
success rate and object error (``reference/intermimic-notes.md`` §7).

Pure numpy functions of one clip; T frames, J joints, K interaction-graph edges, P object surface points.
Positions are metres in the world frame; every function states the unit it returns.

* :func:`mpjpe` (Eq. 22): mean over frames and joints of ‖p̂ − p‖₂, reported in **mm**.
* :func:`contact_mean_distance` (the headline ``contact_mm``): the mean of ‖R_t^o M^o(I_g) + p_t^o − p_t^h(I_g)‖
  over the active (frame, edge) pairs, in **mm** (comparable across clips, and with the paper's Table 1);
  :func:`contact_score` (Eq. 23 as written, ``contact_sum_m2``): the **sum** of the squared distances, in **m²**
  (a total, so it grows with the clip length and the number of annotated edges). The human end p_t^h(I_g) is by
  default the nearest point of the body's collision geom (:func:`graph_gaps`, ``form="surface"``).
* :func:`jitter` (Eq. 24): 1/|J| Σ_j sqrt(1/(T−3) Σ_t ‖Δ³p_{t,j}‖²), with the third difference divided by dt³ so
  that the result is a jerk in **m/s³** (dt = 1/fps of the clip).
* :func:`object_error` (InterMimic): mean over the P object surface points of the sim ↔ reference distance,
  averaged over frames, in **mm**.
"""

from __future__ import annotations

import numpy as np
import torch

from hoi_sim import rotations as rot
from hoi_sim.humanoid import geoms as hg

MM = 1000.0  # metres → millimetres


def _rotate(quat: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """Rotate ``vec`` [..., 3] by wxyz ``quat`` [..., 4] (broadcast); numpy in, numpy out (float64)."""
    q = torch.as_tensor(np.asarray(quat, np.float64))
    v = torch.as_tensor(np.asarray(vec, np.float64))
    shape = torch.broadcast_shapes(q.shape[:-1], v.shape[:-1])
    return rot.quat_rotate(q.expand(shape + (4,)), v.expand(shape + (3,))).numpy()


def mpjpe(sim_pos: np.ndarray, ref_pos: np.ndarray, joints: list[int] | np.ndarray | None = None) -> float:
    """Eq. 22: mean per-joint position error.

    Args:
        sim_pos: [T, J, 3] simulated joint positions (m).
        ref_pos: [T, J, 3] reference joint positions (m).
        joints: optional joint indices (e.g. ``skeleton.body_ids(BODY_JOINTS_22)``); None = all J.

    Returns:
        MPJPE in mm (NaN for T = 0).
    """
    sim_pos, ref_pos = np.asarray(sim_pos, np.float64), np.asarray(ref_pos, np.float64)
    if sim_pos.shape != ref_pos.shape:
        raise ValueError(f"mpjpe: shapes differ {sim_pos.shape} vs {ref_pos.shape}")
    if joints is not None:
        sim_pos, ref_pos = sim_pos[:, joints], ref_pos[:, joints]
    if sim_pos.shape[0] == 0:
        return float("nan")
    return float(np.linalg.norm(sim_pos - ref_pos, axis=-1).mean() * MM)


CONTACT_FORMS = ("surface", "joint", "keypoint")
"""Human end p_t^h(I_g) of an interaction-graph edge in the contact metrics (:func:`graph_gaps`)."""


def graph_gaps(body_pos: np.ndarray, body_quat: np.ndarray, obj_pos: np.ndarray, obj_quat: np.ndarray,
               ig_body: np.ndarray, ig_body_offset: np.ndarray, ig_obj_point: np.ndarray,
               form: str = "surface", skeleton_offsets: np.ndarray | None = None) -> np.ndarray:
    """Gap vectors R_t^o M^o(I_g) + p_t^o − p_t^h(I_g) of every interaction-graph edge.

    Args:
        body_pos: [T, 52, 3] m; body_quat: [T, 52, 4] wxyz.
        obj_pos: [T, 3] m; obj_quat: [T, 4] wxyz.
        ig_body: [K] body index of each edge; ig_body_offset: [K, 3] body-frame offset (m);
        ig_obj_point: [K, 3] object-frame point M^o (m).
        form: one of :data:`CONTACT_FORMS`: "surface" (default: p^h is the point of body b_k's collision geom —
            sphere, capsule or box, bone-scaled as the sim builds it — nearest to the object point; 0 gap when the
            object point lies inside the geom), "joint" (the joint position) or "keypoint" (joint + R_body · offset).
        skeleton_offsets: [52, 3] bone offsets (m) of the posed humanoid, for "surface"; None derives them from the
            pose itself (exact for rigid bodies: sim states and reference frames).

    Returns:
        [T, K, 3] gaps (m).
    """
    if form not in CONTACT_FORMS:
        raise ValueError(f"unknown interaction-graph point form {form!r} ({' | '.join(CONTACT_FORMS)})")
    ig_body = np.asarray(ig_body, np.int64)
    obj = _rotate(np.asarray(obj_quat)[:, None], np.asarray(ig_obj_point)[None]) + np.asarray(obj_pos)[:, None]
    if form == "surface":
        t = lambda a: torch.as_tensor(np.asarray(a, np.float64))  # noqa: E731
        table = None if skeleton_offsets is None else hg.geom_table(t(skeleton_offsets))
        bp = t(body_pos)
        body = torch.as_tensor(ig_body).expand(bp.shape[0], ig_body.shape[0])
        near, _ = hg.nearest_on_posed_body(t(obj), bp, t(body_quat), body, table)
        return obj - near.numpy()
    human = np.asarray(body_pos, np.float64)[:, ig_body]
    if form == "keypoint":
        human = human + _rotate(np.asarray(body_quat)[:, ig_body], np.asarray(ig_body_offset)[None])
    return obj - human


def contact_score(gaps: np.ndarray, active: np.ndarray) -> float:
    """Eq. 23: Σ over frames and active edges of ‖gap‖².

    Args:
        gaps: [T, K, 3] from :func:`graph_gaps` (m).
        active: [T, K] bool, edges active at each frame.

    Returns:
        The sum of squared distances in m² (0 when no edge is active).
    """
    sq = (np.asarray(gaps, np.float64) ** 2).sum(-1)
    return float((sq * np.asarray(active, bool)).sum())


def contact_mean_distance(gaps: np.ndarray, active: np.ndarray) -> float:
    """Mean of ‖gap‖ over active (frame, edge) pairs, in mm (NaN when no edge is ever active)."""
    active = np.asarray(active, bool)
    if not active.any():
        return float("nan")
    dist = np.linalg.norm(np.asarray(gaps, np.float64), axis=-1)
    return float(dist[active].mean() * MM)


def jitter(pos: np.ndarray, fps: float, joints: list[int] | np.ndarray | None = None) -> float:
    """Eq. 24: per-joint RMS of the third difference, averaged over joints.

    Args:
        pos: [T, J, 3] joint positions (m), T ≥ 4.
        fps: frames per second of ``pos`` (dt = 1/fps).
        joints: optional joint indices; None = all J.

    Returns:
        Jitter in m/s³ (Δ³p / dt³). NaN when T < 4.
    """
    pos = np.asarray(pos, np.float64)
    if joints is not None:
        pos = pos[:, joints]
    t = pos.shape[0]
    if t < 4:
        return float("nan")
    d3 = np.diff(pos, n=3, axis=0) * float(fps) ** 3  # [T-3, J, 3]
    per_joint = np.sqrt((d3 ** 2).sum(-1).sum(0) / (t - 3))
    return float(per_joint.mean())


def object_error(sim_obj_pos: np.ndarray, sim_obj_quat: np.ndarray, ref_obj_pos: np.ndarray,
                 ref_obj_quat: np.ndarray, points: np.ndarray) -> float:
    """InterMimic's object error: mean over frames and surface points of ‖sim point − ref point‖.

    Args:
        sim_obj_pos, ref_obj_pos: [T, 3] m; sim_obj_quat, ref_obj_quat: [T, 4] wxyz.
        points: [P, 3] object-frame surface samples (m).

    Returns:
        Object error in mm (NaN for T = 0).
    """
    if np.asarray(sim_obj_pos).shape[0] == 0:
        return float("nan")
    pts = np.asarray(points, np.float64)[None]
    sim = _rotate(np.asarray(sim_obj_quat)[:, None], pts) + np.asarray(sim_obj_pos)[:, None]
    ref = _rotate(np.asarray(ref_obj_quat)[:, None], pts) + np.asarray(ref_obj_pos)[:, None]
    return float(np.linalg.norm(sim - ref, axis=-1).mean() * MM)


def success_rate(reached_end: list[bool] | np.ndarray) -> float:
    """InterMimic's success rate: fraction of clips whose rollout reached the last frame with no termination."""
    arr = np.asarray(reached_end, bool)
    return float(arr.mean()) if arr.size else float("nan")
