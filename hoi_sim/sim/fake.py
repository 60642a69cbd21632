"""A kinematic fake backend for testing env logic without a physics engine (ProtoMotions' habit).

Behaviour (deterministic, no randomness):
- ``reset`` writes the given state; bodies follow by forward kinematics on the backend's skeleton offsets.
- ``step`` moves the DOFs to the PD targets (clamped to the limits) at once, integrates the root and the object
  with their current velocities over ``control_dt`` (no gravity), recomputes bodies by FK and body velocities by
  finite difference. DOF velocity = (new − old) / control_dt.
- Contacts, forces and the ``bad`` mask are whatever the test sets with ``set_contacts`` / ``set_bad``; they stay
  until changed (``reset`` clears ``bad`` and contacts of the reset envs).
"""

from __future__ import annotations

import numpy as np
import torch

from hoi_sim import rotations as rot
from hoi_sim.humanoid.kinematics import forward_kinematics
from hoi_sim.sim.base import ResetState, SimBackend, SimState
from hoi_sim.skeleton import NUM_BODIES, NUM_DOFS, neutral, neutral_offsets


def _neutral_limits() -> torch.Tensor:
    lim = [j.range for b in neutral().joints[1:] for j in b]
    return torch.tensor(lim, dtype=torch.float32)


