"""Put a clip on the floor: its stance feet touch z = 0 (docs/motion_format.md, "Grounding").

Clips made from SMPL-X place the SMPL-X sole on the floor, but the simulated humanoid's feet are boxes on the
ankle and toe bodies that sit higher (or lower) than that sole: a reference state then starts with the feet in the
air and the humanoid drops at every reset. ``ground_motion`` moves the whole clip up or down (humanoid and object
together: one constant shift ``dz`` plus a small smooth per-frame correction) so that the feet of the humanoid
built on the clip's own skeleton touch the floor when they stand on it:

1. **Foot heights.** Per frame and per side (left = L_Ankle + L_Toe, right = R_Ankle + R_Toe), the lowest world z
   of the side's collision geoms (:func:`foot_heights`), with the geoms the simulator puts on this skeleton
   (``humanoid.geoms.scaled_geoms``: they follow the bones).
2. **Stance frames** (:func:`stance_mask`). A side stands on a frame when it is slow and low: the slower of its two
   bodies (ankle, toe) moves at under ``speed_m_s`` (so a heel lifting about a planted toe still counts), and its
   lowest point is within ``band_m`` of the clip's low reference height (the ``low_percentile`` of the slow sides'
   heights over the clip). Airborne frames (a jump: slow at the apex, but high) and swing frames are left out, and
   no single frame decides.
3. **Shift.** ``dz = −median(stance heights)``; then the floor rule: when the ``floor_percentile`` of the shifted
   stance heights is more than ``floor_tol_m`` below the floor, the clip is raised until it is not, but never so
   much that the median stance height exceeds ``median_cap_m``. With fewer than ``min_stance_frames`` stance
   samples the rule falls back to the clip's ``low_percentile`` foot height.
4. **Per-frame contact** (``per_frame``, on by default). After the constant shift a stance frame's feet are still
   a few mm above or below the floor (the humanoid's rigid boxes rest on their lowest corner while the SMPL-X
   sole rolls; the two feet differ by ~10 mm), so a reset at that frame would still drop or push the humanoid.
   A per-frame correction r(t) = −(lowest stance foot after the shift) puts the lowest stance foot of every stance
   frame on the floor; frames without a stance foot (swing of both feet, a jump) interpolate r linearly between
   their stance neighbours; r is clipped to ±``per_frame_max_m``, a 3-sample median over the stance frames drops
   one-frame glitches, and a Gaussian of ``per_frame_sigma`` frames smooths it.
5. **Apply.** ``dz`` (+ r(t)) is added to the z of ``root_pos``, ``body_pos`` and ``obj_pos`` on each frame, the
   same for the humanoid and the object, so the human–object relative pose is exact; linear velocities get
   d r/dt in z (the finite differences of ``motions.velocity``); rotations, angular velocities, contact labels
   and the interaction graph are frame-local and stay. The report goes into ``meta["provenance"]["grounding"]``.

The module is engine-free.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from hoi_sim.errors import InputError
from hoi_sim.humanoid.geoms import scaled_geoms
from hoi_sim.motions.schema import HOIMotion, provenance_report, record_provenance
from hoi_sim.skeleton import BODY_INDEX, NUM_BODIES, GeomSpec

SIDES = ("L", "R")
FOOT_BODIES: dict[str, tuple[str, str]] = {"L": ("L_Ankle", "L_Toe"), "R": ("R_Ankle", "R_Toe")}
"""The two bodies of each foot (whose geoms touch the floor)."""
MM = 1000.0


@dataclass(frozen=True)
class GroundingConfig:
    """Thresholds of the grounding rule (see the module docstring)."""

    speed_m_s: float = 0.25
    """A side is slow when the slower of its ankle and toe bodies moves at under this speed (m/s, 3-D)."""
    band_m: float = 0.025
    """A slow side stands when its lowest point is at most this far above the clip's low reference (m)."""
    low_percentile: float = 10.0
    """The clip's low reference height: this percentile of the slow sides' lowest points (%)."""
    floor_percentile: float = 5.0
    """Floor rule: this percentile of the shifted stance heights (%) ..."""
    floor_tol_m: float = 0.01
    """... may be at most this far below the floor (m)."""
    median_cap_m: float = 0.01
    """The floor rule never raises the median stance height above this (m)."""
    min_stance_frames: int = 3
    """Fewer stance samples than this (over both sides) → fall back to the ``low_percentile`` height."""
    per_frame: bool = True
    """Step 4: put the lowest stance foot of every stance frame on the floor (a smooth per-frame correction)."""
    per_frame_max_m: float = 0.03
    """Step 4: the per-frame correction is clipped to ± this (m)."""
    per_frame_sigma: float = 1.0
    """Step 4: Gaussian smoothing of the per-frame correction (frames; 0 = none)."""

    def __post_init__(self) -> None:
        if not (self.speed_m_s > 0 and self.band_m >= 0 and self.floor_tol_m >= 0 and self.median_cap_m >= 0):
            raise InputError("grounding thresholds must be positive (speed) or non-negative (band, tolerances)")
        for name in ("low_percentile", "floor_percentile"):
            if not 0.0 <= getattr(self, name) <= 100.0:
                raise InputError(f"grounding {name} must be within [0, 100], got {getattr(self, name)}")


