"""Reward terms: each binds a pure kernel to the quantities of a :class:`RewardContext`.

A term function is ``fn(ctx, **params) -> raw [N]``; ``TERMS`` maps the names used in reward-set configs to them.
Body subsets are resolved from names once per context (cached), never by magic index ranges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from hoi_sim import rotations as rot
from hoi_sim import skeleton as sk
from hoi_sim.rewards import intermimic as im
from hoi_sim.rewards import kernels as k


@dataclass
class RewardContext:
    """What a reward may look at, for N envs at one control step (all torch float32 on one device).

    sim: the post-step ``SimState`` (body_pos [N,52,3], body_quat [N,52,4], body_lin_vel, body_ang_vel [N,52,3],
        root_pos [N,3], root_quat [N,4], dof_vel [N,153], obj_pos [N,3], obj_quat [N,4], obj_lin_vel, obj_ang_vel
        [N,3], contact_obj, contact_any [N,52] bool, force_any [N,52,3]).
    ref: the reference ``MotionState`` at the same time (same pose/velocity fields, contact_label [N,52],
        ig_body [N,K] long, ig_body_offset [N,K,3], ig_obj_point [N,K,3], ig_active [N,K] bool).
    obj_points: [N,P,3] object surface samples in the object frame (m).
    prev_dof_vel [N,153], prev_obj_lin_vel [N,3], prev_obj_ang_vel [N,3]: sim velocities one control step earlier.
    steps_since_reset: [N] long, control steps since the env's last reset (1 right after the first step).
    control_dt: control step (s).
    sim_geoms, ref_geoms: optional [N,52,W] or [52,W] collision-geom tables (``humanoid.geoms.geom_table`` of the
        skeleton offsets; W = ``TABLE_WIDTH``) of the simulated and the reference humanoid, used by the surface
        form of ``keypoint_contact``. None (default): each edge body's geom is derived from the pose each step
        (``humanoid.geoms.nearest_on_posed_body``, exact for rigid bodies); an env whose skeletons are known may
        pass the tables, computed once, to save that work.
    """

    sim: Any
    ref: Any
    obj_points: torch.Tensor
    prev_dof_vel: torch.Tensor
    prev_obj_lin_vel: torch.Tensor
    prev_obj_ang_vel: torch.Tensor
    steps_since_reset: torch.Tensor
    control_dt: float
    sim_geoms: torch.Tensor | None = None
    ref_geoms: torch.Tensor | None = None
    cache: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return self.obj_points.device

    def ids(self, names: tuple[str, ...] | list[str] | None) -> torch.Tensor | slice:
        """Body indices of ``names`` (a long tensor) or ``slice(None)`` for all bodies."""
        if names is None:
            return slice(None)
        key = "ids:" + ",".join(names)
        if key not in self.cache:
            self.cache[key] = torch.tensor(sk.body_ids(list(names)), dtype=torch.long, device=self.device)
        return self.cache[key]

    def obj_points_world(self, which: str) -> torch.Tensor:
        """[N,P,3] surface samples moved by the ``which`` ('sim' | 'ref') object pose."""
        key = "pts:" + which
        if key not in self.cache:
            src = self.sim if which == "sim" else self.ref
            r = rot.quat_to_matrix(src.obj_quat)
            self.cache[key] = torch.baddbmm(src.obj_pos[:, None], self.obj_points, r.transpose(-1, -2))
        return self.cache[key]

    def ref_proximity(self, scale: float) -> torch.Tensor:
        """[N,52] InterMimic proximity weights h_b = exp(−scale·d_b) of the reference bodies to the reference
        object; d_b = ‖ref.ig_vec_b‖ when the reference carries its nearest-sample vectors (MotionLibrary does),
        else the brute-force distance to ``obj_points_world('ref')``."""
        key = f"h:{scale}"
        if key not in self.cache:
            ig = getattr(self.ref, "ig_vec", None)
            if ig is not None:
                self.cache[key] = torch.exp(-scale * ig.norm(dim=-1))
            else:
                self.cache[key] = im.proximity_weight(self.ref.body_pos, self.obj_points_world("ref"), scale)
        return self.cache[key]


# ---------------------------------------------------------------- the paper's terms (TR, LR, CR)

def _pair(ctx: RewardContext, name: str, bodies: list[str] | None) -> tuple[torch.Tensor, torch.Tensor]:
    i = ctx.ids(bodies)
    return getattr(ctx.ref, name)[:, i], getattr(ctx.sim, name)[:, i]


def body_pos(ctx: RewardContext, bodies: list[str] | None = None) -> torch.Tensor:
    """mean_b ‖p_ref − p_sim‖² over ``bodies`` (default all 52), m²."""
    return k.pos_sq_error(*_pair(ctx, "body_pos", bodies))


def body_rot(ctx: RewardContext, bodies: list[str] | None = None) -> torch.Tensor:
    """mean_b θ(q_ref ⊖ q_sim)², rad²."""
    return k.rot_sq_error(*_pair(ctx, "body_quat", bodies))


def body_lin_vel(ctx: RewardContext, bodies: list[str] | None = None) -> torch.Tensor:
    """mean_b ‖v_ref − v_sim‖², (m/s)²."""
    return k.pos_sq_error(*_pair(ctx, "body_lin_vel", bodies))


def body_ang_vel(ctx: RewardContext, bodies: list[str] | None = None) -> torch.Tensor:
    """mean_b ‖ω_ref − ω_sim‖², (rad/s)²."""
    return k.pos_sq_error(*_pair(ctx, "body_ang_vel", bodies))


def obj_pos(ctx: RewardContext) -> torch.Tensor:
    """‖p^o_ref − p^o_sim‖², m²."""
    return k.pos_sq_error(ctx.ref.obj_pos, ctx.sim.obj_pos)


def obj_rot(ctx: RewardContext) -> torch.Tensor:
    """θ(q^o_ref ⊖ q^o_sim)², rad²."""
    return k.rot_sq_error(ctx.ref.obj_quat, ctx.sim.obj_quat)


def obj_lin_vel(ctx: RewardContext) -> torch.Tensor:
    return k.pos_sq_error(ctx.ref.obj_lin_vel, ctx.sim.obj_lin_vel)


def obj_ang_vel(ctx: RewardContext) -> torch.Tensor:
    return k.pos_sq_error(ctx.ref.obj_ang_vel, ctx.sim.obj_ang_vel)


def keypoint_label(ctx: RewardContext, contact: str = "obj", reduce: str = "sum") -> torch.Tensor:
    """Eq. 5 over the 52 bodies; ``contact``: 'obj' (contact with the object) or 'any' (InterMimic's sensing)."""
    c = ctx.sim.contact_obj if contact == "obj" else ctx.sim.contact_any
    return k.keypoint_label_miss(ctx.ref.contact_label, c, reduce)


def _graph_gap(ctx: RewardContext, which: str, form: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(object ends, human ends) [N,K,3] of the interaction graph on the ``which`` ('sim' | 'ref') state."""
    src, r = (ctx.sim if which == "sim" else ctx.ref), ctx.ref
    objp = k.graph_points_object(src.obj_pos, src.obj_quat, r.ig_obj_point)
    geoms = ctx.sim_geoms if which == "sim" else ctx.ref_geoms
    return objp, k.graph_points_human(src.body_pos, src.body_quat, r.ig_body, r.ig_body_offset, form, objp, geoms,
                                      r.ig_active)


def keypoint_contact(ctx: RewardContext, form: str = "surface", target: str = "zero",
                     reduce: str = "sum") -> torch.Tensor:
    """Eq. 6 over the interaction graph, m².

    form: 'surface' (default: the nearest point of the body's collision geom to the object point), 'joint' (the
    paper's wording: the joint position) or 'keypoint' (joint + body-frame offset of the annotated keypoint).
    target: 'zero' (paper: paired points should coincide) or 'reference' (keep the reference's gap).
    """
    if target not in ("zero", "reference"):
        raise ValueError(f"unknown keypoint_contact target {target!r} (zero | reference)")
    objp, human = _graph_gap(ctx, "sim", form)
    ref_gap = None
    if target == "reference":
        ref_obj, ref_human = _graph_gap(ctx, "ref", form)
        ref_gap = ref_obj - ref_human
    return k.keypoint_contact_sq_dist(objp, human, ctx.ref.ig_active, ref_gap, reduce)


# ---------------------------------------------------------------- InterMimic's terms (product reward)

_ANKLE_TOE = ("L_Ankle", "L_Toe", "R_Ankle", "R_Toe")
_QUIRK_ONES = ("L_Knee", "L_Ankle", "R_Knee", "R_Ankle")  # key indices 2,3,6,7 used as body indices


def im_body_pos(ctx: RewardContext, proximity_scale: float = 5.0, index_quirk: bool = False) -> torch.Tensor:
    """e_p over the 21 key bodies, weighted by reference proximity; the feet's weight forced to 1."""
    kid = ctx.ids(sk.KEY_BODIES)
    h = ctx.ref_proximity(proximity_scale).clone()
    h[:, ctx.ids(_QUIRK_ONES if index_quirk else _ANKLE_TOE)] = 1.0
    return im.weighted_pos_error(ctx.ref.body_pos[:, kid], ctx.sim.body_pos[:, kid], h[:, kid])


def im_body_rot(ctx: RewardContext, proximity_scale: float = 5.0) -> torch.Tensor:
    """e_r over all 52 bodies weighted by (1 − h)."""
    return im.weighted_rot_error(ctx.ref.body_quat, ctx.sim.body_quat, ctx.ref_proximity(proximity_scale))


def im_body_lin_vel(ctx: RewardContext) -> torch.Tensor:
    return im.component_sq_error(ctx.ref.body_lin_vel, ctx.sim.body_lin_vel)


def im_body_ang_vel(ctx: RewardContext) -> torch.Tensor:
    return im.component_sq_error(ctx.ref.body_ang_vel, ctx.sim.body_ang_vel)


def _acc_mask(ctx: RewardContext, skip_steps: int) -> torch.Tensor:
    return ctx.steps_since_reset > skip_steps


def im_dof_acc(ctx: RewardContext, skip_steps: int = 2) -> torch.Tensor:
    """eg1: mean DOF acceleration², zero for the first ``skip_steps`` steps after a reset."""
    return im.accel_sq_mean(ctx.sim.dof_vel, ctx.prev_dof_vel, ctx.control_dt, _acc_mask(ctx, skip_steps))


def im_obj_pos(ctx: RewardContext) -> torch.Tensor:
    """e_op: heading-local object position (z absolute), mean over xyz of the squared difference."""
    ref_p, _ = im.heading_local_obj(ctx.ref.root_pos, ctx.ref.root_quat, ctx.ref.obj_pos, ctx.ref.obj_quat)
    sim_p, _ = im.heading_local_obj(ctx.sim.root_pos, ctx.sim.root_quat, ctx.sim.obj_pos, ctx.sim.obj_quat)
    return im.component_sq_error(ref_p, sim_p)


def im_obj_rot(ctx: RewardContext) -> torch.Tensor:
    """e_or: positive angle between the heading-local object rotations (rad)."""
    _, ref_q = im.heading_local_obj(ctx.ref.root_pos, ctx.ref.root_quat, ctx.ref.obj_pos, ctx.ref.obj_quat)
    _, sim_q = im.heading_local_obj(ctx.sim.root_pos, ctx.sim.root_quat, ctx.sim.obj_pos, ctx.sim.obj_quat)
    return rot.quat_diff_angle(ref_q, sim_q)


def im_obj_lin_vel(ctx: RewardContext) -> torch.Tensor:
    return im.component_sq_error(ctx.ref.obj_lin_vel, ctx.sim.obj_lin_vel)


def im_obj_ang_vel(ctx: RewardContext) -> torch.Tensor:
    return im.component_sq_error(ctx.ref.obj_ang_vel, ctx.sim.obj_ang_vel)


def im_obj_acc(ctx: RewardContext, skip_steps: int = 2) -> torch.Tensor:
    """eg2: mean linear + mean angular object acceleration²."""
    m = _acc_mask(ctx, skip_steps)
    return (im.accel_sq_mean(ctx.sim.obj_lin_vel, ctx.prev_obj_lin_vel, ctx.control_dt, m)
            + im.accel_sq_mean(ctx.sim.obj_ang_vel, ctx.prev_obj_ang_vel, ctx.control_dt, m))


def im_ig(ctx: RewardContext) -> torch.Tensor:
    """0.5·E of r_ig over the 21 key bodies × all object surface points."""
    kid = ctx.ids(sk.KEY_BODIES)
    return im.interaction_graph_error(ctx.sim.body_pos[:, kid], ctx.obj_points_world("sim"),
                                      ctx.ref.body_pos[:, kid], ctx.obj_points_world("ref"))


def im_contact_hand(ctx: RewardContext, hand_weight: float = 5.0) -> torch.Tensor:
    """r_hand = r_left · r_right (a factor in [0.25, 1]) with InterMimic's sensing (any contact)."""
    lab, c = ctx.ref.contact_label, ctx.sim.contact_any
    return (im.hand_contact_factor(lab, c, ctx.ids(sk.LEFT_HAND), hand_weight)
            * im.hand_contact_factor(lab, c, ctx.ids(sk.RIGHT_HAND), hand_weight))


# InterMimic's code indexes range(31) minus its hand ids into the 52 bodies: bodies 0–16, Pelvis … L_Elbow.
_OTHER_QUIRK = sk.BODY_NAMES[:sk.BODY_INDEX["L_Wrist"]]
_OTHER_FIXED = tuple(n for n in sk.BODY_NAMES if n not in sk.HANDS)  # the 20 non-hand bodies


def im_contact_other(ctx: RewardContext, index_quirk: bool = False) -> torch.Tensor:
    """r_other's error over the non-hand bodies (InterMimic's code drops R_Thorax/R_Shoulder/R_Elbow: quirk)."""
    ids = ctx.ids(_OTHER_QUIRK if index_quirk else _OTHER_FIXED)
    return im.positive_label_error(ctx.ref.contact_label, ctx.sim.contact_any, ids)


def im_contact_all(ctx: RewardContext) -> torch.Tensor:
    return im.negative_label_error(ctx.ref.contact_label, ctx.sim.contact_any)


def im_contact_energy(ctx: RewardContext) -> torch.Tensor:
    return im.contact_force_sq(ctx.sim.force_any)


TERMS: dict[str, Callable[..., torch.Tensor]] = {f.__name__: f for f in (
    body_pos, body_rot, body_lin_vel, body_ang_vel, obj_pos, obj_rot, obj_lin_vel, obj_ang_vel,
    keypoint_label, keypoint_contact,
    im_body_pos, im_body_rot, im_body_lin_vel, im_body_ang_vel, im_dof_acc, im_obj_pos, im_obj_rot,
    im_obj_lin_vel, im_obj_ang_vel, im_obj_acc, im_ig, im_contact_hand, im_contact_other, im_contact_all,
    im_contact_energy)}
"""Kernel names usable in reward-set configs."""
