"""Backend interface and the state dataclasses every simulator speaks (DESIGN §5.3, docs/contracts.md).

Conventions: z-up world, metres, seconds, radians; quaternions wxyz; batch first; torch float32 tensors on the
backend's device; body order ``skeleton.BODY_NAMES`` (52), DOF order ``skeleton.DOF_NAMES`` (153). All linear and
angular velocities are expressed in the **world** frame (angular velocity of the root too, as in Isaac Gym), body
velocities are those of the body frame origin. A backend that stores bodies or DOFs in another order reorders them
once, by name, at construction (ProtoMotions' simulator split).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields

import torch

from hoi_sim.skeleton import BODY_NAMES, DOF_NAMES, NUM_BODIES, NUM_DOFS


def _check_shape(name: str, t: torch.Tensor, shape: tuple[int, ...]) -> None:
    if tuple(t.shape) != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {tuple(t.shape)}")


@dataclass
class ResetState:
    """State written into the envs named by ``env_ids`` on ``reset`` (n = len(env_ids)).

    Fields (torch, float32, backend device):
        root_pos [n,3] (m), root_quat [n,4] (wxyz), root_lin_vel [n,3] (m/s, world), root_ang_vel [n,3] (rad/s, world),
        dof_pos [n,153] (rad), dof_vel [n,153] (rad/s),
        obj_pos [n,3] (m), obj_quat [n,4] (wxyz), obj_lin_vel [n,3] (m/s, world), obj_ang_vel [n,3] (rad/s, world).
    """

    root_pos: torch.Tensor
    root_quat: torch.Tensor
    root_lin_vel: torch.Tensor
    root_ang_vel: torch.Tensor
    dof_pos: torch.Tensor
    dof_vel: torch.Tensor
    obj_pos: torch.Tensor
    obj_quat: torch.Tensor
    obj_lin_vel: torch.Tensor
    obj_ang_vel: torch.Tensor

    @property
    def num(self) -> int:
        """Number of envs this state describes (the leading dimension)."""
        return int(self.root_pos.shape[0])

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field with a wrong shape."""
        n = self.num
        for f in fields(ResetState):
            t = getattr(self, f.name)
            last = NUM_DOFS if f.name.startswith("dof") else (4 if f.name.endswith("quat") else 3)
            _check_shape(f.name, t, (n, last))

    def to(self, device: torch.device | str) -> ResetState:
        """Copy of the ResetState part on ``device`` as float32."""
        return ResetState(**{f.name: getattr(self, f.name).to(device=device, dtype=torch.float32)
                             for f in fields(ResetState)})

    def select(self, idx: torch.Tensor | slice | list[int]) -> ResetState:
        """The ResetState part for a subset of envs (works on a SimState too, giving the state to reset into)."""
        return ResetState(**{f.name: getattr(self, f.name)[idx] for f in fields(ResetState)})

    @classmethod
    def zeros(cls, n: int, device: torch.device | str = "cpu", root_height: float = 0.0) -> ResetState:
        """Identity pose at the origin (root at ``root_height``), object at the origin, everything at rest."""
        def z(*s: int) -> torch.Tensor:
            return torch.zeros(*s, device=device)
        q = z(n, 4)
        q[:, 0] = 1.0
        rp = z(n, 3)
        rp[:, 2] = root_height
        return cls(rp, q.clone(), z(n, 3), z(n, 3), z(n, NUM_DOFS), z(n, NUM_DOFS), z(n, 3), q.clone(), z(n, 3),
                   z(n, 3))


@dataclass
class SimState(ResetState):
    """Full state of all N envs after a step (or a reset). Fields of ``ResetState`` for all N envs, plus:

        body_pos [N,52,3] (m), body_quat [N,52,4] (wxyz), body_lin_vel [N,52,3] (m/s, world, at the body origin),
        body_ang_vel [N,52,3] (rad/s, world),
        contact_obj [N,52] bool: the body touches the object (net contact force with the object above threshold),
        contact_any [N,52] bool: the body touches anything (object, ground, other bodies when self-collision is on),
        force_obj [N,52,3] (N, world): net contact force on the body from the object,
        force_any [N,52,3] (N, world): net contact force on the body from everything; after a step, contacts and
        forces are those of the last physics substep (as Isaac Gym reports them), after a reset those of the state,
        bad [N] bool: the env's physics state is invalid (NaN/inf, exploded or reset by the engine); such an env
        must be reset by the caller; the other envs are unaffected.
    """

    body_pos: torch.Tensor = None  # type: ignore[assignment]
    body_quat: torch.Tensor = None  # type: ignore[assignment]
    body_lin_vel: torch.Tensor = None  # type: ignore[assignment]
    body_ang_vel: torch.Tensor = None  # type: ignore[assignment]
    contact_obj: torch.Tensor = None  # type: ignore[assignment]
    contact_any: torch.Tensor = None  # type: ignore[assignment]
    force_obj: torch.Tensor = None  # type: ignore[assignment]
    force_any: torch.Tensor = None  # type: ignore[assignment]
    bad: torch.Tensor = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n = self.num
        for f in fields(SimState):
            if f.name != "bad" and getattr(self, f.name) is None:
                raise ValueError(f"SimState.{f.name} is required")
        if self.bad is None:
            self.bad = torch.zeros(n, dtype=torch.bool, device=self.root_pos.device)

    def validate(self) -> None:
        """Shape check of every field (raises ``ValueError``)."""
        super().validate()
        n = self.num
        for name in ("body_pos", "body_lin_vel", "body_ang_vel", "force_obj", "force_any"):
            _check_shape(name, getattr(self, name), (n, NUM_BODIES, 3))
        _check_shape("body_quat", self.body_quat, (n, NUM_BODIES, 4))
        for name in ("contact_obj", "contact_any"):
            _check_shape(name, getattr(self, name), (n, NUM_BODIES))
        _check_shape("bad", self.bad, (n,))


