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


def nearest_surface_vec(body_pos: torch.Tensor, points_world: torch.Tensor) -> torch.Tensor:
    """[N,52,3], [N,P,3] → [N,52,3] body − nearest object surface point (brute force, as InterMimic)."""
    idx = torch.cdist(body_pos, points_world).argmin(-1)
    return body_pos - torch.gather(points_world, 1, idx[..., None].expand(idx.shape + (3,)))


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
        sim_ig [N,52,3] world body − nearest sim object point."""
        n = sim.root_pos.shape[0]
        h_inv = rot.quat_conj(rot.heading_quat(sim.root_quat))
        hb = h_inv[:, None].expand(n, 52, 4)
        rel = sim.body_pos - sim.root_pos[:, None]
        local_pos = rot.quat_rotate(hb, rel)
        return {
            "h_inv": h_inv,
            "root_height": sim.root_pos[:, 2:3],
            "body_pos_local": local_pos[:, 1:].reshape(n, -1),
            "body_rot_local": rot.quat_to_tan_norm(rot.quat_mul(hb, sim.body_quat)).reshape(n, -1),
            "body_lin_vel_local": rot.quat_rotate(hb, sim.body_lin_vel).reshape(n, -1),
            "body_ang_vel_local": rot.quat_rotate(hb, sim.body_ang_vel).reshape(n, -1),
            "contact": contact[:, self.contact].to(torch.float32),
            "key_body_pos_local": local_pos[:, self.key].reshape(n, -1),
            "obj_vel_local": torch.cat([rot.quat_rotate(h_inv, sim.obj_lin_vel),
                                        rot.quat_rotate(h_inv, sim.obj_ang_vel)], -1),
            "ig_enc": ig_encode(rot.quat_rotate(hb, sim_ig)),
        }

    def block(self, sim, ref, contact: torch.Tensor, part: dict[str, torch.Tensor]) -> torch.Tensor:
        """One [N, 1599] block against the reference ``ref`` (a MotionState at the horizon's time)."""
        n = sim.root_pos.shape[0]
        h_inv = part["h_inv"]
        h = rot.quat_conj(h_inv)

        def loc(v: torch.Tensor) -> torch.Tensor:
            q = h_inv.view(n, *([1] * (v.dim() - 2)), 4).expand(v.shape[:-1] + (4,))
            return rot.quat_rotate(q, v)

        def conj_heading(q: torch.Tensor) -> torch.Tensor:  # h⁻¹ ⊗ q ⊗ h
            k = q.shape[1]
            return rot.quat_mul(rot.quat_mul(h_inv[:, None].expand(n, k, 4), q), h[:, None].expand(n, k, 4))

        nh = self.no_hand
        rot_err = conj_heading(rot.quat_mul(rot.quat_conj(ref.body_quat[:, nh]), sim.body_quat[:, nh]))
        lab = ref.contact_label[:, self.contact]
        c = contact[:, self.contact].to(torch.float32)
        obj_rot_err = conj_heading(rot.quat_mul(rot.quat_conj(ref.obj_quat), sim.obj_quat)[:, None])[:, 0]
        ref_h_inv = rot.quat_conj(rot.heading_quat(ref.root_quat))
        ref_ig = ig_encode(rot.quat_rotate(ref_h_inv[:, None].expand(n, 52, 4), ref.ig_vec))
        rows = {
            **part,
            "key_body_pos_error": loc(ref.body_pos[:, self.key] - sim.body_pos[:, self.key]).reshape(n, -1),
            "rot_error": rot.quat_to_tan_norm(rot_err).reshape(n, -1),
            "contact_label_error": lab * ((lab + 1.0) * 0.5 - c),
            "ref_rot_local": rot.quat_to_tan_norm(
                rot.quat_mul(h_inv[:, None].expand(n, 22, 4), ref.body_quat[:, nh])).reshape(n, -1),
            "key_body_lin_vel_error": loc(ref.body_lin_vel[:, self.key]
                                          - sim.body_lin_vel[:, self.key]).reshape(n, -1),
            "ang_vel_error": loc(ref.body_ang_vel[:, nh] - sim.body_ang_vel[:, nh]).reshape(n, -1),
            "obj_error": torch.cat([loc(ref.obj_pos - sim.obj_pos), rot.quat_to_tan_norm(obj_rot_err),
                                    loc(ref.obj_lin_vel - sim.obj_lin_vel),
                                    loc(ref.obj_ang_vel - sim.obj_ang_vel)], -1),
            "ig": part["ig_enc"].reshape(n, -1),
            "ig_error": (ref_ig[:, self.key] - part["ig_enc"][:, self.key]).reshape(n, -1),
        }
        return torch.cat([rows[name] for name, _ in BLOCK_LAYOUT], dim=-1)
