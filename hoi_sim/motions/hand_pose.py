"""Hand and arm pose changes for ``motions.penetration``: forward kinematics of a body subtree from stored poses,
damped-least-squares IK that moves a wrist by a translation (the hand follows the object), and push-out rounds that
move hand spheres out of convex parts along fixed exit faces. Arrays are float64 numpy: pos [T,52,3] (m), rmat
[T,52,3,3] (body → world), dof [T,153] (rad, intrinsic x-y-z hinges), offsets [52,3] (m)."""

from __future__ import annotations

import numpy as np
import torch

from hoi_sim import rotations as rot
from hoi_sim.motions.penetration_geometry import (
    ARM_CHAIN,
    ROT_SCALE_M,
    HullPlanes,
    PenetrationConfig,
    smooth_keep_size,
    sphere_depths,
    to_object_frame,
)
from hoi_sim.skeleton import BODY_INDEX, NUM_BODIES, PARENTS


def _euler(q: np.ndarray) -> np.ndarray:
    """Intrinsic x-y-z hinge angles [..., 3] (rad) → R = Rx·Ry·Rz [..., 3, 3] (as ``rotations.euler_xyz_to_matrix``,
    in numpy: this runs inside the push-out loops)."""
    ca, cb, cc = np.cos(q[..., 0]), np.cos(q[..., 1]), np.cos(q[..., 2])
    sa, sb, sc = np.sin(q[..., 0]), np.sin(q[..., 1]), np.sin(q[..., 2])
    return np.stack([
        np.stack([cb * cc, -cb * sc, sb], -1),
        np.stack([ca * sc + sa * sb * cc, ca * cc - sa * sb * sc, -sa * cb], -1),
        np.stack([sa * sc - ca * sb * cc, sa * cc + ca * sb * sc, ca * cb], -1),
    ], -2)


def _dofs(b: int) -> slice:
    return slice(3 * (b - 1), 3 * b)


def subtree(root: int) -> list[int]:
    """``root`` and its descendants, parents first (body order is depth-first)."""
    out = [root]
    for b in range(root + 1, NUM_BODIES):
        if PARENTS[b] in out:
            out.append(b)
    return out


def _fk(pos: np.ndarray, rmat: np.ndarray, dof: np.ndarray, offsets: np.ndarray, bodies: list[int],
        frames: np.ndarray) -> None:
    """Recompute world pose of ``bodies`` (parents first) on ``frames`` from their parents, in place."""
    for b in bodies:
        p = PARENTS[b]
        pos[frames, b] = pos[frames, p] + rmat[frames, p] @ offsets[b]
        rmat[frames, b] = rmat[frames, p] @ _euler(dof[frames][:, _dofs(b)])


def _rot_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """World rotation vector [N,3] taking ``current`` [N,3,3] to ``target``."""
    q = rot.matrix_to_quat(torch.as_tensor(target @ np.swapaxes(current, -1, -2)))
    return rot.quat_to_axis_angle(q).numpy()


