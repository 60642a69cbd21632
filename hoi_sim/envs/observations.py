"""InterMimic's teacher observation: one 1599-dim block per reference horizon (docs/observations.md).

Everything is expressed in the **simulated root's heading frame** (yaw-only), rotations as 6-D tan-norm
(rotated x axis, rotated z axis), interaction-graph vectors encoded as unit direction × exp(−5·distance).
Shapes: N envs; sim is a ``SimState``, ref a ``MotionState`` (hoi_sim.motions.library).
"""

from __future__ import annotations

import torch

from hoi_sim import rotations as rot
from hoi_sim import skeleton as sk

NO_HAND_BODIES: tuple[str, ...] = sk.BODY_NAMES[0:18] + sk.BODY_NAMES[33:37]
"""The 22 bodies of InterMimic's rotation rows: Pelvis … L_Wrist and R_Thorax … R_Wrist."""

BLOCK_LAYOUT: tuple[tuple[str, int], ...] = (
    ("root_height", 1),
    ("body_pos_local", 3 * 51),
    ("body_rot_local", 6 * 52),
    ("body_lin_vel_local", 3 * 52),
    ("body_ang_vel_local", 3 * 52),
    ("contact", 31),
    ("key_body_pos_error", 3 * 21),
    ("rot_error", 6 * 22),
    ("contact_label_error", 31),
    ("key_body_pos_local", 3 * 21),
    ("ref_rot_local", 6 * 22),
    ("key_body_lin_vel_error", 3 * 21),
    ("ang_vel_error", 3 * 22),
    ("obj_vel_local", 6),
    ("obj_error", 3 + 6 + 3 + 3),
    ("ig", 3 * 52),
    ("ig_error", 3 * 21),
)
"""Row name and width of one block, in order (InterMimic §4.3 rows 1–17)."""
BLOCK_SIZE = sum(w for _, w in BLOCK_LAYOUT)
assert BLOCK_SIZE == 1599


def ig_encode(vec: torch.Tensor, scale: float = 5.0) -> torch.Tensor:
    """[..., 3] body − nearest object point → unit direction × exp(−scale·‖vec‖) (0 for a zero vector)."""
    d = vec.norm(dim=-1, keepdim=True)
    return vec / d.clamp_min(1e-9) * torch.exp(-scale * d)


