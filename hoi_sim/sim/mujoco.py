"""CPU backend: one ``MjModel``, N simulations in a ``mujoco.batch.Batch`` stepped on its own thread pool.

One ``step()`` = one control step = ``decimation × substeps`` (2 × 4 = 8) physics steps of 1/240 s with the PD
targets held, then ``mj_forward`` at the new state, so that bodies, velocities and contact forces are consistent
with it (no one-step lag). Both run inside the batch's threads (``Batch.step`` then ``Batch.forward``), and every
quantity the backend reports comes out of the batch as one ``[N, …]`` array (its bound outputs), so no Python
loop runs over the envs. Results are bit-identical to stepping each env's ``MjData`` with ``mujoco.rollout`` and
calling ``mj_forward`` on it (``tests/integration/test_mujoco_backend.py``); the solver's warm start follows that
scheme too: the post-step ``mj_forward`` starts from the previous one's accelerations, the next step from its own.

Contacts: per humanoid body, two MuJoCo ``contact`` sensors (``reduce="netforce"``, ``data="force"``) give the net
world-frame force between that body and the object (``force_obj``) and between it and everything (``force_any``:
ground, object, other bodies when self-collision is on), equal to summing ``mj_contactForce`` over the active
contacts. The sensors live in the batch's copy of the scene and are switched on (``opt.disableflags``) only for
the post-step ``mj_forward``, so the physics steps do not pay for them; ``model`` is the sensor-free scene. A body
is "in contact" when a component of its net force exceeds ``contact_force_threshold`` (0.1 N), InterMimic's rule.

Bad envs: an env whose state is non-finite or huge (after a reset or a step), in which MuJoCo raised an error, or
which MuJoCo reset itself during the step (its clock then disagrees with ours), gets ``bad[i] = True``; it is
frozen (left out of the steps) until the caller resets it. The other envs are independent and unaffected.
MuJoCo's warnings go to this module's logger.

``datas`` gives one ``MjData`` per env (state, contacts, ``efc_force`` …) for inspection, built from the batch
when it is read (``mj_forward``, as after a step); writes to its state (``qpos``, ``qvel`` …) are taken into the
next ``step()`` or ``reset()``.
"""

from __future__ import annotations

import functools
import logging
import os

import mujoco
import mujoco.batch
import numpy as np
import torch

from hoi_sim.errors import InputError
from hoi_sim.objects.hulls import ConvexHull
from hoi_sim.sim.base import MjBackendBase, ResetState, SimState
from hoi_sim.sim.config import SimConfig
from hoi_sim.sim.scene import OBJECT_BODY, SceneIndex, build_scene_spec
from hoi_sim.sim.table7 import describe_mapping
from hoi_sim.skeleton import BODY_NAMES, NUM_BODIES

log = logging.getLogger(__name__)

_STATE = mujoco.mjtState.mjSTATE_INTEGRATION  # a batch row: everything the forward dynamics reads
_SENSORS_OFF = int(mujoco.mjtDisableBit.mjDSBL_SENSOR)
_ACC = int(mujoco.mjtStage.mjSTAGE_ACC)
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


@functools.cache
def _netforce_intprm() -> tuple[int, ...]:
    """``sensor_intprm`` of a contact sensor with ``data="force" reduce="netforce" num="1"``, read from MuJoCo's
    own XML compiler (the enum behind ``reduce`` has no Python name)."""
    xml = ('<mujoco><worldbody><body name="a"><freejoint/><geom size=".1"/></body></worldbody><sensor>'
           '<contact body1="a" data="force" reduce="netforce" num="1"/></sensor></mujoco>')
    return tuple(int(x) for x in mujoco.MjModel.from_xml_string(xml).sensor_intprm[0])