@dataclass
class GroundingReport:
    """What :func:`ground_motion` did to one clip. Heights in metres, above the floor (negative: below).

    clip: motion name · frames: T · dz_m: the constant vertical shift (m) · rule: ``"stance median"``,
    ``"stance median + floor rule"`` or ``"lowest-frames fallback"`` · stance_frames: {side: stance frames} ·
    median_before_m / median_after_m: median stance-foot height (both feet, all stance frames) before and after
    grounding · max_before_m: highest stance-foot height · low_after_m: the ``floor_percentile`` of the stance
    heights after · lowest_after_m: median over stance frames of the lowest stance foot after (what a reset
    stands on) · per_frame_min_m / per_frame_max_m: range of the per-frame correction r(t) (0 when off) ·
    obj_low_before_m / obj_low_after_m: the object's lowest point over the clip (None without object vertices) ·
    extra: free-form figures.
    """

    clip: str
    frames: int
    dz_m: float
    rule: str
    stance_frames: dict[str, int]
    median_before_m: float
    median_after_m: float
    max_before_m: float
    low_after_m: float
    lowest_after_m: float = 0.0
    per_frame_min_m: float = 0.0
    per_frame_max_m: float = 0.0
    obj_low_before_m: float | None = None
    obj_low_after_m: float | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready figures (floats rounded to 0.1 mm)."""
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, float):
                out[k] = round(v, 5)
        return out

    def line(self) -> str:
        """One line for command output: what the rule did."""
        st = "/".join(str(self.stance_frames.get(s, 0)) for s in SIDES)
        text = (f"grounding: dz {self.dz_m * MM:+.1f} mm ({self.rule}; stance frames L/R {st} of {self.frames}); "
                f"median stance foot {self.median_before_m * MM:.1f} -> {self.median_after_m * MM:.1f} mm")
        if self.per_frame_min_m or self.per_frame_max_m:
            text += (f"; per-frame contact {self.per_frame_min_m * MM:+.1f}..{self.per_frame_max_m * MM:+.1f} mm, "
                     f"lowest stance foot {self.lowest_after_m * MM:.1f} mm")
        if self.obj_low_after_m is not None:
            text += f"; object lowest point {self.obj_low_before_m * MM:.1f} -> {self.obj_low_after_m * MM:.1f} mm"
        for key, value in self.extra.items():
            if isinstance(value, str):
                text += f"; {key}: {value}"
        return text


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """Unit quaternions [..., 4] (wxyz) → rotation matrices [..., 3, 3] (float64)."""
    q = np.asarray(q, np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def geom_lowest_z(geom: GeomSpec, pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
    """Lowest world z (m) of one body-frame geom, per frame.

    Args:
        geom: a sphere, capsule or box (MuJoCo conventions: radius, half-length/``fromto``, half sizes).
        pos: [T, 3] body origin (m, world). rot: [T, 3, 3] body → world rotation.

    Returns:
        [T] lowest z (m).
    """
    if geom.type == "capsule" and geom.fromto is not None:
        ends = np.asarray(geom.fromto, np.float64).reshape(2, 3)
        z = pos[:, None, 2] + np.einsum("tj,ej->te", rot[:, 2], ends)
        return z.min(axis=1) - geom.size[0]
    centre = np.zeros(3) if geom.pos is None else np.asarray(geom.pos, np.float64)
    cz = pos[:, 2] + rot[:, 2] @ centre
    if geom.type == "sphere":
        return cz - geom.size[0]
    g_rot = np.eye(3) if geom.quat is None else _quat_to_matrix(np.asarray(geom.quat))
    rz = rot[:, 2] @ g_rot  # [T,3]: world z of each geom axis
    if geom.type == "box":
        return cz - np.abs(rz) @ np.asarray(geom.size, np.float64)
    if geom.type == "capsule":  # centred capsule along its local z: size = (radius, half-length)
        return cz - np.abs(rz[:, 2]) * geom.size[1] - geom.size[0]
    raise InputError(f"geom type {geom.type!r} has no lowest-point rule")


def body_geoms(offsets: np.ndarray | None) -> tuple[tuple[GeomSpec, ...], ...]:
    """Per-body collision geoms of the humanoid the simulator builds on ``offsets`` [52, 3] (m; None = neutral)."""
    return scaled_geoms(None if offsets is None else np.asarray(offsets, np.float64))


def foot_heights(body_pos: np.ndarray, body_quat: np.ndarray, offsets: np.ndarray | None) -> np.ndarray:
    """Lowest world z of each foot's geoms per frame.

    Args:
        body_pos: [T, 52, 3] (m). body_quat: [T, 52, 4] wxyz. offsets: the clip's skeleton [52, 3] (m).

    Returns:
        [T, 2] float64 (m), columns in ``SIDES`` order (left, right).
    """
    geoms = body_geoms(offsets)
    pos = np.asarray(body_pos, np.float64)
    out = np.full((pos.shape[0], len(SIDES)), np.inf)
    for s, side in enumerate(SIDES):
        for name in FOOT_BODIES[side]:
            b = BODY_INDEX[name]
            rot = _quat_to_matrix(body_quat[:, b])
            for g in geoms[b]:
                out[:, s] = np.minimum(out[:, s], geom_lowest_z(g, pos[:, b], rot))
    return out


def foot_speeds(body_lin_vel: np.ndarray) -> np.ndarray:
    """[T, 2] speed (m/s) of each foot: the slower of its ankle and toe bodies; body_lin_vel [T, 52, 3] (m/s)."""
    v = np.linalg.norm(np.asarray(body_lin_vel, np.float64), axis=-1)
    return np.stack([np.minimum(*(v[:, BODY_INDEX[n]] for n in FOOT_BODIES[side])) for side in SIDES], axis=1)


def stance_mask(heights: np.ndarray, speeds: np.ndarray, cfg: GroundingConfig | None = None) -> np.ndarray:
    """Frames where each foot stands: slow and within ``band_m`` of the clip's low reference height.

    Args:
        heights: [T, 2] lowest foot point (m). speeds: [T, 2] foot speed (m/s). cfg: thresholds.

    Returns:
        [T, 2] bool.
    """
    cfg = cfg or GroundingConfig()
    slow = speeds < cfg.speed_m_s
    if not slow.any():
        return slow
    ref = float(np.percentile(heights[slow], cfg.low_percentile))
    return slow & (heights <= ref + cfg.band_m)


def grounding_shift(heights: np.ndarray, stance: np.ndarray,
                    cfg: GroundingConfig | None = None) -> tuple[float, str]:
    """The vertical shift dz (m) and the name of the rule that set it (see the module docstring, step 3).

    Args: heights [T, 2] lowest foot point (m); stance [T, 2] bool; cfg thresholds.
    """
    cfg = cfg or GroundingConfig()
    h = heights[stance]
    if h.size < cfg.min_stance_frames:
        return -float(np.percentile(heights, cfg.low_percentile)), "lowest-frames fallback"
    med = float(np.median(h))
    dz = -med
    low = float(np.percentile(h, cfg.floor_percentile)) + dz
    if low < -cfg.floor_tol_m:
        lift = min(-cfg.floor_tol_m - low, cfg.median_cap_m)
        if lift > 0:
            return dz + lift, "stance median + floor rule"
    return dz, "stance median"


def object_lowest_z(motion: HOIMotion) -> np.ndarray | None:
    """[T] lowest world z (m) of the object's mesh per frame (None when the motion carries no vertices)."""
    if motion.obj_vertices.shape[0] == 0:
        return None
    rot = _quat_to_matrix(motion.obj_quat)
    z = np.einsum("tj,vj->tv", rot[:, 2], np.asarray(motion.obj_vertices, np.float64))
    return z.min(axis=1) + np.asarray(motion.obj_pos, np.float64)[:, 2]


