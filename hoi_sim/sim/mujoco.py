"""CPU backend: N simulations in a ``mujoco.batch.Batch`` stepped on its own thread pool, each on the ``MjModel``
of its env's asset group.

Per-env assets: ``groups`` (``sim.mujoco_assets.SceneAssets``: skeleton, object hulls, mass mode) are compiled one
scene each, padded to one ``MjData`` layout (``sim.mujoco_assets``), and env i runs on group ``env_group[i]``'s
scene (``Batch.set_models``; default rule: round-robin, env i → group i mod G). ``models[g]`` is group g's scene;
``model``, ``index`` and ``object_mass`` are group 0's (every group shares ``index``). With one group (``offsets`` /
``hulls`` / ``motion_mass_mode``, as before) no models are set and results are those of a one-model batch.

One ``step()`` = one control step = ``decimation × substeps`` (2 × 4 = 8) calls of ``mj_step`` (1/240 s each) with
the PD targets held; the batch then computes the position and velocity stages at the new state (``Batch.step``'s
``stage=mjSTAGE_VEL``: kinematics, collision and velocities, no constraint solve). Bodies and velocities are therefore
those of the new state; contact forces are those of the last physics substep (its constraint solve), as Isaac Gym
reports to InterMimic. Everything runs inside the batch's threads, and every quantity the backend reports comes out
of the batch as one ``[N, …]`` array (its bound outputs), so no Python loop runs over the envs. Results are
bit-identical to stepping each env's ``MjData`` with ``mj_step`` (``tests/integration/test_mujoco_backend.py``),
warm start included. A reset runs ``mj_forward`` at the new state, so its contact forces are those of that state.

Contacts: per humanoid body, two MuJoCo ``contact`` sensors (``reduce="netforce"``, ``data="force"``) give the net
world-frame force between that body and the object (``force_obj``) and between it and everything (``force_any``:
ground, object, other bodies when self-collision is on), equal to summing ``mj_contactForce`` over the active
contacts (``sim.mujoco_contacts`` decodes them). The sensors live in the batch's copy of each scene and are switched
on (``opt.disableflags``) only for the last physics substep of a control step and the forward of a reset, so the
other substeps do not pay for them; ``model`` is the sensor-free scene. A body is "in contact" when a component of
its net force exceeds ``contact_force_threshold`` (0.1 N), InterMimic's rule.

Bad envs: an env whose state is non-finite or huge (after a reset or a step), in which MuJoCo raised an error, or
which MuJoCo reset itself during the step (its clock then disagrees with ours), gets ``bad[i] = True``; it is
frozen (left out of the steps) until the caller resets it. The other envs are independent and unaffected.
MuJoCo's warnings go to this module's logger.

``datas`` gives one ``MjData`` per env (state, contacts, ``efc_force`` …) for inspection, built from the batch
when it is read (``mj_forward`` at the current state); writes to its state (``qpos``, ``qvel`` …) are taken into the
next ``step()`` or ``reset()``.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence

import mujoco
import mujoco.batch
import numpy as np
import torch

from hoi_sim.errors import InputError
from hoi_sim.objects.hulls import ConvexHull
from hoi_sim.sim.base import MjBackendBase, ResetState, SimState
from hoi_sim.sim.config import SimConfig
from hoi_sim.sim.mujoco_assets import SceneAssets, build_group_models
from hoi_sim.sim.table7 import describe_mapping
from hoi_sim.skeleton import NUM_BODIES
from hoi_sim.threads import usable_cores

log = logging.getLogger(__name__)

_STATE = mujoco.mjtState.mjSTATE_INTEGRATION  # a batch row: everything the forward dynamics reads
_SENSORS_OFF = int(mujoco.mjtDisableBit.mjDSBL_SENSOR)
_ACC = int(mujoco.mjtStage.mjSTAGE_ACC)
_VEL = int(mujoco.mjtStage.mjSTAGE_VEL)
_NONE = int(mujoco.mjtStage.mjSTAGE_NONE)
_UNSTABLE = [int(w) for w in (mujoco.mjtWarning.mjWARN_BADQPOS, mujoco.mjtWarning.mjWARN_BADQVEL,
                              mujoco.mjtWarning.mjWARN_BADQACC)]
"""Warnings after which MuJoCo has reset a simulation's data."""
MAX_ABS_QVEL = 1e4
"""|qvel| above this (m/s or rad/s) marks an env as exploded."""


def _mujoco_warning(msg: str) -> None:
    log.warning("MuJoCo: %s", msg)


