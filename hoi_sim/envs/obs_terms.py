"""Named observation terms: each one a small function with its name, width and whether it reads the reference.

A term is ``fn(frame) -> [N, width]`` (simulation only; computed once per call and repeated in every block) or
``fn(frame, ref) -> [N, width]`` (against one reference horizon; computed per block). ``OBS_TERMS`` maps the names
used in observation sets (``hoi_sim/cfg/observation/<set>.yaml``) to them; ``hoi_sim.envs.observations`` builds the
layout from a set. Body subsets come from their names in ``hoi_sim.skeleton``, never from index ranges.

Conventions (InterMimic's, reference/intermimic-notes.md §4.3; docs/observations.md): vectors are expressed in the
**simulated root's heading frame** (yaw only), rotations as 6-D tan-norm (rotated x axis, rotated z axis),
interaction-graph vectors as unit direction × exp(−5·distance). Shapes: N envs; positions in m, linear velocities in
m/s, angular velocities in rad/s. ``frame.sim`` is a ``SimState`` (hoi_sim.sim.base), ``ref`` a ``MotionState``
(hoi_sim.motions.library) of the same N envs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import torch

from hoi_sim import rotations as rot
from hoi_sim import skeleton as sk
from hoi_sim.objects.nearest import nearest_surface_vec

if TYPE_CHECKING:
    from hoi_sim.motions.library import MotionState
    from hoi_sim.sim.base import SimState

IG_SCALE = 5.0
"""1/m: the interaction-graph encoding's decay, exp(−IG_SCALE · distance)."""


def ig_encode(vec: torch.Tensor, scale: float = IG_SCALE) -> torch.Tensor:
    """[..., 3] body − nearest object point (m) → unit direction × exp(−scale·‖vec‖) (0 for a zero vector)."""
    d = vec.norm(dim=-1, keepdim=True)
    return vec / d.clamp_min(1e-9) * torch.exp(-scale * d)