def shift_motion(motion: HOIMotion, dz: float | np.ndarray) -> HOIMotion:
    """A copy of ``motion`` moved up by ``dz`` (m; a number, or [T] per frame): root, bodies and object together
    (relative pose kept). A per-frame shift adds its time derivative to the linear velocities' z."""
    from hoi_sim.motions.velocity import _diff

    out = copy.copy(motion)
    out.meta = copy.deepcopy(motion.meta)
    dz_t = np.broadcast_to(np.asarray(dz, np.float64), (motion.num_frames,))
    vz = _diff(dz_t[:, None], motion.fps, wrap=False)[:, 0] if np.ndim(dz) else np.zeros(motion.num_frames)
    for name, vel in (("root_pos", "root_lin_vel"), ("obj_pos", "obj_lin_vel"), ("body_pos", "body_lin_vel")):
        a = np.array(getattr(motion, name), copy=True)
        extra = (slice(None),) + (None,) * (a.ndim - 2)
        a[..., 2] = (a[..., 2].astype(np.float64) + dz_t[extra]).astype(a.dtype)
        setattr(out, name, a)
        if np.any(vz):
            v = np.array(getattr(motion, vel), copy=True)
            v[..., 2] = (v[..., 2].astype(np.float64) + vz[extra]).astype(v.dtype)
            setattr(out, vel, v)
    return out