class FakeBackend(SimBackend):
    """Kinematic stand-in with the backend interface.

    Args:
        num_envs: N.
        device: torch device of all tensors.
        offsets: skeleton bone offsets [52,3] (m); default the neutral humanoid.
        sim_dt, control_dt: reported time steps (s).
        clamp_to_limits: clamp targets to ``dof_limits`` before writing them.
    """

    name = "fake"

    def __init__(self, num_envs: int = 4, device: str | torch.device = "cpu",
                 offsets: np.ndarray | torch.Tensor | None = None, sim_dt: float = 1.0 / 60.0,
                 control_dt: float = 1.0 / 30.0, clamp_to_limits: bool = True, **_: object) -> None:
        self._n = int(num_envs)
        self._device = torch.device(device)
        self._sim_dt = float(sim_dt)
        self._control_dt = float(control_dt)
        self._clamp = clamp_to_limits
        offs = neutral_offsets() if offsets is None else offsets
        self.offsets = torch.as_tensor(np.asarray(offs), dtype=torch.float32, device=self._device)
        self._limits = _neutral_limits().to(self._device)
        self._r = ResetState.zeros(self._n, self._device, root_height=0.95)
        self._targets = torch.zeros(self._n, NUM_DOFS, device=self._device)
        z3 = torch.zeros(self._n, NUM_BODIES, 3, device=self._device)
        self._body_lin_vel = z3.clone()
        self._body_ang_vel = z3.clone()
        self._contact_obj = torch.zeros(self._n, NUM_BODIES, dtype=torch.bool, device=self._device)
        self._contact_any = self._contact_obj.clone()
        self._force_obj = z3.clone()
        self._force_any = z3.clone()
        self._bad = torch.zeros(self._n, dtype=torch.bool, device=self._device)
        self.steps = 0
        """Number of ``step()`` calls so far."""
        self._body_pos, self._body_quat = self._fk()

    # ---- properties ----
    @property
    def num_envs(self) -> int:
        return self._n

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def sim_dt(self) -> float:
        return self._sim_dt

    @property
    def control_dt(self) -> float:
        return self._control_dt

    @property
    def dof_limits(self) -> torch.Tensor:
        return self._limits.clone()

    # ---- test hooks ----
    def set_contacts(self, contact_obj: torch.Tensor | None = None, contact_any: torch.Tensor | None = None,
                     force_obj: torch.Tensor | None = None, force_any: torch.Tensor | None = None) -> None:
        """Set the reported contact flags [N,52] bool and/or forces [N,52,3] (N)."""
        if contact_obj is not None:
            self._contact_obj = contact_obj.to(self._device, torch.bool).clone()
        if contact_any is not None:
            self._contact_any = contact_any.to(self._device, torch.bool).clone()
        if force_obj is not None:
            self._force_obj = force_obj.to(self._device, torch.float32).clone()
        if force_any is not None:
            self._force_any = force_any.to(self._device, torch.float32).clone()

    def set_bad(self, mask: torch.Tensor) -> None:
        """Mark envs [N] bool as bad (as an exploded physics state would be)."""
        self._bad = mask.to(self._device, torch.bool).clone()

    # ---- interface ----
    def _fk(self) -> tuple[torch.Tensor, torch.Tensor]:
        return forward_kinematics(self._r.root_pos, self._r.root_quat, self._r.dof_pos, self.offsets)

    def reset(self, env_ids: torch.Tensor, state: ResetState) -> None:
        env_ids = env_ids.to(self._device, torch.long)
        self._check_reset(env_ids, state)
        s = state.to(self._device)
        for name in ResetState.__dataclass_fields__:
            getattr(self._r, name)[env_ids] = getattr(s, name)
        self._r.root_quat[env_ids] = rot.quat_normalize(self._r.root_quat[env_ids])
        self._r.obj_quat[env_ids] = rot.quat_normalize(self._r.obj_quat[env_ids])
        self._targets[env_ids] = s.dof_pos
        self._bad[env_ids] = False
        self._contact_obj[env_ids] = False
        self._contact_any[env_ids] = False
        self._force_obj[env_ids] = 0.0
        self._force_any[env_ids] = 0.0
        self._body_pos, self._body_quat = self._fk()
        # body velocities of reset envs: root motion only (rigid transport of the whole body)
        rel = self._body_pos[env_ids] - s.root_pos[:, None]
        self._body_ang_vel[env_ids] = s.root_ang_vel[:, None].expand(-1, NUM_BODIES, -1)
        self._body_lin_vel[env_ids] = s.root_lin_vel[:, None] + torch.cross(
            self._body_ang_vel[env_ids], rel, dim=-1)

    def set_pd_targets(self, targets: torch.Tensor) -> None:
        self._check_targets(targets)
        self._targets = targets.to(self._device, torch.float32).clone()

    def step(self) -> None:
        dt = self._control_dt
        r = self._r
        new_dof = self._targets
        if self._clamp:
            new_dof = torch.minimum(torch.maximum(new_dof, self._limits[:, 0]), self._limits[:, 1])
        r.dof_vel = (new_dof - r.dof_pos) / dt
        r.dof_pos = new_dof.clone()
        r.root_pos = r.root_pos + r.root_lin_vel * dt
        r.root_quat = _integrate_quat(r.root_quat, r.root_ang_vel, dt)
        r.obj_pos = r.obj_pos + r.obj_lin_vel * dt
        r.obj_quat = _integrate_quat(r.obj_quat, r.obj_ang_vel, dt)
        old_pos, old_quat = self._body_pos, self._body_quat
        self._body_pos, self._body_quat = self._fk()
        self._body_lin_vel = (self._body_pos - old_pos) / dt
        dq = rot.quat_mul(self._body_quat, rot.quat_conj(old_quat))
        self._body_ang_vel = rot.quat_to_axis_angle(dq) / dt
        self.steps += 1

    def state(self) -> SimState:
        r = self._r
        return SimState(
            root_pos=r.root_pos.clone(), root_quat=r.root_quat.clone(), root_lin_vel=r.root_lin_vel.clone(),
            root_ang_vel=r.root_ang_vel.clone(), dof_pos=r.dof_pos.clone(), dof_vel=r.dof_vel.clone(),
            obj_pos=r.obj_pos.clone(), obj_quat=r.obj_quat.clone(), obj_lin_vel=r.obj_lin_vel.clone(),
            obj_ang_vel=r.obj_ang_vel.clone(), body_pos=self._body_pos.clone(), body_quat=self._body_quat.clone(),
            body_lin_vel=self._body_lin_vel.clone(), body_ang_vel=self._body_ang_vel.clone(),
            contact_obj=self._contact_obj.clone(), contact_any=self._contact_any.clone(),
            force_obj=self._force_obj.clone(), force_any=self._force_any.clone(), bad=self._bad.clone())


def _integrate_quat(q: torch.Tensor, omega: torch.Tensor, dt: float) -> torch.Tensor:
    """Rotate ``q`` [N,4] by the world angular velocity ``omega`` [N,3] (rad/s) over ``dt`` (s)."""
    return rot.quat_normalize(rot.quat_mul(rot.axis_angle_to_quat(omega * dt), q))
