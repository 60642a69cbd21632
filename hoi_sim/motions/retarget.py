"""Retarget a solver output (:class:`~hoi_sim.recon.sequence.HOISequence`: SMPL-X + object, camera frame) to a
52-body :class:`~hoi_sim.motions.schema.HOIMotion` on the z-up world.

Steps (docs/retarget.md):

1. **Body model.** The SMPL-X parameters run through a body model (SMPL-X with the user's model file when one is
   configured and the sequence has betas, else the proxy body); its ``body_pos``/``body_rot`` give every humanoid
   body's origin and rotation in the camera frame.
2. **Frame change.** Camera → world with the sequence's ``cam_to_world`` (a y-up world, as GVHMR's, is turned z-up
   with ``C``); without one, OpenCV camera axes are mapped to a z-up world (y down → −z, z forward → x). Humanoid
   body rotations are ``R_world = A · R_smplx · Cᵀ`` (SMPL-X body axes → humanoid body axes).
3. **Skeleton.** The body model's bones are rigid, so the clip's bone offsets are read off the posed bodies
   (:func:`~hoi_sim.humanoid.kinematics.infer_offsets`) and stored in the motion: FK on them reproduces the body
   model's joints exactly, fingers included.
4. **Hinges.** Exact intrinsic x-y-z decomposition of every local joint rotation; root from the pelvis.
5. **Ground.** The lowest foot-geom point over the clip is put at z = 0 (``ground_align``; off keeps the world z).
6. **Contacts.** From the per-frame annotated pairs: label +1 on the humanoid body of every active keypoint; every
   other body → −1 when its origin is farther than ``far_m`` from the object's vertices, else 0 (unknown: near the
   object but not annotated). Feet follow the same rule: the simulator's *with-object* contact flag tells object
   contact from ground contact, so a foot on the floor far from the object is correctly "must not touch the object".
7. **Interaction graph.** One edge per keypoint and contiguous run of active frames, split where the keypoint
   slides on the object by more than ``slide_m``: body = the keypoint's body, body-local offset = the keypoint in
   that body's frame, object-local point M^o = the keypoint in the object frame (``graph_points="reference"``,
   default: the graph then agrees with the reference motion), or the annotated object vertex
   (``graph_points="annotated"``, the paper's literal M^o; it can sit up to the annotation tolerance away).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hoi_sim import keypoints as kp
from hoi_sim import rotations as rot
from hoi_sim.errors import InputError
from hoi_sim.humanoid.geoms import scaled_geoms
from hoi_sim.humanoid.kinematics import dofs_from_global, forward_kinematics, infer_offsets
from hoi_sim.skeleton import BODY_INDEX, FEET, NUM_BODIES

C_S2H = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
"""SMPL-X / y-up axes → humanoid / z-up axes: ``v_h = C v_s``."""

CV_TO_YUP = np.diag([1.0, -1.0, -1.0])
"""OpenCV camera axes (x right, y down, z forward) → y-up axes (x right, y up, z backward)."""


@dataclass(frozen=True)
class RetargetConfig:
    """Knobs of :func:`retarget_sequence`."""

    ground_align: bool = True
    """Shift the clip so that the lowest foot-geom point over the clip is at z = 0."""
    far_m: float = 0.25
    """Unannotated bodies whose origin is farther than this from the object surface get label −1 (m)."""
    slide_m: float = 0.005
    """A graph edge is split when its keypoint moves more than this on the object (object frame, m)."""
    graph_points: str = "reference"
    """'reference' (keypoint position in the object frame) or 'annotated' (the annotated object vertex)."""
    body_model: str = "auto"
    """'auto' (SMPL-X when a model file is configured, else proxy), 'smplx' or 'proxy'."""


def camera_to_world(seq: Any) -> tuple[np.ndarray, np.ndarray]:
    """[T,3,3] rotation and [T,3] translation taking the sequence's camera frame to the z-up world."""
    T = seq.num_frames
    up = str(seq.meta.get("world_up", "z")).lower()
    if seq.cam_to_world is not None:
        A = np.asarray(seq.cam_to_world, dtype=np.float64).reshape(T, 4, 4)
        R, t = A[:, :3, :3], A[:, :3, 3]
        if up == "y":
            R, t = C_S2H @ R, t @ C_S2H.T
        return R, t
    R = np.broadcast_to(C_S2H @ CV_TO_YUP, (T, 3, 3)).copy()
    return R, np.zeros((T, 3))


def _foot_corners(offsets: np.ndarray | None = None) -> list[tuple[int, np.ndarray]]:
    """(body index, [8,3] corners in the body frame) of the foot boxes of the humanoid built on ``offsets``
    (default neutral), placed as the simulator places them (``humanoid.geoms.scaled_geoms``)."""
    geoms = scaled_geoms(offsets)
    out = []
    for name in FEET:
        b = BODY_INDEX[name]
        for g in geoms[b]:
            if g.type != "box":
                continue
            signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)
            out.append((b, np.asarray(g.pos or (0, 0, 0)) + signs * np.asarray(g.size)))
    return out