def _loc(hm: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate v [N,3] or [N,K,3] by the per-env matrices hm [N,3,3]."""
    if v.dim() == 2:
        return (hm @ v[..., None])[..., 0]
    return v @ hm.transpose(-1, -2)


def _tan(m: torch.Tensor) -> torch.Tensor:
    """Tan-norm of rotation matrices [..., 3, 3]: the rotated x axis and z axis (columns 0 and 2), [..., 6]."""
    return torch.cat([m[..., :, 0], m[..., :, 2]], dim=-1)


def _heading_inv(root_quat: torch.Tensor) -> torch.Tensor:
    """[N,3,3] world → heading frame of roots with wxyz quaternions root_quat [N,4]."""
    return rot.quat_to_matrix(rot.quat_conj(rot.heading_quat(root_quat)))


class BodySubsets:
    """The body subsets the terms read, as long index tensors on one device (resolved once)."""

    def __init__(self, device: torch.device) -> None:
        def ids(names: tuple[str, ...]) -> torch.Tensor:
            return torch.tensor(sk.body_ids(names), dtype=torch.long, device=device)

        self.key = ids(sk.KEY_BODIES)  # [21]
        self.contact = ids(sk.CONTACT_BODIES)  # [31]
        self.no_hand = ids(sk.NO_HAND_BODIES)  # [22]


class SimFrame:
    """The simulated state of one observation call and its shared intermediates (each computed on first use).

    Args:
        sim: ``SimState`` of N envs.
        contact: [N,52] bool contact flags (``EnvCfg.contact_source``).
        obj_points: [N,P,3] object surface samples in the object frame (m), for the interaction graph (None when
            ``nearest`` is given).
        bodies: the resolved body subsets.
        nearest: ``(body_pos [N,52,3], obj_pos [N,3], obj_rot [N,3,3]) → [N,52,3]`` body − nearest sample of each
            env's cloud (e.g. ``MotionLibrary.surface.vec`` bound to the envs' clips); default: the brute-force
            search over ``obj_points``.
    """

    def __init__(self, sim: SimState, contact: torch.Tensor, obj_points: torch.Tensor | None, bodies: BodySubsets,
                 nearest: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> None:
        if obj_points is None and nearest is None:
            raise ValueError("SimFrame needs obj_points or a nearest-sample search")
        self.sim, self.contact, self.obj_points, self.bodies = sim, contact, obj_points, bodies
        self._nearest = nearest
        self.n = int(sim.root_pos.shape[0])
        self._cache: dict[str, torch.Tensor] = {}

    def cached(self, key: str, make: Callable[[SimFrame], torch.Tensor]) -> torch.Tensor:
        """``make(self)`` on the first call with ``key``, the same tensor afterwards (sim values that every
        horizon's terms reuse, e.g. a body subset's gathered rows)."""
        out = self._cache.get(key)
        if out is None:
            out = self._cache[key] = make(self)
        return out

    def tiled(self, k: int) -> TiledFrame:
        """This frame seen k times along the batch ([k·N] rows; :class:`TiledFrame`)."""
        return TiledFrame(self, k)

    @cached_property
    def hm(self) -> torch.Tensor:
        """[N,3,3] world → simulated heading frame."""
        return _heading_inv(self.sim.root_quat)

    @cached_property
    def hm_t(self) -> torch.Tensor:
        """[N,3,3] heading frame → world."""
        return self.hm.transpose(-1, -2)

    @cached_property
    def body_r(self) -> torch.Tensor:
        """[N,52,3,3] world rotation matrices of the bodies."""
        return rot.quat_to_matrix(self.sim.body_quat)

    @cached_property
    def local_pos(self) -> torch.Tensor:
        """[N,52,3] body positions minus the root, heading frame (m)."""
        return _loc(self.hm, self.sim.body_pos - self.sim.root_pos[:, None])

    @cached_property
    def ig_enc(self) -> torch.Tensor:
        """[N,52,3] encoded body − nearest object surface sample, heading frame."""
        s = self.sim
        if self._nearest is not None:
            vec = self._nearest(s.body_pos, s.obj_pos, self.obj_r)
        else:
            vec = nearest_surface_vec(s.body_pos, s.obj_pos, self.obj_r, self.obj_points)
        return ig_encode(_loc(self.hm, vec))

    @cached_property
    def contact_f(self) -> torch.Tensor:
        """[N,31] contact flags of the contact bodies as 0/1 floats."""
        return self.contact[:, self.bodies.contact].to(torch.float32)

    @cached_property
    def obj_r(self) -> torch.Tensor:
        """[N,3,3] world rotation of the simulated object."""
        return rot.quat_to_matrix(self.sim.obj_quat)


def _tile(x: torch.Tensor, k: int) -> torch.Tensor:
    """x [N, ...] repeated k times along the batch: [k·N, ...], copy i in rows i·N … (i+1)·N − 1."""
    return x.repeat(k, *([1] * (x.dim() - 1)))


class _TiledState:
    """A ``SimState`` whose fields are read k times tiled along the batch (each tiled on first read)."""

    def __init__(self, base: SimState, k: int) -> None:
        self._base, self._k = base, k

    def __getattr__(self, name: str) -> torch.Tensor:
        out = _tile(getattr(self._base, name), self._k)
        setattr(self, name, out)
        return out


class TiledFrame:
    """A ``SimFrame`` seen k times along the batch ([k·N] rows), so that the reference terms of k horizons run as
    one batch against a stacked reference of k·N rows. The frame's intermediates (``hm``, ``body_r``, ``ig_enc``,
    …) are computed once on the N rows of the base frame and then tiled, so every row is bit-identical to the
    base frame's."""

    def __init__(self, base: SimFrame, k: int) -> None:
        self._base, self._k = base, k
        self.sim = _TiledState(base.sim, k)
        self.contact = _tile(base.contact, k)
        self.bodies = base.bodies
        self.n = k * base.n
        self._cache: dict[str, torch.Tensor] = {}

    def cached(self, key: str, make: Callable[[SimFrame], torch.Tensor]) -> torch.Tensor:
        """``SimFrame.cached`` of the base frame (computed on its N rows), tiled."""
        out = self._cache.get(key)
        if out is None:
            out = self._cache[key] = _tile(self._base.cached(key, make), self._k)
        return out

    def __getattr__(self, name: str) -> torch.Tensor:
        if name.startswith("_"):
            raise AttributeError(name)
        out = _tile(getattr(self._base, name), self._k)
        setattr(self, name, out)
        return out