class SimBackend(ABC):
    """One vectorized simulator of N envs, each a humanoid (52 bodies, 153 hinge DOFs, free root) and one object.

    Usage: ``reset(env_ids, ResetState)`` → ``set_pd_targets(targets)`` → ``step()`` → ``state()``; repeat.
    ``step()`` advances every env by one control step (``control_dt``); the backend owns the substep loop.
    """

    name: str = "base"
    host_threads: int = 1
    """CPU threads the backend steps on; idle while the env does its own work between steps, so the env's CPU
    searches may use as many."""

    # ---- timing ----------------------------------------------------------------------------------------------
    @property
    @abstractmethod
    def num_envs(self) -> int:
        """Number of parallel envs N."""

    @property
    @abstractmethod
    def device(self) -> torch.device:
        """Torch device of every tensor this backend returns and accepts."""

    @property
    @abstractmethod
    def sim_dt(self) -> float:
        """Table 7 "sim dt" (s): one simulation step, itself split into ``substeps`` physics steps."""

    @property
    @abstractmethod
    def control_dt(self) -> float:
        """Time (s) advanced by one ``step()``."""

    @property
    def physics_dt(self) -> float:
        """Integrator time step (s) = sim_dt / substeps (default: sim_dt)."""
        return self.sim_dt

    # ---- names and limits ------------------------------------------------------------------------------------
    @property
    def body_names(self) -> tuple[str, ...]:
        """The 52 body names in the order of every [N,52,…] tensor."""
        return BODY_NAMES

    @property
    def dof_names(self) -> tuple[str, ...]:
        """The 153 DOF names in the order of every [N,153] tensor."""
        return DOF_NAMES

    @property
    @abstractmethod
    def dof_limits(self) -> torch.Tensor:
        """[153, 2] (rad) lower and upper joint limit of each DOF."""

    # ---- simulation ------------------------------------------------------------------------------------------
    @abstractmethod
    def reset(self, env_ids: torch.Tensor, state: ResetState) -> None:
        """Write ``state`` (n envs) into the envs ``env_ids`` [n] long; bodies follow by forward kinematics.

        The reset envs' PD targets are set to ``state.dof_pos`` and their ``bad`` flag is cleared.
        """

    @abstractmethod
    def set_pd_targets(self, targets: torch.Tensor) -> None:
        """PD position targets [N,153] (rad), held for the next ``step()`` calls."""

    @abstractmethod
    def step(self) -> None:
        """Advance all envs by one control step (``control_dt``)."""

    @abstractmethod
    def state(self) -> SimState:
        """Current state of all N envs (fresh tensors or views that stay valid until the next ``step``/``reset``)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release threads or device memory (optional)."""

    def _check_targets(self, targets: torch.Tensor) -> None:
        _check_shape("targets", targets, (self.num_envs, NUM_DOFS))

    def _check_reset(self, env_ids: torch.Tensor, state: ResetState) -> None:
        state.validate()
        if env_ids.dim() != 1 or int(env_ids.shape[0]) != state.num:
            raise ValueError(f"env_ids: expected shape ({state.num},), got {tuple(env_ids.shape)}")
        if state.num and (int(env_ids.min()) < 0 or int(env_ids.max()) >= self.num_envs):
            raise ValueError(f"env_ids out of range [0, {self.num_envs})")


class MjBackendBase(SimBackend):
    """Shared properties of the MuJoCo-model backends (``mujoco``, ``mjwarp``): they keep ``_n`` envs on
    ``_device``, a :class:`~hoi_sim.sim.config.SimConfig` as ``cfg`` and the compiled ``MjModel`` as ``model``."""

    _n: int
    _device: torch.device

    @property
    def num_envs(self) -> int:
        return self._n

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def sim_dt(self) -> float:
        return self.cfg.sim_dt

    @property
    def control_dt(self) -> float:
        return self.cfg.control_dt

    @property
    def physics_dt(self) -> float:
        return float(self.model.opt.timestep)