def route_mujoco_warnings() -> None:
    """Send MuJoCo's warnings to the ``hoi_sim.sim.mujoco`` logger instead of stdout and ./MUJOCO_LOG.TXT
    (only when no other handler is installed; the handler is called from rollout threads too)."""
    if mujoco.get_mju_user_warning() is None:
        mujoco.set_mju_user_warning(_mujoco_warning)


def _quat_rotate_np(q: np.ndarray, v: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Rotate vectors v [...,3] by unit quaternions q [...,4] (wxyz); ``inverse`` rotates by q⁻¹."""
    w, u = q[..., :1], q[..., 1:]
    if inverse:
        u = -u
    t = 2.0 * _cross(u, v)
    return v + w * t + _cross(u, t)


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (faster than ``np.cross`` on small arrays)."""
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    return np.stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)


def _env_groups(env_group: Sequence[int] | np.ndarray | torch.Tensor | None, n: int, groups: int) -> np.ndarray:
    """[n] asset group of each env: as given, or round-robin (env i → group i mod G)."""
    g = np.arange(n) % groups if env_group is None else np.asarray(torch.as_tensor(env_group).cpu(), np.int64)
    if g.shape != (n,) or (g < 0).any() or (g >= groups).any():
        raise InputError(f"env_group must hold {n} group ids in [0, {groups})")
    return g