class RefFrame:
    """One reference horizon's ``MotionState`` (N rows) and its intermediates (each computed on first use)."""

    def __init__(self, ref: MotionState, bodies: BodySubsets) -> None:
        self.ref, self.bodies = ref, bodies

    @cached_property
    def no_hand_r(self) -> torch.Tensor:
        """[N,22,3,3] world rotations of the reference's no-hand bodies."""
        return rot.quat_to_matrix(self.ref.body_quat[:, self.bodies.no_hand])


@dataclass(frozen=True)
class ObsTerm:
    """One named observation term: ``width`` numbers per env; ``uses_ref``: ``fn(frame, ref)`` per horizon, else
    ``fn(frame)`` once."""

    name: str
    width: int
    uses_ref: bool
    fn: Callable[..., torch.Tensor]


OBS_TERMS: dict[str, ObsTerm] = {}
"""Every observation term by name; an observation set lists some of them in order."""


def obs_term(width: int, uses_ref: bool = False) -> Callable[[Callable[..., torch.Tensor]],
                                                               Callable[..., torch.Tensor]]:
    """Register the decorated function in ``OBS_TERMS`` under its own name."""
    def register(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        OBS_TERMS[fn.__name__] = ObsTerm(fn.__name__, int(width), uses_ref, fn)
        return fn
    return register


_NB, _NK, _NC, _NH = sk.NUM_BODIES, len(sk.KEY_BODIES), len(sk.CONTACT_BODIES), len(sk.NO_HAND_BODIES)


# ---------------------------------------------------------------- simulation only (the same in every block)

@obs_term(1)
def root_height(f: SimFrame) -> torch.Tensor:
    """Simulated root height: world z (m)."""
    return f.sim.root_pos[:, 2:3]


@obs_term(3 * (_NB - 1))
def body_pos_local(f: SimFrame) -> torch.Tensor:
    """Bodies 1–51 minus the root, heading frame (m)."""
    return f.local_pos[:, sk.NON_ROOT].reshape(f.n, -1)


@obs_term(6 * _NB)
def body_rot_local(f: SimFrame) -> torch.Tensor:
    """All 52 body rotations in the heading frame, tan-norm."""
    return _tan(f.hm[:, None] @ f.body_r).reshape(f.n, -1)


@obs_term(3 * _NB)
def body_lin_vel_local(f: SimFrame) -> torch.Tensor:
    """52 body linear velocities, heading frame (m/s)."""
    return _loc(f.hm, f.sim.body_lin_vel).reshape(f.n, -1)


@obs_term(3 * _NB)
def body_ang_vel_local(f: SimFrame) -> torch.Tensor:
    """52 body angular velocities, heading frame (rad/s)."""
    return _loc(f.hm, f.sim.body_ang_vel).reshape(f.n, -1)


@obs_term(_NC)
def contact(f: SimFrame) -> torch.Tensor:
    """Simulated contact flags of the 31 contact bodies (0/1)."""
    return f.contact_f


@obs_term(3 * _NK)
def key_body_pos_local(f: SimFrame) -> torch.Tensor:
    """Simulated key bodies minus the root, heading frame (m)."""
    return f.local_pos[:, f.bodies.key].reshape(f.n, -1)


@obs_term(6)
def obj_vel_local(f: SimFrame) -> torch.Tensor:
    """Simulated object linear (m/s) and angular (rad/s) velocity, heading frame."""
    return torch.cat([_loc(f.hm, f.sim.obj_lin_vel), _loc(f.hm, f.sim.obj_ang_vel)], -1)


@obs_term(3 * _NB)
def ig(f: SimFrame) -> torch.Tensor:
    """Simulated interaction-graph encoding of all 52 bodies, heading frame."""
    return f.ig_enc.reshape(f.n, -1)


# ---------------------------------------------------------------- against one reference horizon

def _key_error(f: SimFrame, r: RefFrame, field: str) -> torch.Tensor:
    """(ref − sim) of the key bodies' ``field`` ([N, 52, 3] on both states), heading frame, flattened; the sim
    side is computed once per call and shared by every horizon."""
    sim_key = f.cached(f"key_{field}", lambda g: getattr(g.sim, field)[:, g.bodies.key])
    return _loc(f.hm, getattr(r.ref, field)[:, f.bodies.key] - sim_key).reshape(f.n, -1)


@obs_term(3 * _NK, uses_ref=True)
def key_body_pos_error(f: SimFrame, r: RefFrame) -> torch.Tensor:
    """(ref − sim) key-body positions, heading frame (m)."""
    return _key_error(f, r, "body_pos")


@obs_term(6 * _NH, uses_ref=True)
def rot_error(f: SimFrame, r: RefFrame) -> torch.Tensor:
    """h⁻¹·(q_ref⁻¹·q_sim)·h of the 22 no-hand bodies as matrices H·R_refᵀ·R_sim·Hᵀ, tan-norm."""
    sim_r = f.cached("no_hand_r", lambda g: g.body_r[:, g.bodies.no_hand])
    err = f.hm[:, None] @ r.no_hand_r.transpose(-1, -2) @ sim_r @ f.hm_t[:, None]
    return _tan(err).reshape(f.n, -1)


@obs_term(_NC, uses_ref=True)
def contact_label_error(f: SimFrame, r: RefFrame) -> torch.Tensor:
    """label·((label+1)/2 − c) per contact body: 1−c for label +1, c for −1, 0 for 0."""
    lab = r.ref.contact_label[:, f.bodies.contact]
    return lab * ((lab + 1.0) * 0.5 - f.contact_f)


@obs_term(6 * _NH, uses_ref=True)
def ref_rot_local(f: SimFrame, r: RefFrame) -> torch.Tensor:
    """Reference rotations of the 22 no-hand bodies in the simulated heading frame, tan-norm."""
    return _tan(f.hm[:, None] @ r.no_hand_r).reshape(f.n, -1)


@obs_term(3 * _NK, uses_ref=True)
def key_body_lin_vel_error(f: SimFrame, r: RefFrame) -> torch.Tensor:
    """(ref − sim) key-body linear velocities, heading frame (m/s)."""
    return _key_error(f, r, "body_lin_vel")


@obs_term(3 * _NH, uses_ref=True)
def ang_vel_error(f: SimFrame, r: RefFrame) -> torch.Tensor:
    """(ref − sim) angular velocities of the 22 no-hand bodies, heading frame (rad/s)."""
    sim_vel = f.cached("no_hand_ang_vel", lambda g: g.sim.body_ang_vel[:, g.bodies.no_hand])
    return _loc(f.hm, r.ref.body_ang_vel[:, f.bodies.no_hand] - sim_vel).reshape(f.n, -1)


@obs_term(3 + 6 + 3 + 3, uses_ref=True)
def obj_error(f: SimFrame, r: RefFrame) -> torch.Tensor:
    """Object (ref − sim) position (3, m), rotation error h⁻¹·(q_ref⁻¹·q_sim)·h (6, tan-norm), (ref − sim)
    linear (3, m/s) and angular (3, rad/s) velocity; vectors in the heading frame."""
    s, ref, hm = f.sim, r.ref, f.hm
    err = hm @ rot.quat_to_matrix(ref.obj_quat).transpose(-1, -2) @ f.obj_r @ f.hm_t
    return torch.cat([_loc(hm, ref.obj_pos - s.obj_pos), _tan(err), _loc(hm, ref.obj_lin_vel - s.obj_lin_vel),
                      _loc(hm, ref.obj_ang_vel - s.obj_ang_vel)], -1)


@obs_term(3 * _NK, uses_ref=True)
def ig_error(f: SimFrame, r: RefFrame) -> torch.Tensor:
    """(ref − sim) interaction-graph encoding of the 21 key bodies; the reference's vectors (``ig_vec``) are
    rotated into the *reference* root's heading frame, as InterMimic builds its reference ig."""
    ref_ig = ig_encode(_loc(_heading_inv(r.ref.root_quat), r.ref.ig_vec[:, f.bodies.key]))
    return (ref_ig - f.cached("key_ig", lambda g: g.ig_enc[:, g.bodies.key])).reshape(f.n, -1)