def arm_ik(pos: np.ndarray, rmat: np.ndarray, dof: np.ndarray, offsets: np.ndarray, side: str,
            frames: np.ndarray, shift: np.ndarray, cfg: PenetrationConfig) -> float:
    """Move the ``side`` wrist by ``shift`` [F,3] (m, world) on ``frames``, keeping its rotation, by damped least
    squares on the arm's 9 hinges; updates ``dof``, ``pos``, ``rmat`` (arm and hand) in place. Returns the largest
    hinge change (rad)."""
    chain = [BODY_INDEX[n] for n in ARM_CHAIN[side]]
    wrist = chain[-1]
    cols = np.concatenate([np.arange(3 * (b - 1), 3 * b) for b in chain])
    target_p = pos[frames, wrist] + shift
    target_r = rmat[frames, wrist].copy()
    q0 = dof[np.ix_(frames, cols)].copy()
    sub_pos, sub_rot = pos[frames].copy(), rmat[frames].copy()
    local = np.arange(len(frames))

    def wrist_pose(q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = dof[frames].copy()
        d[:, cols] = q
        _fk(sub_pos, sub_rot, d, offsets, chain, local)
        return sub_pos[:, wrist].copy(), sub_rot[:, wrist].copy()

    q = q0.copy()
    eps = 1e-6
    lam2 = cfg.ik_damping ** 2
    for _ in range(cfg.ik_iterations):
        p, r = wrist_pose(q)
        err = np.concatenate([target_p - p, ROT_SCALE_M * _rot_error(target_r, r)], axis=1)  # [F,6]
        if np.abs(err).max() < 1e-6:
            break
        J = np.empty((len(frames), 6, len(cols)))
        for k in range(len(cols)):
            dq = q.copy()
            dq[:, k] += eps
            pk, rk = wrist_pose(dq)
            J[:, :3, k] = (pk - p) / eps
            J[:, 3:, k] = ROT_SCALE_M * _rot_error(rk, r) / eps
        JJt = J @ np.swapaxes(J, 1, 2) + lam2 * np.eye(6)
        q = q + (np.swapaxes(J, 1, 2) @ np.linalg.solve(JJt, err[..., None]))[..., 0]
    dof[np.ix_(frames, cols)] = q
    _fk(pos, rmat, dof, offsets, subtree(chain[0]), frames)
    return float(np.abs(q - q0).max()) if len(frames) else 0.0


def _choose_exit_faces(d: np.ndarray, h: np.ndarray, f: np.ndarray, h_of: np.ndarray, f_of: np.ndarray,
                       body: np.ndarray, num_hulls: int, tol_m: float) -> None:
    """Fix the exit face (hull ``h_of``, face ``f_of`` [F,S], −1 unset) of each sphere that newly penetrates by more
    than ``tol_m``: one per (frame, body, hull), that of the body's deepest sphere in that hull (``d``, ``h``, ``f``
    [F,S]: each sphere's depth, deepest hull and face now). In place."""
    new = (d > tol_m) & (h_of < 0)
    if not new.any():
        return
    key = (np.arange(d.shape[0])[:, None] * (NUM_BODIES + 1) + body[None]) * num_hulls + h
    order = np.lexsort((-d.ravel(), key.ravel()))
    first = np.ones(len(order), bool)
    first[1:] = key.ravel()[order][1:] != key.ravel()[order][:-1]
    lead = np.empty(len(order), np.int64)
    lead[order] = order[np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))]
    h_of[new], f_of[new] = h.ravel()[lead].reshape(h.shape)[new], f.ravel()[lead].reshape(f.shape)[new]