def lowest_foot_z(body_pos: torch.Tensor, body_quat: torch.Tensor, offsets: np.ndarray | None = None) -> float:
    """Lowest z (m) of the foot boxes over a clip; body_pos [T,52,3], body_quat [T,52,4], skeleton ``offsets``
    [52,3] (default neutral)."""
    low = float("inf")
    for b, corners in _foot_corners(offsets):
        c = torch.as_tensor(corners, dtype=body_pos.dtype)
        q = body_quat[:, b, None].expand(-1, c.shape[0], 4)
        world = body_pos[:, b, None] + rot.quat_rotate(q, c.expand(body_pos.shape[0], -1, -1))
        low = min(low, float(world[..., 2].min()))
    return low


def _segments(local: np.ndarray, active: np.ndarray, slide_m: float) -> list[tuple[int, int]]:
    """Split the active frames of one keypoint into runs along which its object-local point stays within slide_m."""
    segs: list[tuple[int, int]] = []
    t, T = 0, len(active)
    while t < T:
        if not active[t]:
            t += 1
            continue
        s = t
        while t < T and active[t] and np.linalg.norm(local[t] - local[s]) <= slide_m:
            t += 1
        segs.append((s, t))
    return segs


def contacts_and_graph(contact_vertex: np.ndarray, kp_world: np.ndarray, body_pos: np.ndarray, body_rot: np.ndarray,
                       obj_R: np.ndarray, obj_t: np.ndarray, obj_vertices: np.ndarray,
                       cfg: RetargetConfig) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Contact labels [T,52] int8 and the interaction graph (``ig_*`` arrays) from annotated pairs.

    Args: contact_vertex [T,87] (−1 none), kp_world [T,87,3] keypoint positions (world, m), body_pos [T,52,3],
    body_rot [T,52,3,3] (humanoid body → world), obj_R [T,3,3], obj_t [T,3] (object → world), obj_vertices [V,3].
    """
    T = contact_vertex.shape[0]
    active = contact_vertex >= 0
    kps = kp.keypoints()
    label = np.zeros((T, NUM_BODIES), np.int8)
    # far-from-object bodies → −1 (distance from the body origin to the nearest object vertex, object frame)
    from scipy.spatial import cKDTree

    local_bodies = np.einsum("tji,tbj->tbi", obj_R, body_pos - obj_t[:, None])
    d = cKDTree(obj_vertices).query(local_bodies.reshape(-1, 3))[0].reshape(T, NUM_BODIES)
    label[d > cfg.far_m] = -1
    for k, keyp in enumerate(kps):
        label[active[:, k], keyp.body_index] = 1

    kp_obj = np.einsum("tji,tkj->tki", obj_R, kp_world - obj_t[:, None])  # keypoints in the object frame
    bodies, offsets, points, masks = [], [], [], []
    for k, keyp in enumerate(kps):
        if not active[:, k].any():
            continue
        b = keyp.body_index
        for s, e in _segments(kp_obj[:, k], active[:, k], cfg.slide_m):
            in_body = np.einsum("tji,tj->ti", body_rot[s:e, b], kp_world[s:e, k] - body_pos[s:e, b])
            if cfg.graph_points == "annotated":
                vids, counts = np.unique(contact_vertex[s:e, k], return_counts=True)
                point = obj_vertices[vids[counts.argmax()]]
            elif cfg.graph_points == "reference":
                point = kp_obj[s:e, k].mean(axis=0)
            else:
                raise InputError(f"graph_points must be 'reference' or 'annotated', got {cfg.graph_points!r}")
            m = np.zeros(T, bool)
            m[s:e] = True
            bodies.append(b)
            offsets.append(in_body.mean(axis=0))
            points.append(point)
            masks.append(m)
    graph = {
        "ig_body": np.asarray(bodies, np.int64).reshape(-1),
        "ig_body_offset": np.asarray(offsets, np.float32).reshape(-1, 3),
        "ig_obj_point": np.asarray(points, np.float32).reshape(-1, 3),
        "ig_active": np.stack(masks, axis=1) if masks else np.zeros((T, 0), bool),
    }
    return label, graph


def _bodies_in_world(seq: Any, body_model: Any) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """The body model's bodies and keypoints in the z-up world: body_pos [T,52,3], body_quat [T,52,4] (humanoid
    body axes), keypoints [T,87,3] (float64)."""
    from hoi_sim.body import BodyParams

    f64 = torch.float64
    params = BodyParams.from_numpy(seq.human, dtype=f64)
    with torch.no_grad():
        out = body_model(params)
    A_R, A_t = camera_to_world(seq)
    AR = torch.as_tensor(A_R, dtype=f64)
    At = torch.as_tensor(A_t, dtype=f64)
    C = torch.as_tensor(C_S2H, dtype=f64)
    body_pos = (AR[:, None] @ out.body_pos.to(f64)[..., None])[..., 0] + At[:, None]
    body_rot = AR[:, None] @ out.body_rot.to(f64) @ C.T
    kp_world = (AR[:, None] @ out.keypoints.to(f64)[..., None])[..., 0] + At[:, None]
    return body_pos, rot.matrix_to_quat(body_rot), kp_world.numpy()


def _object_in_world(seq: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The object re-centred on its vertex centroid (HOIMotion's object frame) and mapped to the world:
    R [T,3,3], t [T,3], vertices [V,3]."""
    A_R, A_t = camera_to_world(seq)
    verts = np.asarray(seq.obj_vertices, np.float64)
    centroid = verts.mean(axis=0)
    obj_R = A_R @ np.asarray(seq.obj_R, np.float64)
    obj_t = np.einsum("tij,tj->ti", A_R, np.asarray(seq.obj_t, np.float64) + seq.obj_R @ centroid) + A_t
    return obj_R, obj_t, verts - centroid


