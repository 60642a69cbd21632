"""Object–floor and hand–object penetration of a reference clip: measure it, and remove it with the smallest
change (docs/motion_format.md, "Grounding").

Shapes. The object is the convex parts the simulator collides with (``objects.hulls``: coacd hulls, or any list of
``ConvexHull``), in the object frame. Each hand body (``skeleton.HANDS``: wrists and finger phalanges) is its
collision geom on the clip's skeleton (``humanoid.geoms.scaled_geoms``) covered by spheres (:func:`hand_spheres`):
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
from hoi_sim.motions.grounding import _quat_to_matrix
from hoi_sim.motions.hand_pose import apply_change, arm_ik, push_out
from hoi_sim.motions.penetration_geometry import (
    ARM_CHAIN,
    FINGERS,
    SIDES,
    HullPlanes,
    PenetrationConfig,
    frame_depths,
    hand_spheres,
    hull_planes,
    object_floor_depth,
    smooth_keep_size,
)
from hoi_sim.motions.schema import HOIMotion, provenance_report, record_provenance
from hoi_sim.motions.velocity import compute_velocities
from hoi_sim.skeleton import BODY_INDEX, BODY_NAMES, HANDS, NUM_BODIES, PARENTS, body_ids

MM = 1000.0


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


@dataclass
class _Clip:
    """The mutable pose of a clip being corrected (float64 copies) and its collision shapes: body_pos [T,52,3],
    body_rot [T,52,3,3], dof [T,153], offsets [52,3], object rotation [T,3,3] and position [T,3]; the hull
    planes; the hand spheres (body [S], body-frame centre [S,3], radius [S])."""

    pos: np.ndarray
    rmat: np.ndarray
    dof: np.ndarray
    offsets: np.ndarray
    o_rot: np.ndarray
    o_pos: np.ndarray
    planes: HullPlanes
    s_body: np.ndarray
    s_centre: np.ndarray
    s_radius: np.ndarray

    @staticmethod
    def of(motion: HOIMotion, hulls: list) -> _Clip:
        s_body, s_centre, s_radius = hand_spheres(motion.skeleton_offsets)
        return _Clip(pos=np.asarray(motion.body_pos, np.float64).copy(), rmat=_quat_to_matrix(motion.body_quat),
                     dof=np.asarray(motion.dof_pos, np.float64).copy(),
                     offsets=np.asarray(motion.skeleton_offsets, np.float64), o_rot=_quat_to_matrix(motion.obj_quat),
                     o_pos=np.asarray(motion.obj_pos, np.float64).copy(), planes=hull_planes(hulls), s_body=s_body,
                     s_centre=s_centre, s_radius=s_radius)

    def spheres_world(self) -> np.ndarray:
        return self.pos[:, self.s_body] + np.einsum("tsij,sj->tsi", self.rmat[:, self.s_body], self.s_centre)

    def depths(self, mine: np.ndarray | None = None, reach: float = 0.0) -> np.ndarray:
        """[T,S] penetration depth of the hand spheres (``mine``: a mask of them) into the object
        (``penetration_geometry.frame_depths``)."""
        centres, radius = self.spheres_world(), self.s_radius
        if mine is not None:
            centres, radius = centres[:, mine], radius[mine]
        return frame_depths(centres, radius, self.o_rot, self.o_pos, self.planes, reach=reach)

    def side_spheres(self, side: str) -> np.ndarray:
        return np.isin(self.s_body, body_ids([n for n in HANDS if n.startswith(side)]))


def _lift_object(clip: _Clip, floor0: np.ndarray, cfg: PenetrationConfig, report: PenetrationReport) -> np.ndarray:
    """Step 1: lift the object by its (smoothed) depth in the floor; returns the lift [T] (m)."""
    lift = smooth_keep_size(np.clip(floor0 - cfg.floor_tol_m, 0, None) * (floor0 > cfg.floor_tol_m), cfg.smooth_frames)
    clip.o_pos[:, 2] += lift
    report.lift_max_m = float(lift.max()) if len(lift) else 0.0
    report.lift_frames = int((lift > 1e-9).sum())
    return lift


def _follow_lift(clip: _Clip, depth0: np.ndarray, lift: np.ndarray, cfg: PenetrationConfig,
                 report: PenetrationReport) -> None:
    """Step 2: each hand within ``follow_m`` of the object moves up with its lift (arm IK)."""
    for side in SIDES:
        near = (depth0[:, clip.side_spheres(side)].max(axis=1) > -cfg.follow_m).astype(np.float64)
        weight = np.clip(smooth_keep_size(near, cfg.smooth_frames), 0.0, 1.0)
        shift = weight * lift
        frames = np.nonzero(shift > 1e-6)[0]
        if len(frames):
            report.arm_max_rad = max(report.arm_max_rad, arm_ik(
                clip.pos, clip.rmat, clip.dof, clip.offsets, side, frames,
                np.stack([0 * shift, 0 * shift, shift], 1)[frames], cfg))
            report.follow_frames += len(frames)
            report.follow_max_m = max(report.follow_max_m, float(shift.max()))


def _push_chain(clip: _Clip, chain: list[int], pushed: list[int], cfg: PenetrationConfig,
                report: PenetrationReport) -> None:
    """Move the hinges of ``chain`` so that the spheres of bodies ``pushed`` leave the object, where they are in."""
    mine = np.isin(clip.s_body, pushed)
    sph = (clip.s_body[mine], clip.s_centre[mine], clip.s_radius[mine])
    frames = np.nonzero(clip.depths(mine).max(axis=1) > cfg.tol_m)[0]
    if not len(frames):
        return
    finger = chain[0] in body_ids(HANDS)
    change = push_out(clip.pos, clip.rmat, clip.dof, clip.offsets, chain, sph, frames, clip.o_rot, clip.o_pos,
                      clip.planes, cfg, cfg.finger_max_rad if finger else cfg.arm_max_rad)
    n, big = apply_change(clip.pos, clip.rmat, clip.dof, clip.offsets, chain, frames, change, cfg)
    if finger:
        report.finger_frames += n
        report.finger_max_rad = max(report.finger_max_rad, big)
    else:
        report.hand_frames += n
        report.arm_max_rad = max(report.arm_max_rad, big)


def _push_hand_out(clip: _Clip, side: str, cfg: PenetrationConfig, report: PenetrationReport) -> None:
    """Step 3 for one side: the palm (wrist and first phalanges) out of the object by the arm, then each finger by
    its own hinges, twice (a finger freed first may need a second look once its neighbours and the palm have
    moved). A frame whose deepest hand sphere ends deeper than before gets its pose back (a push smoothed into a
    neighbouring frame, or an arm push that freed the palm but sank a finger)."""
    side_spheres = clip.side_spheres(side)
    arm_bodies = [BODY_INDEX[n] for n in ARM_CHAIN[side]] + body_ids([n for n in HANDS if n.startswith(side)])
    keep_pos, keep_rot, keep_dof = clip.pos.copy(), clip.rmat.copy(), clip.dof.copy()
    d_before = clip.depths(side_spheres).max(1)
    palm = [BODY_INDEX[f"{side}_Wrist"]] + [BODY_INDEX[f[0]] for f in FINGERS[side]]
    stages = [([BODY_INDEX[n] for n in ARM_CHAIN[side]], palm)]
    stages += [([BODY_INDEX[n] for n in f], [BODY_INDEX[n] for n in f]) for f in FINGERS[side]] * 2
    for chain, pushed in stages:
        _push_chain(clip, chain, pushed, cfg, report)
    d_after = clip.depths(side_spheres).max(1)
    worse = np.nonzero(np.maximum(d_after, 0) > np.maximum(d_before, 0) + 1e-6)[0]
    if len(worse):
        cols = np.concatenate([np.arange(3 * (b - 1), 3 * b) for b in arm_bodies])
        clip.pos[np.ix_(worse, arm_bodies)] = keep_pos[np.ix_(worse, arm_bodies)]
        clip.rmat[np.ix_(worse, arm_bodies)] = keep_rot[np.ix_(worse, arm_bodies)]
        clip.dof[np.ix_(worse, cols)] = keep_dof[np.ix_(worse, cols)]
        report.reverted_frames += len(worse)


def _corrected(motion: HOIMotion, clip: _Clip, report: PenetrationReport, cfg: PenetrationConfig) -> HOIMotion:
    """A copy of ``motion`` with the corrected pose (bodies below no changed hinge keep their stored values),
    object position, recomputed velocities and the report in its provenance."""
    out = copy.copy(motion)
    out.meta = copy.deepcopy(motion.meta)
    quat = rot.matrix_to_quat(torch.as_tensor(clip.rmat)).numpy()
    moved = np.any(np.abs(clip.dof - motion.dof_pos) > 0, axis=0)
    body_moved = np.zeros(NUM_BODIES, bool)
    for b in range(1, NUM_BODIES):
        body_moved[b] = moved[3 * (b - 1):3 * b].any() or body_moved[PARENTS[b]]
    out.dof_pos = clip.dof.astype(motion.dof_pos.dtype)
    out.body_pos = np.where(body_moved[None, :, None], clip.pos, motion.body_pos).astype(motion.body_pos.dtype)
    out.body_quat = np.where(body_moved[None, :, None], quat, motion.body_quat).astype(motion.body_quat.dtype)
    out.obj_pos = clip.o_pos.astype(motion.obj_pos.dtype)
    vel = compute_velocities(motion.fps, root_pos=out.root_pos, root_quat=out.root_quat, dof_pos=out.dof_pos,
                             body_pos=out.body_pos, body_quat=out.body_quat, obj_pos=out.obj_pos,
                             obj_quat=out.obj_quat)
    for name, value in vel.items():
        setattr(out, name, value.astype(getattr(motion, name).dtype))
    record_provenance(out, "penetration", report, cfg)
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
    cfg = cfg or PenetrationConfig()
    clip = _Clip.of(motion, hulls)
    depth0 = clip.depths(reach=cfg.follow_m)  # [T,S]
    floor0 = object_floor_depth(clip.o_rot, clip.o_pos, clip.planes)
    flat = int(np.argmax(depth0.max(axis=0))) if depth0.size else 0
    report = PenetrationReport(
        hand_max_before_m=max(float(depth0.max()), 0.0), hand_max_after_m=0.0,
        hand_frames_before=int((depth0.max(axis=1) > cfg.tol_m).sum()), hand_frames_after=0,
        worst_body=BODY_NAMES[int(clip.s_body[flat])], floor_before_m=max(float(floor0.max()), 0.0),
        floor_after_m=0.0)
    lift = _lift_object(clip, floor0, cfg, report)
    if report.lift_frames:
        _follow_lift(clip, depth0, lift, cfg, report)
    for side in SIDES:
        _push_hand_out(clip, side, cfg, report)
    depth1 = clip.depths()
    report.hand_max_after_m = max(float(depth1.max()), 0.0)
    report.hand_frames_after = int((depth1.max(axis=1) > cfg.tol_m).sum())
    report.floor_after_m = max(float(object_floor_depth(clip.o_rot, clip.o_pos, clip.planes).max()), 0.0)
    return _corrected(motion, clip, report, cfg), report


def report_of(motion: HOIMotion) -> PenetrationReport | None:
    """The :class:`PenetrationReport` in ``motion.meta["provenance"]["penetration"]`` (None when not run)."""
    return provenance_report(motion, "penetration", PenetrationReport)