class MujocoBackend(MjBackendBase):
    """MuJoCo (C engine) backend for N envs on the CPU.

    Args:
        num_envs: N (default: ``cfg.num_envs``).
        groups: per-env assets, one ``SceneAssets`` per asset group (None: one group of ``offsets``, ``hulls``,
            ``motion_mass_mode``).
        env_group: [N] group of each env (default round-robin); read back as ``env_group`` (long tensor).
        offsets: humanoid skeleton bone offsets [52,3] (m); None = neutral.
        hulls: the object's convex parts (object frame); None = a 30 cm box.
        cfg: physics settings; default Table 7 + ``cfg/sim/mujoco.yaml``.
        motion_mass_mode: ``dynamic`` / ``static`` (the motion's), used with ``cfg.mass_mode == "fixed"``.
        device: torch device of returned tensors (computation is on the CPU).
        nthread: batch threads, the caller's included (default ``cfg.nthread``; 0 = one per CPU core).
    """

    name = "mujoco"

    def __init__(self, num_envs: int | None = None, *, offsets: np.ndarray | None = None,
                 hulls: list[ConvexHull] | None = None, cfg: SimConfig | None = None,
                 motion_mass_mode: str = "dynamic", device: str | torch.device = "cpu",
                 nthread: int | None = None, log_mapping: bool = True, groups: Sequence[SceneAssets] | None = None,
                 env_group: Sequence[int] | np.ndarray | torch.Tensor | None = None) -> None:
        route_mujoco_warnings()
        self.cfg = cfg or SimConfig.for_backend("mujoco")
        self._n = n = int(num_envs if num_envs is not None else self.cfg.num_envs)
        self._device = torch.device(device)
        assets = list(groups) if groups else [SceneAssets(offsets, hulls, motion_mass_mode)]
        built = build_group_models(assets, self.cfg)
        self.models = [g.model for g in built]  # the scenes themselves (no sensors): what users and benchmarks step
        self.model, self.index, self.object_mass = built[0].model, built[0].index, built[0].mass  # group 0's
        self.object_masses = [g.mass for g in built]
        self._group = _env_groups(env_group, n, len(built))
        self.env_group = torch.as_tensor(self._group, dtype=torch.long, device=self._device)
        m, ix = self.model, self.index
        self._nstep = self.cfg.physics_steps_per_control
        k = nthread if nthread is not None else self.cfg.nthread
        self.host_threads = max(1, min(k or usable_cores(), n))
        for g in built:  # the batch runs the sensed scenes: contact sensors off while stepping
            g.sensed.opt.disableflags |= _SENSORS_OFF
        self._batch = b = mujoco.batch.Batch(built[0].sensed, n, nthread=self.host_threads)
        if b.nstate != mujoco.mj_stateSize(m, _STATE):
            raise AssertionError("contact sensors changed the state layout")
        self._sensor_switch(built, assets)
        # live views of the state rows (writable) and of the outputs (refreshed after every call)
        self._time, self._qpos, self._qvel = b.bind("time"), b.bind("qpos"), b.bind("qvel")
        self._ctrl_rows = b.bind("ctrl")
        self._xpos, self._xquat, self._cvel = b.bind("xpos"), b.bind("xquat"), b.bind("cvel")
        self._subtree_com = b.bind("subtree_com")
        self._sensordata = b.bind("sensordata")
        self._ctrl = np.zeros((n, m.nu))
        self._clock = np.zeros(n)  # our own clock per env, to spot engine-side resets
        self._bad = np.zeros(n, dtype=bool)
        self._limits = torch.as_tensor(m.jnt_range[ix.dof_joint], dtype=torch.float32)
        self._hum_bodies = ix.body_ids
        self._root_sub = m.body_rootid[ix.body_ids]
        self._datas: list[mujoco.MjData] | None = None
        self._datas_out = False  # datas were handed out since the last step/reset: take their state back
        self._state: SimState | None = None
        self._default = self.default_state(n)
        self.reset(torch.arange(n), self._default)
        if log_mapping:
            log.info("mujoco backend: %d envs, %d threads, %d asset group(s) (%s), nq %d nv %d ngeom %d, object %s\n%s",
                     n, self.host_threads, len(assets), ", ".join(a.label for a in assets), m.nq, m.nv, m.ngeom,
                     self.object_mass.rule, describe_mapping("mujoco"))

    def _sensor_switch(self, built: list, assets: list[SceneAssets]) -> None:
        """How the contact sensors go on for the last substep (and a reset's forward) and off for the others: one group
        flips the
        batch's per-simulation ``opt.disableflags``; several run env i on its group's sensed scene
        (``Batch.set_models``), a sensors-off and a sensors-on copy of each, swapped per call (~20 µs)."""
        if len(built) == 1:
            self._flags = self._batch.expand("opt.disableflags")
            self._flags_step = self._flags.copy()
            self._flags_forward = self._flags_step & ~_SENSORS_OFF
            self._models_step = self._models_forward = None
            return
        on = [copy.copy(g.sensed) for g in built]
        for mm in on:
            mm.opt.disableflags &= ~_SENSORS_OFF
        self._models_step = [built[g].sensed for g in self._group]
        self._models_forward = [on[g] for g in self._group]
        try:
            self._batch.set_models(self._models_step)
        except mujoco.FatalError as e:  # "model i does not give mjData the batch model's layout"
            raise InputError(f"{assets[0].label} and the other asset groups cannot be simulated in one batch: "
                             f"{e}") from e

    def _sensors(self, on: bool) -> None:
        if self._models_step is None:
            self._flags[:] = self._flags_forward if on else self._flags_step
        else:
            self._batch.set_models(self._models_forward if on else self._models_step)

    # ---- properties ----
    @property
    def dof_limits(self) -> torch.Tensor:
        return self._limits.to(self._device)

    @property
    def datas(self) -> list[mujoco.MjData]:
        """One ``MjData`` of ``model`` per env, with the env's state and everything ``mj_forward`` derives from it
        (contacts, ``efc_force`` …) at the current state, so after a step its contacts are one substep later than
        the ``SimState``'s. Made on each read after a step or reset (it costs N ``mj_forward``); state written into
        it (``qpos``, ``qvel``, ``qacc_warmstart`` …) becomes the env's state at the next ``step()``/``reset()``
        (``ctrl`` comes from the PD targets)."""
        if self._datas is None:
            self._datas = [mujoco.MjData(self.model) for _ in range(self._n)]
        if not self._datas_out:
            rows = self._batch.state
            for i, d in enumerate(self._datas):
                mi = self.models[self._group[i]]
                mujoco.mj_setState(mi, d, rows[i], _STATE)
                mujoco.mj_forward(mi, d)
            self._datas_out = True
        return self._datas

    def _take_back_datas(self) -> None:
        """Copy the handed-out ``datas``' states into the batch rows (they may have been written)."""
        if self._datas_out and self._datas is not None:
            rows = self._batch.state
            for i, d in enumerate(self._datas):
                mujoco.mj_getState(self.models[self._group[i]], d, rows[i], _STATE)
        self._datas_out = False

    def default_state(self, n: int) -> ResetState:
        """Standing zero pose at the origin, the object at rest on the ground 1.5 m in front (+x)."""
        from hoi_sim.sim.humanoid_spec import HUMANOID_ROOT_HEIGHT

        s = ResetState.zeros(n, root_height=HUMANOID_ROOT_HEIGHT + 0.002)
        s.obj_pos[:, 0] = 1.5
        models = getattr(self, "models", [self.model])  # (mjwarp borrows this method: one model)
        heights = torch.tensor([self._object_rest_height(mm) for mm in models], dtype=s.obj_pos.dtype)
        s.obj_pos[:, 2] = heights[self.env_group.cpu()] if len(models) > 1 and n == self._n else heights[0]
        return s

    def _object_rest_height(self, model: mujoco.MjModel | None = None) -> float:
        m = model if model is not None else self.model
        d = mujoco.MjData(m)
        mujoco.mj_kinematics(m, d)
        ix = self.index
        lo = np.inf
        for g in np.flatnonzero(ix.geom_is_object):
            mid = int(m.geom_dataid[g])
            va, nv = m.mesh_vertadr[mid], m.mesh_vertnum[mid]
            v = m.mesh_vert[va:va + nv] @ d.geom_xmat[g].reshape(3, 3).T + d.geom_xpos[g]
            lo = min(lo, float(v[:, 2].min()))
        return float(d.xpos[ix.obj_body, 2] - lo)

    # ---- interface ----
    def reset(self, env_ids: torch.Tensor, state: ResetState) -> None:
        env_ids = torch.as_tensor(env_ids).to("cpu", torch.long)
        self._check_reset(env_ids, state)
        self._take_back_datas()
        self._state = None
        if env_ids.numel() == 0:
            return
        s = {k: v.detach().to("cpu", torch.float64).numpy() for k, v in state.to("cpu").__dict__.items()}
        ids = env_ids.numpy()
        # the batch wants sorted unique ids; a repeated id takes its last state, as sequential resets would
        ids, last = np.unique(ids[::-1], return_index=True)
        rows = len(env_ids) - 1 - last
        s = {k: v[rows] for k, v in s.items()}
        ix, b = self.index, self._batch
        b.reset(ids, stage=_NONE)  # model defaults (mj_resetData), then the state below, then one forward
        rq = s["root_quat"] / np.maximum(np.linalg.norm(s["root_quat"], axis=-1, keepdims=True), 1e-12)
        oq = s["obj_quat"] / np.maximum(np.linalg.norm(s["obj_quat"], axis=-1, keepdims=True), 1e-12)
        qpos, qvel = self._qpos[ids], self._qvel[ids]
        qpos[:, ix.root_qpos:ix.root_qpos + 3] = s["root_pos"]
        qpos[:, ix.root_qpos + 3:ix.root_qpos + 7] = rq
        qpos[:, ix.dof_qpos] = s["dof_pos"]
        qpos[:, ix.obj_qpos:ix.obj_qpos + 3] = s["obj_pos"]
        qpos[:, ix.obj_qpos + 3:ix.obj_qpos + 7] = oq
        # free joints: linear velocity in world, angular velocity in the body frame
        qvel[:, ix.root_qvel:ix.root_qvel + 3] = s["root_lin_vel"]
        qvel[:, ix.root_qvel + 3:ix.root_qvel + 6] = _quat_rotate_np(rq, s["root_ang_vel"], inverse=True)
        qvel[:, ix.dof_qvel] = s["dof_vel"]
        qvel[:, ix.obj_qvel:ix.obj_qvel + 3] = s["obj_lin_vel"]
        qvel[:, ix.obj_qvel + 3:ix.obj_qvel + 6] = _quat_rotate_np(oq, s["obj_ang_vel"], inverse=True)
        self._qpos[ids], self._qvel[ids] = qpos, qvel
        self._ctrl[ids[:, None], ix.ctrl] = s["dof_pos"]
        self._ctrl_rows[ids] = self._ctrl[ids]
        self._clock[ids] = 0.0
        self._bad[ids] = False
        unstable = self._unstable_count()
        self._forward(ids)
        self._flag_bad(self._unstable_count() > unstable)  # a non-finite state is reset by MuJoCo and flagged

    def set_pd_targets(self, targets: torch.Tensor) -> None:
        self._check_targets(targets)
        self._ctrl[:, self.index.ctrl] = targets.detach().to("cpu", torch.float64).numpy()

    def step(self) -> None:
        dt = self.model.opt.timestep
        self._take_back_datas()
        self._state = None
        self._clock += self._nstep * dt
        run = np.flatnonzero(~self._bad)  # bad envs stay frozen until the caller resets them
        if not len(run):
            return
        self._ctrl_rows[run] = self._ctrl[run]
        unstable = self._unstable_count()
        failed = np.zeros(self._n, dtype=bool)
        if self._nstep > 1:
            run = self._batch_step(run, self._nstep - 1, sensors=False, failed=failed, stage=_NONE)
        self._batch_step(run, 1, sensors=True, failed=failed, stage=_VEL)
        # MuJoCo resets unstable data (warning counters rise, and its clock restarts)
        engine_reset = failed | (self._unstable_count() > unstable)
        run = np.flatnonzero(~self._bad & ~failed)
        engine_reset[run] |= np.abs(self._time[run] - self._clock[run]) > 0.5 * dt
        self._flag_bad(engine_reset)

    def _batch_step(self, run: np.ndarray, nstep: int, sensors: bool, failed: np.ndarray, stage: int) -> np.ndarray:
        """``nstep`` physics steps of envs ``run`` (with the contact sensors on when ``sensors``), then the forward
        stages up to ``stage`` at the new state; envs in which MuJoCo raised keep their state from before the call
        and are marked in ``failed``. Returns the envs that stepped."""
        ids = None if len(run) == self._n else run
        if sensors:
            self._sensors(True)
        try:
            self._batch.step(ids, nstep=nstep, stage=stage)
        except mujoco.batch.SimulationError as e:  # those envs kept their previous state
            log.warning("mujoco backend: MuJoCo raised in env(s) %s: %s", e.ids.tolist(), e)
            failed[e.ids] = True
            run = run[~failed[run]]
        finally:
            if sensors:
                self._sensors(False)
        return run

    def _unstable_count(self) -> np.ndarray:
        """[N] number of instability warnings (bad qpos/qvel/qacc) MuJoCo has issued per env."""
        return self._batch.warning[:, _UNSTABLE, 1].sum(-1)

    def _forward(self, ids: np.ndarray | None) -> None:
        """``mj_forward`` of envs ``ids`` (None: all) with the contact sensors on."""
        self._sensors(True)
        try:
            self._batch.forward(ids, stage=_ACC)
        except mujoco.batch.SimulationError as e:
            log.warning("mujoco backend: MuJoCo raised in env(s) %s: %s", e.ids.tolist(), e)
            self._bad[e.ids] = True
        finally:
            self._sensors(False)

    def _flag_bad(self, engine_reset: np.ndarray) -> None:
        q, v = self._qpos, self._qvel
        finite = np.isfinite(q).all(1) & np.isfinite(v).all(1)
        huge = ~(np.abs(np.nan_to_num(v, nan=np.inf)) <= MAX_ABS_QVEL).all(1)
        newly = (engine_reset | ~finite | huge) & ~self._bad
        if newly.any():
            log.warning("mujoco backend: env(s) %s became unstable; reset them", np.flatnonzero(newly).tolist())
        self._bad |= newly

    def state(self) -> SimState:
        """The state after the last step/reset (built once per step; fresh tensors each step)."""
        if self._state is None:
            self._state = self._build_state()
        return self._state

    def _build_state(self) -> SimState:
        ix, dev = self.index, self._device

        def t(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.asarray(x, dtype=np.float32)).to(dev)

        q, v = self._qpos, self._qvel
        hb = self._hum_bodies
        body_pos = self._xpos[:, hb]
        cvel = self._cvel[:, hb]  # (ang, lin) at the tree's subtree com, world axes
        root_q = q[:, ix.root_qpos + 3:ix.root_qpos + 7]
        obj_q = q[:, ix.obj_qpos + 3:ix.obj_qpos + 7]
        ang = cvel[..., :3]
        lin = cvel[..., 3:] + _cross(ang, body_pos - self._subtree_com[:, self._root_sub])  # at the body origin
        obj_ang = _quat_rotate_np(obj_q, v[:, ix.obj_qvel + 3:ix.obj_qvel + 6])  # free joint: local → world
        force = self._sensordata.reshape(self._n, NUM_BODIES, 2, 3)
        force_obj, force_any = -force[:, :, 0], -force[:, :, 1]  # the sensors give the force on the other side
        thr = self.cfg.contact_force_threshold
        return SimState(
            root_pos=t(q[:, ix.root_qpos:ix.root_qpos + 3]), root_quat=t(root_q),
            root_lin_vel=t(v[:, ix.root_qvel:ix.root_qvel + 3]), root_ang_vel=t(ang[:, 0]),
            dof_pos=t(q[:, ix.dof_qpos]), dof_vel=t(v[:, ix.dof_qvel]),
            obj_pos=t(q[:, ix.obj_qpos:ix.obj_qpos + 3]), obj_quat=t(obj_q),
            obj_lin_vel=t(v[:, ix.obj_qvel:ix.obj_qvel + 3]), obj_ang_vel=t(obj_ang),
            body_pos=t(body_pos), body_quat=t(self._xquat[:, hb]), body_lin_vel=t(lin), body_ang_vel=t(ang),
            contact_obj=torch.from_numpy((np.abs(force_obj) > thr).any(-1)).to(dev),
            contact_any=torch.from_numpy((np.abs(force_any) > thr).any(-1)).to(dev),
            force_obj=t(force_obj), force_any=t(force_any),
            bad=torch.from_numpy(self._bad.copy()).to(dev))

    def close(self) -> None:
        """Nothing to release: the batch's threads go with it."""


__all__ = ["MujocoBackend"]