def add_contact_sensors(spec: mujoco.MjSpec) -> None:
    """Append two contact sensors per humanoid body (``BODY_NAMES`` order): net force with the object body, then
    net force with anything; each gives 3 numbers (world frame, exerted by the humanoid body on the other side),
    so ``sensordata`` reads as ``[52, 2, 3]``."""
    prm = _netforce_intprm()
    for name in BODY_NAMES:
        for other in (OBJECT_BODY, None):
            s = spec.add_sensor()
            s.name = f"contact_{'object' if other else 'any'}_{name}"
            s.type = mujoco.mjtSensor.mjSENS_CONTACT
            s.objtype = mujoco.mjtObj.mjOBJ_BODY
            s.objname = name
            if other is not None:
                s.reftype = mujoco.mjtObj.mjOBJ_BODY
                s.refname = other
            s.intprm[:len(prm)] = prm


class MujocoBackend(MjBackendBase):
    """MuJoCo (C engine) backend for N envs on the CPU.

    Args:
        num_envs: N (default: ``cfg.num_envs``).
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
                 nthread: int | None = None, log_mapping: bool = True) -> None:
        route_mujoco_warnings()
        self.cfg = cfg or SimConfig.for_backend("mujoco")
        self._n = n = int(num_envs if num_envs is not None else self.cfg.num_envs)
        self._device = torch.device(device)
        spec, self.object_mass = build_scene_spec(offsets, hulls, self.cfg, motion_mass_mode=motion_mass_mode)
        try:
            self.model = m = spec.compile()  # the scene itself: what users and benchmarks step
            add_contact_sensors(spec)
            sensed = spec.compile()  # + the contact sensors: what the batch runs
        except ValueError as e:
            raise InputError(f"cannot compile the scene: {e}") from e
        self.index = ix = SceneIndex.from_model(m)
        self._nstep = self.cfg.physics_steps_per_control
        k = nthread if nthread is not None else self.cfg.nthread
        self._nthread = max(1, min(k or (os.cpu_count() or 1), n))
        sensed.opt.disableflags |= _SENSORS_OFF
        self._batch = mujoco.batch.Batch(sensed, n, nthread=self._nthread)
        if self._batch.nstate != mujoco.mj_stateSize(m, _STATE):
            raise AssertionError("contact sensors changed the state layout")
        b = self._batch
        self._flags = b.expand("opt.disableflags")  # sensors: off while stepping, on for the post-step forward
        self._flags_step = self._flags.copy()
        self._flags_forward = self._flags_step & ~_SENSORS_OFF
        # live views of the state rows (writable) and of the outputs (refreshed after every call)
        self._time, self._qpos, self._qvel = b.bind("time"), b.bind("qpos"), b.bind("qvel")
        self._ctrl_rows, self._warm = b.bind("ctrl"), b.bind("qacc_warmstart")
        self._xpos, self._xquat, self._cvel = b.bind("xpos"), b.bind("xquat"), b.bind("cvel")
        self._subtree_com, self._qacc = b.bind("subtree_com"), b.bind("qacc")
        self._sensordata = b.bind("sensordata")
        self._ctrl = np.zeros((n, m.nu))
        self._clock = np.zeros(n)  # our own clock per env, to spot engine-side resets
        self._bad = np.zeros(n, dtype=bool)
        self._warm_forward = np.zeros((n, m.nv))  # the warm start each env's last forward used
        self._limits = torch.as_tensor(m.jnt_range[ix.dof_joint], dtype=torch.float32)
        self._hum_bodies = ix.body_ids
        self._root_sub = m.body_rootid[ix.body_ids]
        self._datas: list[mujoco.MjData] | None = None
        self._datas_out = False  # datas were handed out since the last step/reset: take their state back
        self._state: SimState | None = None
        self._default = self.default_state(n)
        self.reset(torch.arange(n), self._default)
        if log_mapping:
            log.info("mujoco backend: %d envs, %d threads, nq %d nv %d ngeom %d, object %s\n%s", n,
                     self._nthread, m.nq, m.nv, m.ngeom, self.object_mass.rule, describe_mapping("mujoco"))

    # ---- properties ----
    @property
    def dof_limits(self) -> torch.Tensor:
        return self._limits.to(self._device)

    @property
    def datas(self) -> list[mujoco.MjData]:
        """One ``MjData`` of ``model`` per env, with the env's state and everything ``mj_forward`` derives from it
        (contacts, ``efc_force`` …), exactly as the post-step forward saw it. Made on each read after a step or
        reset (it costs N ``mj_forward``); state written into it (``qpos``, ``qvel``, ``qacc_warmstart`` …)
        becomes the env's state at the next ``step()``/``reset()`` (``ctrl`` comes from the PD targets)."""
        if self._datas is None:
            self._datas = [mujoco.MjData(self.model) for _ in range(self._n)]
        if not self._datas_out:
            rows = self._batch.state
            for i, d in enumerate(self._datas):
                mujoco.mj_setState(self.model, d, rows[i], _STATE)
                d.qacc_warmstart[:] = self._warm_forward[i]
                mujoco.mj_forward(self.model, d)
                d.qacc_warmstart[:] = self._warm[i]
            self._datas_out = True
        return self._datas

    def _take_back_datas(self) -> None:
        """Copy the handed-out ``datas``' states into the batch rows (they may have been written)."""
        if self._datas_out and self._datas is not None:
            rows = self._batch.state
            for i, d in enumerate(self._datas):
                mujoco.mj_getState(self.model, d, rows[i], _STATE)
        self._datas_out = False

    def default_state(self, n: int) -> ResetState:
        """Standing zero pose at the origin, the object at rest on the ground 1.5 m in front (+x)."""
        from hoi_sim.sim.humanoid_spec import HUMANOID_ROOT_HEIGHT

        s = ResetState.zeros(n, root_height=HUMANOID_ROOT_HEIGHT + 0.002)
        s.obj_pos[:, 0] = 1.5
        s.obj_pos[:, 2] = self._object_rest_height()
        return s

    def _object_rest_height(self) -> float:
        d = mujoco.MjData(self.model)
        mujoco.mj_kinematics(self.model, d)
        ix = self.index
        lo = np.inf
        for g in np.flatnonzero(ix.geom_is_object):
            mid = int(self.model.geom_dataid[g])
            va, nv = self.model.mesh_vertadr[mid], self.model.mesh_vertnum[mid]
            v = self.model.mesh_vert[va:va + nv] @ d.geom_xmat[g].reshape(3, 3).T + d.geom_xpos[g]
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
        self._warm_forward[ids] = 0.0  # mj_resetData's warm start
        unstable = self._unstable_count()
        self._forward(ids)
        self._flag_bad(self._unstable_count() > unstable)  # a non-finite state is reset by MuJoCo and flagged

    def set_pd_targets(self, targets: torch.Tensor) -> None:
        self._check_targets(targets)
        self._ctrl[:, self.index.ctrl] = targets.detach().to("cpu", torch.float64).numpy()

    def step(self) -> None:
        m, b = self.model, self._batch
        self._take_back_datas()
        self._state = None
        self._clock += self._nstep * m.opt.timestep
        run = np.flatnonzero(~self._bad)  # bad envs stay frozen until the caller resets them
        if not len(run):
            return
        ids = None if len(run) == self._n else run
        self._ctrl_rows[run] = self._ctrl[run]
        warm = self._warm.copy()  # the post-step forward starts from the previous forward's accelerations
        unstable = self._unstable_count()
        failed = np.zeros(self._n, dtype=bool)
        try:
            b.step(ids, nstep=self._nstep)
        except mujoco.batch.SimulationError as e:  # those envs kept their previous state
            log.warning("mujoco backend: MuJoCo raised in env(s) %s: %s", e.ids.tolist(), e)
            failed[e.ids] = True
            run = run[~failed[run]]
            ids = run
        self._warm[run] = warm[run]
        self._warm_forward[run] = warm[run]
        self._forward(ids)
        self._warm[run] = self._qacc[run]  # ... and the next step from this forward's
        # MuJoCo resets unstable data (warning counters rise, and its clock restarts)
        engine_reset = failed | (self._unstable_count() > unstable)
        engine_reset[run] |= np.abs(self._time[run] - self._clock[run]) > 0.5 * m.opt.timestep
        self._flag_bad(engine_reset)

    def _unstable_count(self) -> np.ndarray:
        """[N] number of instability warnings (bad qpos/qvel/qacc) MuJoCo has issued per env."""
        return self._batch.warning[:, _UNSTABLE, 1].sum(-1)

    def _forward(self, ids: np.ndarray | None) -> None:
        """``mj_forward`` of envs ``ids`` (None: all) with the contact sensors on."""
        self._flags[:] = self._flags_forward
        try:
            self._batch.forward(ids, stage=_ACC)
        except mujoco.batch.SimulationError as e:
            log.warning("mujoco backend: MuJoCo raised in env(s) %s: %s", e.ids.tolist(), e)
            self._bad[e.ids] = True
        finally:
            self._flags[:] = self._flags_step

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