def _motion_meta(seq: Any, body_model: Any, cfg: RetargetConfig, ground_shift_m: float, bone_dev_m: float,
                 meta: dict | None) -> dict:
    m = dict(seq.meta)
    provenance = dict(m.get("provenance", {}))
    info = {
        "fps": float(seq.fps),
        "name": m.get("name", "retargeted"),
        "object_name": m.get("object_name", "object"),
        "mass_mode": "static" if m.get("static", False) else "dynamic",
        "source": "hoi_sequence",
        "action": m.get("action", ""),
        "subject": m.get("subject", ""),
        "provenance": {**provenance, "retarget": {
            "body_model": getattr(body_model, "name", type(body_model).__name__),
            "ground_shift_m": ground_shift_m, "graph_points": cfg.graph_points, "far_m": cfg.far_m,
            "max_bone_deviation_m": bone_dev_m, "start_frame": int(seq.start_frame)}},
        "skeleton": f"from body model {getattr(body_model, 'name', '?')}",
    }
    info.update(meta or {})
    return info


def retarget_sequence(seq: Any, body_model: Any | None = None, cfg: RetargetConfig | None = None,
                      meta: dict | None = None) -> Any:
    """HOISequence (camera frame) → HOIMotion (z-up world, 52 bodies). See the module doc for every step.

    Args:
        seq: a :class:`hoi_sim.recon.sequence.HOISequence`.
        body_model: a :mod:`hoi_sim.body` model; default per ``cfg.body_model``.
        cfg: :class:`RetargetConfig`.
        meta: extra meta merged into the motion's (e.g. ``action``, ``subject``, ``name``).
    """
    from hoi_sim.body import load_body_model
    from hoi_sim.motions.schema import make_motion

    cfg = cfg or RetargetConfig()
    seq.validate("HOISequence")
    if body_model is None:
        body_model = load_body_model(cfg.body_model, dtype=torch.float64)
    body_pos, body_quat, kp_world = _bodies_in_world(seq, body_model)
    offsets, dev = infer_offsets(body_pos, body_quat)
    dofs = dofs_from_global(body_quat)
    fk_pos, fk_quat = forward_kinematics(body_pos[:, 0], body_quat[:, 0], dofs, offsets)
    obj_R, obj_t, verts = _object_in_world(seq)

    shift = np.zeros(3)
    if cfg.ground_align:
        shift[2] = -lowest_foot_z(fk_pos, fk_quat, offsets.numpy())
    fk_pos_np = fk_pos.numpy() + shift
    obj_t = obj_t + shift

    label, graph = contacts_and_graph(np.asarray(seq.contact_vertex), kp_world + shift, fk_pos_np,
                                      rot.quat_to_matrix(fk_quat).numpy(), obj_R, obj_t, verts, cfg)
    info = _motion_meta(seq, body_model, cfg, float(shift[2]), float(dev.max()), meta)
    return make_motion(
        info, root_pos=fk_pos_np[:, 0], root_quat=fk_quat[:, 0].numpy(), dof_pos=dofs.numpy(),
        body_pos=fk_pos_np, body_quat=fk_quat.numpy(), obj_pos=obj_t,
        obj_quat=rot.matrix_to_quat(torch.as_tensor(obj_R)).numpy(), contact_label=label,
        skeleton_offsets=offsets.numpy(), obj_vertices=verts, obj_faces=np.asarray(seq.obj_faces), graph=graph)