def _fixed_face_depths(loc: np.ndarray, radius: np.ndarray, h_of: np.ndarray, f_of: np.ndarray, planes: HullPlanes
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Depth [F,S] of each sphere (object-frame centres ``loc`` [F,S,3]) past its fixed exit face (−inf where none
    is fixed yet) and that face's object-frame normal [F,S,3]."""
    fixed = h_of >= 0
    hh, ff = np.where(fixed, h_of, 0), np.where(fixed, f_of, 0)
    n_loc = planes.normals[hh, ff]
    d_fix = np.where(fixed, radius - (np.einsum("tsk,tsk->ts", loc, n_loc) - np.where(fixed, planes.offsets[hh, ff],
                                                                                    0.0)), -np.inf)
    return d_fix, n_loc


def _jacobian(centres, q: np.ndarray, x: np.ndarray, eps: float) -> np.ndarray:
    """[F, 3S, n] forward-difference Jacobian of the sphere centres ``x = centres(q)`` [F,S,3] in the hinges q [F,n]."""
    J = np.empty((len(q), x.shape[1] * 3, q.shape[1]))
    for k in range(q.shape[1]):
        dq = q.copy()
        dq[:, k] += eps
        J[:, :, k] = ((centres(dq) - x) / eps).reshape(len(q), -1)
    return J


def _bounded_step(J: np.ndarray, want: np.ndarray, q: np.ndarray, q0: np.ndarray, cfg: PenetrationConfig,
                  max_change: float) -> np.ndarray:
    """The hinges after one damped-least-squares step towards ``want`` [F,3S] (at most ``max_step_rad`` per hinge
    per round, ``max_change`` from ``q0`` in all)."""
    JtJ = np.swapaxes(J, 1, 2) @ J + (cfg.push_damping ** 2) * np.eye(q.shape[1])
    step = np.linalg.solve(JtJ, (np.swapaxes(J, 1, 2) @ want[..., None]))[..., 0]
    step *= np.minimum(1.0, cfg.max_step_rad / np.maximum(np.abs(step).max(axis=1, keepdims=True), 1e-12))
    q = q + step
    over = np.abs(q - q0).max(axis=1, keepdims=True)
    return q0 + (q - q0) * np.minimum(1.0, max_change / np.maximum(over, 1e-12))


def push_out(pos: np.ndarray, rmat: np.ndarray, dof: np.ndarray, offsets: np.ndarray, chain: list[int],
              sph: tuple[np.ndarray, np.ndarray, np.ndarray], frames: np.ndarray, o_rot: np.ndarray,
              o_pos: np.ndarray, planes: HullPlanes, cfg: PenetrationConfig, max_change: float) -> np.ndarray:
    """Hinge changes [F, 3·len(chain)] (rad) of ``chain``'s bodies that push the spheres ``sph`` (body, centre,
    radius; bodies in the subtree of ``chain[0]``) out of the object on ``frames``: each penetrating sphere asks
    to move by its depth along its exit normal, and damped least squares over the chain's hinges does it, a few
    rounds (each hinge moves by at most ``max_step_rad`` per round and ``max_change`` in all). Frames that do not
    get shallower by more than ``tol_m`` get zero. Nothing is written."""
    body, centre, radius = sph
    cols = np.concatenate([np.arange(3 * (b - 1), 3 * b) for b in chain])
    bodies = subtree(chain[0])
    local = np.arange(len(frames))
    base_dof = dof[frames].copy()
    q0 = base_dof[:, cols].copy()
    radii = np.tile(radius, len(frames))

    def centres(q: np.ndarray) -> np.ndarray:
        sp, sr, d = pos[frames].copy(), rmat[frames].copy(), base_dof.copy()
        d[:, cols] = q
        _fk(sp, sr, d, offsets, bodies, local)
        return sp[:, body] + np.einsum("tsij,sj->tsi", sr[:, body], centre)

    def local_of(x: np.ndarray) -> np.ndarray:
        return to_object_frame(x, o_rot[frames], o_pos[frames])

    def true_depth(x: np.ndarray) -> np.ndarray:
        return sphere_depths(local_of(x).reshape(-1, 3), radii, planes).reshape(len(frames), -1)

    q = q0.copy()
    x = centres(q)
    d_start = true_depth(x).max(axis=1)
    # each sphere leaves through the face it was deepest under when it first penetrated (a fixed direction:
    # a sphere in the middle of a thin slab would otherwise flip between the two faces)
    h_of = np.full((len(frames), len(body)), -1)
    f_of = np.full((len(frames), len(body)), -1)
    for _ in range(cfg.ik_iterations):
        loc = local_of(x)
        d, h, f = (a.reshape(h_of.shape) for a in sphere_depths(loc.reshape(-1, 3), radii, planes, faces=True))
        _choose_exit_faces(d, h, f, h_of, f_of, body, len(planes.lo), cfg.tol_m)
        d_fix, n_loc = _fixed_face_depths(loc, radius, h_of, f_of, planes)
        bad = d_fix > cfg.tol_m
        if not bad.any():
            break
        n = np.einsum("tij,tsj->tsi", o_rot[frames], n_loc)
        want = (n * np.where(bad, d_fix + cfg.tol_m, 0.0)[..., None]).reshape(len(frames), -1)  # [F,3S]
        J = _jacobian(centres, q, x, 1e-5) * np.repeat(bad, 3, axis=1)[..., None]
        q = _bounded_step(J, want, q, q0, cfg, max_change)
        x = centres(q)
    keep = true_depth(x).max(axis=1) < d_start - cfg.tol_m
    return np.where(keep[:, None], q - q0, 0.0)


def apply_change(pos: np.ndarray, rmat: np.ndarray, dof: np.ndarray, offsets: np.ndarray, chain: list[int],
                  frames: np.ndarray, change: np.ndarray, cfg: PenetrationConfig) -> tuple[int, float]:
    """Smooth the hinge changes [F, n] of ``chain`` over time (without shrinking) and apply them in place.
    Returns (frames changed, largest change in rad)."""
    cols = np.concatenate([np.arange(3 * (b - 1), 3 * b) for b in chain])
    full = np.zeros((len(dof), len(cols)))
    full[frames] = change
    full = smooth_keep_size(full, cfg.smooth_frames)
    changed = np.nonzero(np.abs(full).max(axis=1) > 1e-9)[0]
    if len(changed):
        dof[np.ix_(changed, cols)] += full[changed]
        _fk(pos, rmat, dof, offsets, subtree(chain[0]), changed)
    return len(changed), float(np.abs(full).max()) if len(changed) else 0.0