def contact_world_forces(m: mujoco.MjModel, d: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
    """Active contacts of ``d``: ``(geom [C,2], force [C,3])``, force in world coordinates exerted by geom1 on geom2.

    Decodes the pyramidal cone (condim 1 or 3) the way ``mj_contactForce`` does; elliptic cones are read directly.
    """
    ncon = d.ncon
    if ncon == 0:
        return np.zeros((0, 2), np.int64), np.zeros((0, 3))
    con = d.contact
    adr = np.asarray(con.efc_address[:ncon])
    keep = adr >= 0
    geom, adr = np.asarray(con.geom[:ncon])[keep], adr[keep]
    dim, frame, mu = np.asarray(con.dim[:ncon])[keep], np.asarray(con.frame[:ncon])[keep], \
        np.asarray(con.friction[:ncon])[keep]
    f = np.zeros((len(adr), 3))
    efc = d.efc_force
    if m.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC:
        f[:, 0] = efc[adr]
        d3 = dim >= 3
        f[d3, 1] = efc[adr[d3] + 1]
        f[d3, 2] = efc[adr[d3] + 2]
    else:
        d1 = dim == 1
        f[d1, 0] = efc[adr[d1]]
        d3 = dim == 3
        if d3.any():
            p = efc[adr[d3][:, None] + np.arange(4)]
            f[d3, 0] = p.sum(1)
            f[d3, 1] = (p[:, 0] - p[:, 1]) * mu[d3, 0]
            f[d3, 2] = (p[:, 2] - p[:, 3]) * mu[d3, 1]
        if (~(d1 | d3)).any():
            for k in np.flatnonzero(~(d1 | d3)):  # rare: condim 4/6, use the engine's decoder
                out = np.zeros(6)
                mujoco.mj_contactForce(m, d, int(np.flatnonzero(keep)[k]), out)
                f[k] = out[:3]
    world = np.einsum("ci,cij->cj", f, frame.reshape(-1, 3, 3))
    return geom, world


def contact_forces(m: mujoco.MjModel, d: mujoco.MjData, ix: SceneIndex) -> tuple[np.ndarray, np.ndarray]:
    """Net contact force [52,3] (N, world) on each humanoid body from the object and from anything."""
    f_obj = np.zeros((NUM_BODIES, 3))
    f_any = np.zeros((NUM_BODIES, 3))
    geom, fw = contact_world_forces(m, d)
    if len(geom) == 0:
        return f_obj, f_any
    h = ix.body_to_humanoid[m.geom_bodyid[geom]]  # [C,2] humanoid index or -1
    is_obj = ix.geom_is_object[geom]  # [C,2]
    for side, sign in ((0, -1.0), (1, 1.0)):  # geom1 receives -f, geom2 receives +f
        sel = h[:, side] >= 0
        np.add.at(f_any, h[sel, side], sign * fw[sel])
        so = sel & is_obj[:, 1 - side]
        np.add.at(f_obj, h[so, side], sign * fw[so])
    return f_obj, f_any


__all__ = ["MujocoBackend", "add_contact_sensors", "contact_forces", "contact_world_forces"]