class TeacherObservation:
    """Builds ``[N, len(horizons) · 1599]`` observations; body-name subsets are resolved once."""

    def __init__(self, device: torch.device) -> None:
        def ids(names: tuple[str, ...]) -> torch.Tensor:
            return torch.tensor(sk.body_ids(names), dtype=torch.long, device=device)

        self.key = ids(sk.KEY_BODIES)
        self.contact = ids(sk.CONTACT_BODIES)
        self.no_hand = ids(NO_HAND_BODIES)

    def sim_part(self, sim, contact: torch.Tensor, sim_ig: torch.Tensor) -> dict[str, torch.Tensor]:
        """Rows that depend on the simulation only (shared by every horizon). contact [N,52] bool,
        sim_ig [N,52,3] world body − nearest sim object point. Keys starting with ``_`` are intermediate
        sim-only values that :meth:`block` reuses."""
        n = sim.root_pos.shape[0]
        hm = rot.quat_to_matrix(rot.quat_conj(rot.heading_quat(sim.root_quat)))  # [N,3,3] world → heading
        body_r = rot.quat_to_matrix(sim.body_quat)  # [N,52,3,3]
        local_pos = _loc(hm, sim.body_pos - sim.root_pos[:, None])
        ig_enc = ig_encode(_loc(hm, sim_ig))
        nh, key = self.no_hand, self.key
        return {
            "hm": hm,
            "body_r": body_r,
            "root_height": sim.root_pos[:, 2:3],
            "body_pos_local": local_pos[:, 1:].reshape(n, -1),
            "body_rot_local": _tan(hm[:, None] @ body_r).reshape(n, -1),
            "body_lin_vel_local": _loc(hm, sim.body_lin_vel).reshape(n, -1),
            "body_ang_vel_local": _loc(hm, sim.body_ang_vel).reshape(n, -1),
            "contact": contact[:, self.contact].to(torch.float32),
            "key_body_pos_local": local_pos[:, key].reshape(n, -1),
            "obj_vel_local": torch.cat([_loc(hm, sim.obj_lin_vel), _loc(hm, sim.obj_ang_vel)], -1),
            "ig_enc": ig_enc,
            "ig": ig_enc.reshape(n, -1),
            "_hm_t": hm.transpose(-1, -2),
            "_body_r_nh": body_r[:, nh],
            "_obj_r": rot.quat_to_matrix(sim.obj_quat),
            "_key_pos": sim.body_pos[:, key],
            "_key_lin_vel": sim.body_lin_vel[:, key],
            "_ang_vel_nh": sim.body_ang_vel[:, nh],
            "_ig_key": ig_enc[:, key],
        }

    def block(self, sim, ref, contact: torch.Tensor, part: dict[str, torch.Tensor]) -> torch.Tensor:
        """One [N, 1599] block against the reference ``ref`` (a MotionState at the horizon's time); ``part`` is
        :meth:`sim_part` of the same ``sim`` and ``contact``."""
        rows = {**part, **self._ref_rows(sim, ref, part)}
        return torch.cat([rows[name] for name, _ in BLOCK_LAYOUT], dim=-1)

    def blocks(self, sim, ref, contact: torch.Tensor, part: dict[str, torch.Tensor]) -> torch.Tensor:
        """Every horizon's block at once: ``ref`` holds H·N rows, horizon-major (row h·N + i is env i at horizon
        h, as ``MotionLibrary.state(motion_ids.repeat(H), times)`` returns them). Returns [N, H·1599], the same
        numbers as concatenating :meth:`block` over the horizons, with one pass of small tensor operations
        instead of H."""
        n = sim.root_pos.shape[0]
        h = ref.root_pos.shape[0] // n
        if h * n != ref.root_pos.shape[0]:
            raise ValueError(f"ref has {ref.root_pos.shape[0]} rows, not a multiple of {n} envs")

        def rep(x: torch.Tensor) -> torch.Tensor:
            return x.repeat((h,) + (1,) * (x.dim() - 1))

        keys = ("hm", "_hm_t", "_body_r_nh", "_obj_r", "_key_pos", "_key_lin_vel", "_ang_vel_nh", "_ig_key",
                "contact")
        stacked = {k: rep(part[k]) for k in keys}
        sim_h = _SimObject(rep(sim.root_pos), rep(sim.obj_pos), rep(sim.obj_lin_vel), rep(sim.obj_ang_vel))
        ref_rows = self._ref_rows(sim_h, ref, stacked)
        sim_rows = {name: part[name] for name, _ in BLOCK_LAYOUT if name not in ref_rows}
        cols = [ref_rows[name].view(h, n, -1) if name in ref_rows else sim_rows[name].expand(h, n, -1)
                for name, _ in BLOCK_LAYOUT]
        return torch.cat(cols, dim=-1).transpose(0, 1).reshape(n, h * BLOCK_SIZE)

    def _ref_rows(self, sim, ref, part: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The rows of a block that depend on the reference (``part``: the keys :meth:`blocks` stacks)."""
        n = sim.root_pos.shape[0]
        hm, hm_t = part["hm"], part["_hm_t"]
        nh, key = self.no_hand, self.key
        ref_r = rot.quat_to_matrix(ref.body_quat[:, nh])  # [N,22,3,3]
        # h⁻¹ ⊗ (q_ref⁻¹ ⊗ q_sim) ⊗ h as matrices: H · R_refᵀ · R_sim · Hᵀ
        rot_err = hm[:, None] @ ref_r.transpose(-1, -2) @ part["_body_r_nh"] @ hm_t[:, None]
        lab = ref.contact_label[:, self.contact]
        obj_err = hm @ rot.quat_to_matrix(ref.obj_quat).transpose(-1, -2) @ part["_obj_r"] @ hm_t
        ref_hm = rot.quat_to_matrix(rot.quat_conj(rot.heading_quat(ref.root_quat)))
        ref_ig = ig_encode(_loc(ref_hm, ref.ig_vec[:, key]))
        return {
            "key_body_pos_error": _loc(hm, ref.body_pos[:, key] - part["_key_pos"]).reshape(n, -1),
            "rot_error": _tan(rot_err).reshape(n, -1),
            "contact_label_error": lab * ((lab + 1.0) * 0.5 - part["contact"]),
            "ref_rot_local": _tan(hm[:, None] @ ref_r).reshape(n, -1),
            "key_body_lin_vel_error": _loc(hm, ref.body_lin_vel[:, key] - part["_key_lin_vel"]).reshape(n, -1),
            "ang_vel_error": _loc(hm, ref.body_ang_vel[:, nh] - part["_ang_vel_nh"]).reshape(n, -1),
            "obj_error": torch.cat([_loc(hm, ref.obj_pos - sim.obj_pos), _tan(obj_err),
                                    _loc(hm, ref.obj_lin_vel - sim.obj_lin_vel),
                                    _loc(hm, ref.obj_ang_vel - sim.obj_ang_vel)], -1),
            "ig_error": (ref_ig - part["_ig_key"]).reshape(n, -1),
        }


class _SimObject:
    """The simulation fields :meth:`TeacherObservation._ref_rows` reads (root and object), repeated per horizon."""

    def __init__(self, root_pos: torch.Tensor, obj_pos: torch.Tensor, obj_lin_vel: torch.Tensor,
                 obj_ang_vel: torch.Tensor) -> None:
        self.root_pos, self.obj_pos, self.obj_lin_vel, self.obj_ang_vel = root_pos, obj_pos, obj_lin_vel, obj_ang_vel


def _loc(hm: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate v [N,3] or [N,K,3] by the per-env matrices hm [N,3,3]."""
    if v.dim() == 2:
        return (hm @ v[..., None])[..., 0]
    return v @ hm.transpose(-1, -2)


def _tan(m: torch.Tensor) -> torch.Tensor:
    """Tan-norm of rotation matrices [..., 3, 3]: the rotated x axis and z axis (columns 0 and 2), [..., 6]."""
    return torch.cat([m[..., :, 0], m[..., :, 2]], dim=-1)