def per_frame_correction(heights: np.ndarray, stance: np.ndarray, cfg: GroundingConfig | None = None) -> np.ndarray:
    """Step 4 of the module docstring: r(t) [T] (m) that puts the lowest stance foot of each stance frame on the
    floor, given foot heights [T, 2] (m, already shifted by the constant ``dz``) and the stance mask [T, 2]."""
    cfg = cfg or GroundingConfig()
    T = heights.shape[0]
    have = stance.any(axis=1)
    if not have.any():
        return np.zeros(T)
    low = np.where(stance, heights, np.inf).min(axis=1)
    idx = np.nonzero(have)[0]
    vals = np.clip(-low[idx], -cfg.per_frame_max_m, cfg.per_frame_max_m)
    if cfg.per_frame_sigma > 0 and len(idx) > 2:
        from scipy.ndimage import median_filter

        vals = median_filter(vals, size=3, mode="nearest")  # a one-frame glitch among the stance frames is not followed
    r = np.interp(np.arange(T), idx, vals)
    if cfg.per_frame_sigma > 0 and T > 2:
        from scipy.ndimage import gaussian_filter1d

        r = gaussian_filter1d(r, cfg.per_frame_sigma, mode="nearest")
    return r


def ground_motion(motion: HOIMotion, cfg: GroundingConfig | None = None) -> tuple[HOIMotion, GroundingReport]:
    """Put ``motion`` on the floor by the stance-foot rule of the module docstring.

    Args:
        motion: a ``HOIMotion`` (its ``skeleton_offsets`` place the foot geoms).
        cfg: thresholds (default :class:`GroundingConfig`).

    Returns:
        The grounded copy (``motion`` is not modified; ``meta["provenance"]["grounding"]`` holds the report) and
        the :class:`GroundingReport`.
    """
    cfg = cfg or GroundingConfig()
    if motion.body_pos.ndim != 3 or motion.body_pos.shape[1] != NUM_BODIES:
        raise InputError(f"{motion.name}: body_pos must be [T, {NUM_BODIES}, 3], got {motion.body_pos.shape}")
    heights = foot_heights(motion.body_pos, motion.body_quat, motion.skeleton_offsets)
    if not np.all(np.isfinite(heights)):
        raise InputError(f"{motion.name}: foot heights are not finite (bad body poses?)")
    stance = stance_mask(heights, foot_speeds(motion.body_lin_vel), cfg)
    dz, rule = grounding_shift(heights, stance, cfg)
    if not math.isfinite(dz):
        raise InputError(f"{motion.name}: grounding shift is not finite")
    sh = heights[stance]
    if sh.size < cfg.min_stance_frames:  # fallback: report over the frames at or below the low reference
        sh = heights[heights <= np.percentile(heights, cfg.low_percentile)]
    obj_low = object_lowest_z(motion)
    total = np.full(motion.num_frames, dz)
    if cfg.per_frame and stance.sum() >= cfg.min_stance_frames:
        total = total + per_frame_correction(heights + dz, stance, cfg)
    after = heights + total[:, None]
    sa = after[stance] if stance.sum() >= cfg.min_stance_frames else sh + dz
    lowest = np.where(stance, after, np.inf).min(axis=1)
    lowest = lowest[np.isfinite(lowest)]
    report = GroundingReport(
        clip=motion.name, frames=motion.num_frames, dz_m=dz, rule=rule,
        stance_frames={side: int(stance[:, s].sum()) for s, side in enumerate(SIDES)},
        median_before_m=float(np.median(sh)), median_after_m=float(np.median(sa)),
        max_before_m=float(sh.max()), low_after_m=float(np.percentile(sa, cfg.floor_percentile)),
        lowest_after_m=float(np.median(lowest)) if lowest.size else float(np.median(sa)),
        per_frame_min_m=float((total - dz).min()), per_frame_max_m=float((total - dz).max()),
        obj_low_before_m=None if obj_low is None else float(obj_low.min()),
        obj_low_after_m=None if obj_low is None else float((obj_low + total).min()))
    out = shift_motion(motion, total if cfg.per_frame else dz)
    record_provenance(out, "grounding", report, cfg)
    return out, report


def report_of(motion: HOIMotion) -> GroundingReport | None:
    """The :class:`GroundingReport` stored in ``motion.meta["provenance"]["grounding"]`` (None when not grounded)."""
    return provenance_report(motion, "grounding", GroundingReport)
