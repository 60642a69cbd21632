"""``MotionLibrary``: many ``HOIMotion`` clips packed into flat torch tensors, sampled and interpolated per env.

Packing: every per-frame array of all clips is concatenated along time (``frame_start[m]`` is clip m's first row);
per-clip arrays (interaction-graph edges, object surface points, skeleton offsets) are padded to the largest K.

Interpolation at time t (s) of clip m, f = t·fps clamped to [0, T−1], f0 = ⌊f⌋, f1 = min(f0+1, T−1), α = f − f0:
positions and velocities are lerped, world quaternions slerped. DOFs (``dof_interp``): ``lerp`` (default) lerps
the hinge angles with the difference wrapped to (−π, π] — exact at frames, cheap; ``slerp`` slerps each body's
local rotation (built from its three hinges) and decomposes the result exactly into intrinsic x-y-z hinges
(equal to the stored angles at frames up to 2π and the Euler branch). Contact labels and the active-edge mask
use the nearest frame. ``ig_vec`` (InterMimic's interaction-graph vectors: body − nearest object surface sample)
is precomputed per frame and lerped.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch

from hoi_sim import rotations as rot
from hoi_sim.errors import InputError
from hoi_sim.motions.assets import group_assets
from hoi_sim.motions.object_kind import object_motion_kind
from hoi_sim.motions.schema import HOIMotion
from hoi_sim.objects.nearest import SurfaceSearch
from hoi_sim.sim.base import ResetState
from hoi_sim.skeleton import NUM_BODIES, NUM_DOFS

SURFACE_POINTS = 1024
SURFACE_SEED = 2024
_LERP = ("root_pos", "root_lin_vel", "root_ang_vel", "dof_vel", "body_pos", "body_lin_vel", "body_ang_vel",
         "obj_pos", "obj_lin_vel", "obj_ang_vel", "ig_vec")
_SLERP = ("root_quat", "body_quat", "obj_quat")


@dataclass
class MotionState:
    """The reference at one time per env (n envs; float32 on the library's device; world frame, wxyz).

    root_pos [n,3] m · root_quat [n,4] · root_lin_vel [n,3] m/s · root_ang_vel [n,3] rad/s · dof_pos [n,153] rad ·
    dof_vel [n,153] rad/s · body_pos [n,52,3] · body_quat [n,52,4] · body_lin_vel [n,52,3] · body_ang_vel [n,52,3] ·
    obj_pos [n,3] · obj_quat [n,4] · obj_lin_vel [n,3] · obj_ang_vel [n,3] · contact_label [n,52] float in {−1,0,1} ·
    ig_vec [n,52,3] m (body − nearest object surface sample) · ig_body [n,K] long · ig_body_offset [n,K,3] m (body
    frame) · ig_obj_point [n,K,3] m (object frame) · ig_active [n,K] bool (False on padding edges).
    """

    root_pos: torch.Tensor
    root_quat: torch.Tensor
    root_lin_vel: torch.Tensor
    root_ang_vel: torch.Tensor
    dof_pos: torch.Tensor
    dof_vel: torch.Tensor
    body_pos: torch.Tensor
    body_quat: torch.Tensor
    body_lin_vel: torch.Tensor
    body_ang_vel: torch.Tensor
    obj_pos: torch.Tensor
    obj_quat: torch.Tensor
    obj_lin_vel: torch.Tensor
    obj_ang_vel: torch.Tensor
    contact_label: torch.Tensor
    ig_vec: torch.Tensor
    ig_body: torch.Tensor
    ig_body_offset: torch.Tensor
    ig_obj_point: torch.Tensor
    ig_active: torch.Tensor

    def reset_state(self) -> ResetState:
        """The humanoid and object part as a backend ``ResetState``."""
        return ResetState(**{f.name: getattr(self, f.name) for f in fields(ResetState)})


class MotionLibrary:
    """Packed reference clips on one device.

    Args:
        motions: the clips (each with its own fps).
        device: torch device of every tensor.
        weights: sampling weight per clip (default: uniform).
        num_surface_points, surface_seed: object point cloud per clip (InterMimic: 1024, seed 2024).
        dof_interp: ``lerp`` or ``slerp`` (module docstring).
    """

    def __init__(self, motions: Sequence[HOIMotion], device: str | torch.device = "cpu",
                 weights: Sequence[float] | None = None, num_surface_points: int = SURFACE_POINTS,
                 surface_seed: int = SURFACE_SEED, dof_interp: str = "lerp") -> None:
        if not motions:
            raise InputError("MotionLibrary needs at least one motion")
        if dof_interp not in ("lerp", "slerp"):
            raise InputError(f"dof_interp must be 'lerp' or 'slerp', got {dof_interp!r}")
        self.device = torch.device(device)
        self.dof_interp = dof_interp
        self.names = [m.name for m in motions]
        self.object_names = [str(m.meta.get("object_name", "")) for m in motions]
        self.mass_modes = [object_motion_kind(m) for m in motions]
        """Per clip ``static`` | ``dynamic`` (``hoi_sim.motions.object_kind``: annotation, else displacement)."""
        n_frames = [m.num_frames for m in motions]
        if min(n_frames) < 1:
            raise InputError("every motion needs at least one frame")
        self.num_motions = len(motions)
        self.num_frames = torch.tensor(n_frames, dtype=torch.long, device=self.device)
        self.frame_start = torch.cumsum(self.num_frames, 0) - self.num_frames
        self.fps = torch.tensor([m.fps for m in motions], dtype=torch.float32, device=self.device)
        self.length_s = (self.num_frames - 1).to(torch.float32) / self.fps
        w = torch.ones(self.num_motions) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
        if w.shape != (self.num_motions,) or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise InputError("motion weights must be one non-negative value per motion with a positive sum")
        self.weights = w.to(self.device)

        def cat(name: str) -> torch.Tensor:
            return torch.as_tensor(np.concatenate([np.asarray(getattr(m, name)) for m in motions], 0),
                                   device=self.device)

        self.data: dict[str, torch.Tensor] = {}
        for name in _LERP[:-1] + _SLERP + ("dof_pos",):
            self.data[name] = cat(name).to(torch.float32)
        self.data["contact_label"] = cat("contact_label").to(torch.float32)
        self.skeleton_offsets = torch.stack([torch.as_tensor(m.skeleton_offsets, dtype=torch.float32)
                                             for m in motions]).to(self.device)

        self._pack_graph(motions)

        self.object_meshes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        """object name → (vertices [V,3], faces [F,3]) of the first clip using it (object frame)."""
        for m, o in zip(motions, self.object_names):
            self.object_meshes.setdefault(o, (np.asarray(m.obj_vertices), np.asarray(m.obj_faces)))
        self.asset_groups, clip_group = group_assets(motions)
        """The (skeleton, object) pairs of the clips, by content (``hoi_sim.motions.assets``)."""
        self.clip_group = torch.tensor(clip_group, dtype=torch.long, device=self.device)
        """[M] asset group of each clip."""
        self.group_meshes = [(np.asarray(motions[g.first_clip].obj_vertices),
                              np.asarray(motions[g.first_clip].obj_faces)) for g in self.asset_groups]
        """Per asset group: its object's (vertices [V,3], faces [F,3]) (object frame)."""
        cache: dict[str, np.ndarray] = {}
        pts = [self._surface(m, num_surface_points, surface_seed, cache) for m in motions]
        self.obj_points = torch.as_tensor(np.stack(pts), dtype=torch.float32, device=self.device)
        self.surface = SurfaceSearch(self.obj_points)
        """Nearest surface sample of each clip's cloud (the interaction graph's search, shared with the envs)."""
        self.data["ig_vec"] = self._ig_vectors()

    # ------------------------------------------------------------------ construction helpers
    def _pack_graph(self, motions: Sequence[HOIMotion]) -> None:
        """Interaction-graph edges padded to ``max_edges`` per clip: ig_body [M,K], ig_body_offset [M,K,3],
        ig_obj_point [M,K,3], and ``data["ig_active"]`` [sumT,K]."""
        k_max = max(1, max(int(m.ig_body.shape[0]) for m in motions))
        self.max_edges = k_max
        ig_body = torch.zeros(self.num_motions, k_max, dtype=torch.long)
        ig_off = torch.zeros(self.num_motions, k_max, 3)
        ig_pt = torch.zeros(self.num_motions, k_max, 3)
        ig_active = torch.zeros(int(self.num_frames.sum()), k_max, dtype=torch.bool)
        for i, m in enumerate(motions):
            k = int(m.ig_body.shape[0])
            s = int(self.frame_start[i])
            ig_body[i, :k] = torch.as_tensor(m.ig_body)
            ig_off[i, :k] = torch.as_tensor(m.ig_body_offset)
            ig_pt[i, :k] = torch.as_tensor(m.ig_obj_point)
            ig_active[s:s + m.num_frames, :k] = torch.as_tensor(m.ig_active)
        self.ig_body, self.ig_body_offset = ig_body.to(self.device), ig_off.to(self.device)
        self.ig_obj_point, self.data["ig_active"] = ig_pt.to(self.device), ig_active.to(self.device)

    @staticmethod
    def _surface(m: HOIMotion, count: int, seed: int, cache: dict[str, np.ndarray]) -> np.ndarray:
        from hoi_sim.objects.mesh import surface_points

        v, f = np.asarray(m.obj_vertices), np.asarray(m.obj_faces)
        key = hashlib.sha1(v.tobytes() + f.tobytes() + f"{count}:{seed}".encode()).hexdigest()
        if key not in cache:
            if len(f) == 0:
                raise InputError(f"motion {m.name!r}: object mesh has no faces (cannot sample a point cloud)")
            cache[key] = surface_points(v, f, count, seed)
        return cache[key]

    def _ig_vectors(self, chunk: int = 256) -> torch.Tensor:
        """[sumT,52,3] body − nearest object surface sample at every frame."""
        clip = torch.repeat_interleave(torch.arange(self.num_motions, device=self.device), self.num_frames)
        out = torch.empty_like(self.data["body_pos"])
        for s in range(0, out.shape[0], chunk):
            sl = slice(s, s + chunk)
            out[sl] = self.surface.vec(self.data["body_pos"][sl], self.data["obj_pos"][sl],
                                       rot.quat_to_matrix(self.data["obj_quat"][sl]), clip[sl])
        return out

    # ------------------------------------------------------------------ sampling
    @property
    def num_groups(self) -> int:
        """Number of asset groups (``asset_groups``)."""
        return len(self.asset_groups)

    def sample_motions(self, n: int, generator: torch.Generator | None = None,
                       allowed: torch.Tensor | None = None, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """[n] long clip ids drawn with probability ∝ weight (restricted to ``allowed`` [M] bool if given). With
        ``candidates`` [n, M] bool, draw k comes from the clips of row k only (one draw per row: another random
        stream than without it, which is left unchanged)."""
        w = self.weights if allowed is None else self.weights * allowed.to(self.weights.dtype)
        if candidates is None:
            return torch.multinomial(w.cpu(), n, replacement=True, generator=generator).to(self.device)
        rows = w.cpu()[None] * candidates.cpu().to(w.dtype)
        if candidates.shape != (n, self.num_motions) or bool((rows.sum(-1) <= 0).any()):
            raise InputError(f"candidates must be [{n}, {self.num_motions}] with a positive weight in every row")
        return torch.multinomial(rows, 1, generator=generator)[:, 0].to(self.device)

    def sample_start_frames(self, motion_ids: torch.Tensor, max_steps: int | None = None,
                            generator: torch.Generator | None = None) -> torch.Tensor:
        """[n] long start frames uniform in [0, max(1, T − max_steps)) (InterMimic's random start range)."""
        t = self.num_frames[motion_ids]
        hi = (t - max_steps).clamp_min(1) if max_steps is not None else t.clamp_min(1)
        u = torch.rand(motion_ids.shape[0], generator=generator).to(self.device)
        return torch.minimum((u * hi.to(torch.float32)).long(), hi - 1)

    def sample_times(self, motion_ids: torch.Tensor, truncate_s: float = 0.0,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """[n] float start times (s) uniform in [0, length − truncate_s] (clamped at 0)."""
        u = torch.rand(motion_ids.shape[0], generator=generator).to(self.device)
        return u * (self.length_s[motion_ids] - truncate_s).clamp_min(0.0)

    # ------------------------------------------------------------------ queries
    def frame_time(self, motion_ids: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Time (s) of integer ``frames`` [n] of clips ``motion_ids`` [n]."""
        return frames.to(torch.float32) / self.fps[motion_ids]

    def _frames(self, motion_ids: torch.Tensor, times: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        t_last = (self.num_frames[motion_ids] - 1).to(torch.float32)
        f = (times.to(torch.float32) * self.fps[motion_ids]).clamp(min=0.0)
        f = torch.where((f - f.round()).abs() < 1e-4, f.round(), f)  # float error at exact frame times
        f = torch.minimum(f, t_last)
        f0 = f.floor()
        alpha = (f - f0)
        f0 = f0.long()
        f1 = torch.minimum(f0 + 1, t_last.long())
        start = self.frame_start[motion_ids]
        nearest = torch.where(alpha >= 0.5, f1, f0)
        return start + f0, start + f1, alpha, start + nearest

    def state(self, motion_ids: torch.Tensor, times: torch.Tensor) -> MotionState:
        """Reference state of clips ``motion_ids`` [n] long at ``times`` [n] (s), interpolated (module docstring)."""
        motion_ids = motion_ids.to(self.device)
        i0, i1, alpha, inear = self._frames(motion_ids, times.to(self.device))
        out: dict[str, torch.Tensor] = {}
        if not bool((alpha > 0).any()):  # every query on a frame (control dt a multiple of 1/fps): no blending
            for name in _LERP + _SLERP + ("dof_pos",):
                out[name] = self.data[name][i0]
        else:
            for name in _LERP:
                x0, x1 = self.data[name][i0], self.data[name][i1]
                a = alpha.view((-1,) + (1,) * (x0.dim() - 1))
                out[name] = x0 + a * (x1 - x0)
            for name in _SLERP:
                x0, x1 = self.data[name][i0], self.data[name][i1]
                a = alpha.view((-1,) + (1,) * (x0.dim() - 1))
                out[name] = rot.slerp(x0, x1, a)
            out["dof_pos"] = self._interp_dofs(self.data["dof_pos"][i0], self.data["dof_pos"][i1], alpha)
        out["contact_label"] = self.data["contact_label"][inear]
        out["ig_active"] = self.data["ig_active"][inear]
        out["ig_body"] = self.ig_body[motion_ids]
        out["ig_body_offset"] = self.ig_body_offset[motion_ids]
        out["ig_obj_point"] = self.ig_obj_point[motion_ids]
        return MotionState(**out)

    def _interp_dofs(self, d0: torch.Tensor, d1: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        delta = torch.remainder(d1 - d0 + math.pi, 2 * math.pi) - math.pi
        lerp = d0 + alpha[:, None] * delta
        if self.dof_interp == "lerp":
            return lerp
        n = d0.shape[0]
        q0 = rot.euler_xyz_to_quat(d0.view(n, NUM_BODIES - 1, 3))
        q1 = rot.euler_xyz_to_quat(d1.view(n, NUM_BODIES - 1, 3))
        ang = rot.quat_to_euler_xyz(rot.slerp(q0, q1, alpha.view(n, 1, 1))).reshape(n, NUM_DOFS)
        # choose the 2π-representative nearest the lerped angle, so frames reproduce the stored angles
        return ang + 2 * math.pi * torch.round((lerp - ang) / (2 * math.pi))

    def dof_pos(self, motion_ids: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """[n,153] reference hinge angles (rad) of clips ``motion_ids`` [n] at ``times`` [n] (s), interpolated as
        in :meth:`state` — the one field the residual action needs, without building a whole ``MotionState``."""
        i0, i1, alpha, _ = self._frames(motion_ids.to(self.device), times.to(self.device))
        return self._interp_dofs(self.data["dof_pos"][i0], self.data["dof_pos"][i1], alpha)

    def interp_rows(self, table: torch.Tensor, motion_ids: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """[n, ...] per-frame values ``table`` [total frames, ...] (packed rows, as ``data``) of clips ``motion_ids``
        [n] at ``times`` [n] (s), linearly interpolated between frames."""
        i0, i1, alpha, _ = self._frames(motion_ids.to(self.device), times.to(self.device))
        a = alpha.view((-1,) + (1,) * (table.dim() - 1)).to(table.dtype)
        return table[i0] + a * (table[i1] - table[i0])

    def nearest_row(self, motion_ids: torch.Tensor, times: torch.Tensor, tol: float = 1e-3) -> torch.Tensor:
        """[n] long packed row of the clip frame at ``times`` (s), or −1 where the time is more than ``tol``
        frames away from a frame (clamped to the clip)."""
        i0, _, alpha, _ = self._frames(motion_ids.to(self.device), times.to(self.device))
        return torch.where(alpha <= tol, i0, torch.full_like(i0, -1))

    def frame_state(self, motion_ids: torch.Tensor, frames: torch.Tensor) -> MotionState:
        """Reference at integer ``frames`` [n] (clamped to the clip), no interpolation."""
        return self.state(motion_ids, self.frame_time(motion_ids, frames))
