"""Object–floor and hand–object penetration of a reference clip: measure it, and remove it with the smallest
change (docs/motion_format.md, "Grounding").

Shapes. The object is the convex parts the simulator collides with (``objects.hulls``: coacd hulls, or any list of
``ConvexHull``), in the object frame. Each hand body (``skeleton.HANDS``: wrists and finger phalanges) is its
collision geom on the clip's skeleton (``humanoid.builder.scaled_geoms``) covered by spheres (:func:`hand_spheres`):
a capsule by spheres of its radius along its segment, a box by spheres of its smallest half size on its mid-plane.

Depth. A point p inside a convex hull with outward face planes n·x = d is ``−max(n·p − d)`` deep; a sphere of
radius r penetrates by ``r − max(n·c − d)`` (exact inside, an upper bound near edges and corners outside). A
frame's hand penetration is its deepest sphere over all hulls; the object is in the floor by minus its lowest hull
vertex's world z.

Resolution (:func:`resolve_penetration`), three steps, each only where needed:

1. **Object out of the floor.** Grounding moves the object with the humanoid; where that puts it below the floor
   (an object resting on the floor while the humanoid's feet stood above it), the object is lifted by the depth
   on that frame (its rotation and x, y stay).
2. **Hands follow the object.** A hand within ``follow_m`` of the object on a frame (before step 1) moves with the
   object's lift: its wrist gets the same translation and keeps its rotation, by damped least squares on the
   shoulder, elbow and wrist hinges (9 per arm); the fingers follow the wrist. The hand–object relative pose of
   the original clip is kept on those frames; only the arm pose changes.
3. **Hands out of the object.** Per side, the palm (wrist and first phalanges) is pushed out by the arm's 9
   hinges, then each finger by its own 9 (three phalanges), fingers twice (``motions.hand_pose.push_out``): every
   penetrating sphere asks to move by its depth along the outward normal of one exit face (that of its body's
   deepest sphere in that hull, fixed once chosen, so a finger inside a thin slab does not flip between the two
   sides), and damped least squares over the hinges does it, at most ``max_step_rad`` per round and
   ``arm_max_rad`` / ``finger_max_rad`` in all. A frame keeps the change only if it gets shallower by more than
   ``tol_m``. What cannot be freed within those bounds (a thumb 35 mm inside a table top) is reported, not hidden.

Every per-frame correction (the lift, the follow weight, the hinge changes) is smoothed in time without shrinking it:
dilated (running max) over ±``smooth_frames`` and then averaged over the same window, so it ramps in and out over
a few frames instead of adding jitter. Velocities are recomputed (``motions.velocity``).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import torch

from hoi_sim import rotations as rot
from hoi_sim.errors import InputError
from hoi_sim.motions.schema import HOIMotion
from hoi_sim.skeleton import BODY_INDEX, BODY_NAMES, HANDS, NUM_BODIES, PARENTS, body_ids

MM = 1000.0
SIDES = ("L", "R")
ARM_CHAIN = {s: (f"{s}_Shoulder", f"{s}_Elbow", f"{s}_Wrist") for s in SIDES}
"""Bodies whose hinges move a hand to follow the object (9 DOFs per side)."""
FINGERS = {s: tuple(tuple(f"{s}_{f}{k}" for k in (1, 2, 3)) for f in ("Index", "Middle", "Pinky", "Ring", "Thumb"))
           for s in SIDES}
ROT_SCALE_M = 0.1
"""Length (m) that weighs a wrist rotation error (rad) against its position error in the arm IK."""


@dataclass(frozen=True)
class PenetrationConfig:
    """Knobs of :func:`resolve_penetration`."""

    tol_m: float = 0.001
    """Hand penetration up to this depth (m) is left as it is (the humanoid's geoms have a 1 mm contact margin)."""
    floor_tol_m: float = 0.001
    """The object's lowest point may be this far below the floor (m) before it is lifted."""
    follow_m: float = 0.03
    """A hand within this distance (m) of the object follows the object's lift (step 2)."""
    smooth_frames: int = 3
    """Half-width (frames) of the dilate-then-average smoothing of every correction."""
    ik_iterations: int = 12
    ik_damping: float = 1e-3
    """Damped least squares: iterations and damping λ (m) of the follow IK and of the push-out rounds."""
    push_damping: float = 0.02
    """Damping λ (m) of the push-out least squares (step 3): larger = smaller, slower hinge steps."""
    max_step_rad: float = 0.1
    """Largest hinge change per push-out round (rad)."""
    finger_max_rad: float = 0.8
    arm_max_rad: float = 0.35
    """Largest total hinge change (rad) a push-out may make on a finger (≈ 46°) and on an arm (≈ 20°)."""

    def __post_init__(self) -> None:
        if min(self.tol_m, self.floor_tol_m, self.follow_m) < 0 or self.smooth_frames < 0 or self.ik_iterations < 1:
            raise InputError("penetration tolerances must be >= 0, smooth_frames >= 0, ik_iterations >= 1")


@dataclass
class PenetrationReport:
    """What :func:`resolve_penetration` found and changed (m and rad; a depth > 0 means inside).

    hand_max_before_m / hand_max_after_m: deepest hand penetration over the clip · hand_frames_before / _after:
    frames with a hand deeper than ``tol_m`` · worst_body: the hand body of the deepest penetration before ·
    floor_before_m / floor_after_m: deepest object penetration of the floor (0 when above) · lift_max_m /
    lift_frames: the object's largest lift and how many frames were lifted · follow_max_m / follow_frames: the
    largest wrist translation of a following hand and the (side, frame) pairs that moved · arm_max_rad: the largest
    arm hinge change (following or pushing a hand out) · finger_frames / finger_max_rad: (finger, frame) pairs
    moved out of the object and the largest finger hinge change · hand_frames: (side, frame) pairs whose arm moved
    to push the hand out · reverted_frames: (side, frame) pairs given back their pose because step 3 made them
    deeper.
    """

    hand_max_before_m: float
    hand_max_after_m: float
    hand_frames_before: int
    hand_frames_after: int
    worst_body: str
    floor_before_m: float
    floor_after_m: float
    lift_max_m: float = 0.0
    lift_frames: int = 0
    follow_max_m: float = 0.0
    follow_frames: int = 0
    arm_max_rad: float = 0.0
    finger_frames: int = 0
    finger_max_rad: float = 0.0
    hand_frames: int = 0
    reverted_frames: int = 0

    def as_dict(self) -> dict:
        return {k: round(v, 5) if isinstance(v, float) else v for k, v in asdict(self).items()}

    def line(self) -> str:
        """One line for command output."""
        return (f"penetration: object in floor {self.floor_before_m * MM:.1f} -> {self.floor_after_m * MM:.1f} mm "
                f"(lifted on {self.lift_frames} frames, at most {self.lift_max_m * MM:.1f} mm; hands followed on "
                f"{self.follow_frames} side-frames, arm hinges by at most {np.degrees(self.arm_max_rad):.1f} deg); "
                f"hands in object max {self.hand_max_before_m * MM:.1f} -> {self.hand_max_after_m * MM:.1f} mm "
                f"({self.hand_frames_before} -> {self.hand_frames_after} frames, worst {self.worst_body}; "
                f"{self.finger_frames} finger-frames moved, by <= {np.degrees(self.finger_max_rad):.1f} deg; "
                f"{self.hand_frames} hand-frames pushed out by the arm)")


@dataclass(frozen=True)
class HullPlanes:
    """Convex parts as padded plane sets (object frame): normals [H,P,3] (outward, unit; padding 0), offsets
    [H,P] (m; padding +inf so a padded plane never decides), lo/hi [H,3] bounding boxes (m), vertices [ΣV,3]."""

    normals: np.ndarray
    offsets: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    vertices: np.ndarray


def hull_planes(hulls: list) -> HullPlanes:
    """Face planes of ``hulls`` (``objects.hulls.ConvexHull``: vertices [V,3], outward CCW faces [F,3])."""
    if not hulls:
        raise InputError("no convex parts given for the object")
    normals, offsets = [], []
    for h in hulls:
        v = np.asarray(h.vertices, np.float64)
        f = np.asarray(h.faces, np.int64)
        n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
        norm = np.linalg.norm(n, axis=1)
        keep = norm > 1e-12
        n = n[keep] / norm[keep, None]
        normals.append(n)
        offsets.append(np.einsum("fk,fk->f", n, v[f[keep, 0]]))
    P = max(len(n) for n in normals)
    N = np.zeros((len(hulls), P, 3))
    D = np.full((len(hulls), P), np.inf)
    for i, (n, d) in enumerate(zip(normals, offsets)):
        N[i, :len(n)] = n
        D[i, :len(d)] = d
    lo = np.stack([np.asarray(h.vertices).min(axis=0) for h in hulls])
    hi = np.stack([np.asarray(h.vertices).max(axis=0) for h in hulls])
    return HullPlanes(N, D, lo, hi, np.concatenate([np.asarray(h.vertices, np.float64) for h in hulls]))


def hand_spheres(offsets: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Spheres covering the hand bodies' collision geoms on the skeleton ``offsets`` [52, 3] (m).

    Returns:
        body [S] int (body index), centre [S, 3] (m, body frame), radius [S] (m).
    """
    from hoi_sim.motions.grounding import _quat_to_matrix, body_geoms

    geoms = body_geoms(offsets)
    bodies, centres, radii = [], [], []
    for b in body_ids(HANDS):
        for g in geoms[b]:
            if g.type == "capsule" and g.fromto is not None:
                a, e = np.asarray(g.fromto, np.float64).reshape(2, 3)
                r = float(g.size[0])
                n = max(2, int(np.ceil(np.linalg.norm(e - a) / r)) + 1)
                pts = a + np.linspace(0.0, 1.0, n)[:, None] * (e - a)
            elif g.type == "sphere":
                r = float(g.size[0])
                pts = np.zeros((1, 3)) if g.pos is None else np.asarray(g.pos, np.float64)[None]
            elif g.type == "box":
                h = np.asarray(g.size, np.float64)
                r = float(h.min())
                thin = int(h.argmin())
                axes = [np.linspace(-(h[k] - r), h[k] - r, max(1, int(np.ceil(2 * (h[k] - r) / r)) + 1))
                        if k != thin else np.zeros(1) for k in range(3)]
                grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
                g_rot = np.eye(3) if g.quat is None else _quat_to_matrix(np.asarray(g.quat))
                pts = (np.zeros(3) if g.pos is None else np.asarray(g.pos, np.float64)) + grid @ g_rot.T
            else:
                raise InputError(f"hand geom type {g.type!r} has no sphere cover")
            bodies.extend([b] * len(pts))
            centres.append(pts)
            radii.extend([r] * len(pts))
    return np.asarray(bodies, np.int64), np.concatenate(centres), np.asarray(radii)


def sphere_depths(points: np.ndarray, radii: np.ndarray, planes: HullPlanes, chunk: int = 4096,
                  faces: bool = False, reach: float = 0.0) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deepest penetration [M] (m; ≤ 0: clear, −inf: farther than ``reach`` from every hull's bounding box) of
    spheres (centres [M,3] in the object frame), and with ``faces`` the (hull, face) [M] each sphere leaves
    through fastest (−1 where far). For a clear sphere the value is minus a lower bound of its gap."""
    M = len(points)
    depth = np.full(M, -np.inf)
    hull = np.full(M, -1)
    face_of = np.full(M, -1)
    for h in range(len(planes.lo)):
        pad = radii[:, None] + reach
        near = np.all((points > planes.lo[h] - pad) & (points < planes.hi[h] + pad), axis=1)
        idx = np.nonzero(near)[0]
        for s in range(0, len(idx), chunk):
            ii = idx[s:s + chunk]
            sd = points[ii] @ planes.normals[h].T - planes.offsets[h]
            face = sd.argmax(axis=1)
            d = radii[ii] - sd[np.arange(len(ii)), face]
            better = d > depth[ii]
            depth[ii[better]] = d[better]
            hull[ii[better]] = h
            face_of[ii[better]] = face[better]
    return (depth, hull, face_of) if faces else depth


def _to_object(world: np.ndarray, obj_rot: np.ndarray, obj_pos: np.ndarray) -> np.ndarray:
    """World points [T, S, 3] → object frame."""
    return np.einsum("tji,tsj->tsi", obj_rot, world - obj_pos[:, None])


def _depth_ts(world: np.ndarray, radii: np.ndarray, obj_rot: np.ndarray, obj_pos: np.ndarray,
              planes: HullPlanes, reach: float = 0.0) -> np.ndarray:
    """[T, S] depth of each sphere (world centres [T,S,3]) with the object at (obj_rot [T,3,3], obj_pos [T,3])."""
    T, S, _ = world.shape
    local = _to_object(world, obj_rot, obj_pos).reshape(-1, 3)
    return sphere_depths(local, np.tile(radii, T), planes, reach=reach).reshape(T, S)


def object_floor_depth(obj_rot: np.ndarray, obj_pos: np.ndarray, planes: HullPlanes) -> np.ndarray:
    """[T] how far (m) the object's lowest hull vertex is below the floor (negative: above)."""
    return -(np.einsum("tj,vj->tv", obj_rot[:, 2], planes.vertices).min(axis=1) + obj_pos[:, 2])


def smooth_keep_size(x: np.ndarray, half: int) -> np.ndarray:
    """Smooth [T, ...] along time without shrinking: the positive and negative parts are dilated (running max over
    ±half frames) and then averaged over the same window, so the result has at least the input's magnitude (same
    sign) wherever the input is non-zero, and ramps to zero over ``half`` frames on each side."""
    if half <= 0 or len(x) < 2:
        return np.array(x, np.float64, copy=True)
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    size = 2 * half + 1

    def grow(a: np.ndarray) -> np.ndarray:
        return uniform_filter1d(maximum_filter1d(a, size, axis=0, mode="nearest"), size, axis=0, mode="nearest")

    x = np.asarray(x, np.float64)
    out = grow(np.clip(x, 0, None)) - grow(np.clip(-x, 0, None))
    out[np.abs(out) < 1e-12] = 0.0  # running-sum round-off
    return out


def resolve_penetration(motion: HOIMotion, hulls: list,
                        cfg: PenetrationConfig | None = None) -> tuple[HOIMotion, PenetrationReport]:
    """Lift the object out of the floor, let touching hands follow it, open fingers that are inside it (module
    docstring).

    Args:
        motion: the clip (usually just grounded). hulls: the object's convex parts (object frame, m).
        cfg: :class:`PenetrationConfig`.

    Returns:
        The corrected copy (``motion`` is not modified; ``meta["provenance"]["penetration"]`` holds the report)
        and the :class:`PenetrationReport`.
    """
    from hoi_sim.motions.grounding import _quat_to_matrix
    from hoi_sim.motions.hand_pose import apply_change, arm_ik, push_out
    from hoi_sim.motions.velocity import compute_velocities

    cfg = cfg or PenetrationConfig()
    planes = hull_planes(hulls)
    s_body, s_centre, s_radius = hand_spheres(motion.skeleton_offsets)
    offsets = np.asarray(motion.skeleton_offsets, np.float64)
    T = motion.num_frames
    pos = np.asarray(motion.body_pos, np.float64).copy()
    rmat = _quat_to_matrix(motion.body_quat)
    dof = np.asarray(motion.dof_pos, np.float64).copy()
    o_rot = _quat_to_matrix(motion.obj_quat)
    o_pos = np.asarray(motion.obj_pos, np.float64).copy()

    def spheres_world() -> np.ndarray:
        return pos[:, s_body] + np.einsum("tsij,sj->tsi", rmat[:, s_body], s_centre)

    depth0 = _depth_ts(spheres_world(), s_radius, o_rot, o_pos, planes, reach=cfg.follow_m)  # [T,S]
    floor0 = object_floor_depth(o_rot, o_pos, planes)
    flat = int(np.argmax(depth0.max(axis=0))) if depth0.size else 0
    report = PenetrationReport(
        hand_max_before_m=max(float(depth0.max()), 0.0), hand_max_after_m=0.0,
        hand_frames_before=int((depth0.max(axis=1) > cfg.tol_m).sum()), hand_frames_after=0,
        worst_body=BODY_NAMES[int(s_body[flat])], floor_before_m=max(float(floor0.max()), 0.0), floor_after_m=0.0)

    # 1. object out of the floor
    lift = smooth_keep_size(np.clip(floor0 - cfg.floor_tol_m, 0, None) * (floor0 > cfg.floor_tol_m), cfg.smooth_frames)
    o_pos[:, 2] += lift
    report.lift_max_m = float(lift.max()) if T else 0.0
    report.lift_frames = int((lift > 1e-9).sum())

    # 2. hands near the object follow its lift
    if report.lift_frames:
        for side in SIDES:
            mine = np.isin(s_body, body_ids([n for n in HANDS if n.startswith(side)]))
            near = (depth0[:, mine].max(axis=1) > -cfg.follow_m).astype(np.float64)
            weight = np.clip(smooth_keep_size(near, cfg.smooth_frames), 0.0, 1.0)
            shift = weight * lift
            frames = np.nonzero(shift > 1e-6)[0]
            if len(frames):
                report.arm_max_rad = max(report.arm_max_rad, arm_ik(
                    pos, rmat, dof, offsets, side, frames, np.stack([0 * shift, 0 * shift, shift], 1)[frames], cfg))
                report.follow_frames += len(frames)
                report.follow_max_m = max(report.follow_max_m, float(shift.max()))

    # 3. the palm (wrist and first phalanges) out of the object by the arm, then each finger by its own hinges,
    #    twice (a finger freed first may need a second look once its neighbours and the palm have moved)
    #    A side-frame whose deepest hand sphere ends deeper than before this step gets its pose back (a push
    #    smoothed into a neighbouring frame, or an arm push that freed the palm but sank a finger).
    for side in SIDES:
        side_spheres = np.isin(s_body, body_ids([n for n in HANDS if n.startswith(side)]))
        arm_bodies = [BODY_INDEX[n] for n in ARM_CHAIN[side]] + body_ids([n for n in HANDS if n.startswith(side)])
        keep_pos, keep_rot, keep_dof = pos.copy(), rmat.copy(), dof.copy()
        d_before = _depth_ts(spheres_world()[:, side_spheres], s_radius[side_spheres], o_rot, o_pos, planes).max(1)
        palm = [BODY_INDEX[f"{side}_Wrist"]] + [BODY_INDEX[f[0]] for f in FINGERS[side]]
        stages = [([BODY_INDEX[n] for n in ARM_CHAIN[side]], palm)]
        stages += [([BODY_INDEX[n] for n in f], [BODY_INDEX[n] for n in f]) for f in FINGERS[side]] * 2
        for chain, pushed in stages:
            mine = np.isin(s_body, pushed)
            sph = (s_body[mine], s_centre[mine], s_radius[mine])
            frames = np.nonzero(_depth_ts(spheres_world()[:, mine], sph[2], o_rot, o_pos, planes).max(axis=1)
                                > cfg.tol_m)[0]
            if not len(frames):
                continue
            finger = chain[0] in body_ids(HANDS)
            change = push_out(pos, rmat, dof, offsets, chain, sph, frames, o_rot, o_pos, planes, cfg,
                               cfg.finger_max_rad if finger else cfg.arm_max_rad)
            n, big = apply_change(pos, rmat, dof, offsets, chain, frames, change, cfg)
            if finger:
                report.finger_frames += n
                report.finger_max_rad = max(report.finger_max_rad, big)
            else:
                report.hand_frames += n
                report.arm_max_rad = max(report.arm_max_rad, big)
        d_after = _depth_ts(spheres_world()[:, side_spheres], s_radius[side_spheres], o_rot, o_pos, planes).max(1)
        worse = np.nonzero(np.maximum(d_after, 0) > np.maximum(d_before, 0) + 1e-6)[0]
        if len(worse):
            cols = np.concatenate([np.arange(3 * (b - 1), 3 * b) for b in arm_bodies])
            pos[np.ix_(worse, arm_bodies)] = keep_pos[np.ix_(worse, arm_bodies)]
            rmat[np.ix_(worse, arm_bodies)] = keep_rot[np.ix_(worse, arm_bodies)]
            dof[np.ix_(worse, cols)] = keep_dof[np.ix_(worse, cols)]
            report.reverted_frames += len(worse)

    depth1 = _depth_ts(spheres_world(), s_radius, o_rot, o_pos, planes)
    floor1 = object_floor_depth(o_rot, o_pos, planes)
    report.hand_max_after_m = max(float(depth1.max()), 0.0)
    report.hand_frames_after = int((depth1.max(axis=1) > cfg.tol_m).sum())
    report.floor_after_m = max(float(floor1.max()), 0.0)

    out = copy.copy(motion)
    out.meta = copy.deepcopy(motion.meta)
    quat = rot.matrix_to_quat(torch.as_tensor(rmat)).numpy()
    moved = np.any(np.abs(dof - motion.dof_pos) > 0, axis=0)
    body_moved = np.zeros(NUM_BODIES, bool)
    for b in range(1, NUM_BODIES):
        body_moved[b] = moved[3 * (b - 1):3 * b].any() or body_moved[PARENTS[b]]
    out.dof_pos = dof.astype(motion.dof_pos.dtype)
    out.body_pos = np.where(body_moved[None, :, None], pos, motion.body_pos).astype(motion.body_pos.dtype)
    out.body_quat = np.where(body_moved[None, :, None], quat, motion.body_quat).astype(motion.body_quat.dtype)
    out.obj_pos = o_pos.astype(motion.obj_pos.dtype)
    vel = compute_velocities(motion.fps, root_pos=out.root_pos, root_quat=out.root_quat, dof_pos=out.dof_pos,
                             body_pos=out.body_pos, body_quat=out.body_quat, obj_pos=out.obj_pos,
                             obj_quat=out.obj_quat)
    for name, value in vel.items():
        setattr(out, name, value.astype(getattr(motion, name).dtype))
    prov = dict(out.meta.get("provenance") or {})
    prov["penetration"] = {**report.as_dict(), "config": asdict(cfg)}
    out.meta["provenance"] = prov
    return out, report


def report_of(motion: HOIMotion) -> PenetrationReport | None:
    """The :class:`PenetrationReport` in ``motion.meta["provenance"]["penetration"]`` (None when not run)."""
    from dataclasses import fields

    stored = (motion.meta.get("provenance") or {}).get("penetration")
    if not isinstance(stored, dict):
        return None
    names = {f.name for f in fields(PenetrationReport)}
    return PenetrationReport(**{k: v for k, v in stored.items() if k in names})
