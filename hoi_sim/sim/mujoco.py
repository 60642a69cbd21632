"""CPU backend: one ``MjModel``, N ``MjData``, stepped in parallel threads with ``mujoco.rollout``.

One ``step()`` = one control step = ``decimation × substeps`` (2 × 4 = 8) physics steps of 1/240 s, run by
``Rollout.rollout(nstep=8)`` from each env's full physics state with the PD targets held (the state is fed back:
closed loop, backends-notes §1). After the rollout every env's final state is written into its own ``MjData`` and
``mj_forward`` makes bodies, velocities and contact forces consistent with that state (no one-step lag).

Contacts: every active contact (``efc_address ≥ 0``) gives a world-frame force on each of its two bodies
(pyramidal cone decoded as ``mj_contactForce`` does). Per humanoid body we sum the forces from the object
(``force_obj``) and from everything (``force_any``, ground and object included); a body is "in contact" when a
component of that net force exceeds ``contact_force_threshold`` (0.1 N), InterMimic's rule.

Bad envs: an env whose state is non-finite or huge (after a reset or a step), or which MuJoCo reset itself during
the rollout (its clock then disagrees with ours), gets ``bad[i] = True``; it is frozen (left out of the rollout)
until the caller resets it. The other envs are independent and unaffected. MuJoCo's warnings go to this module's
logger.
"""

from __future__ import annotations

import logging
import os

import mujoco
import mujoco.rollout
import numpy as np
import torch

from hoi_sim.objects.hulls import ConvexHull
from hoi_sim.sim.base import MjBackendBase, ResetState, SimState
from hoi_sim.sim.config import SimConfig
from hoi_sim.sim.scene import SceneIndex, build_scene
from hoi_sim.sim.table7 import describe_mapping
from hoi_sim.skeleton import NUM_BODIES

log = logging.getLogger(__name__)

_STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS
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


class MujocoBackend(MjBackendBase):
    """MuJoCo (C engine) backend for N envs on the CPU.

    Args:
        num_envs: N (default: ``cfg.num_envs``).
        offsets: humanoid skeleton bone offsets [52,3] (m); None = neutral.
        hulls: the object's convex parts (object frame); None = a 30 cm box.
        cfg: physics settings; default Table 7 + ``cfg/sim/mujoco.yaml``.
        motion_mass_mode: ``dynamic`` / ``static`` (the motion's), used with ``cfg.mass_mode == "fixed"``.
        device: torch device of returned tensors (computation is on the CPU).
        nthread: rollout threads (default ``cfg.nthread``; 0 = one per CPU core).
    """

    name = "mujoco"

    def __init__(self, num_envs: int | None = None, *, offsets: np.ndarray | None = None,
                 hulls: list[ConvexHull] | None = None, cfg: SimConfig | None = None,
                 motion_mass_mode: str = "dynamic", device: str | torch.device = "cpu",
                 nthread: int | None = None, log_mapping: bool = True) -> None:
        route_mujoco_warnings()
        self.cfg = cfg or SimConfig.for_backend("mujoco")
        self._n = int(num_envs if num_envs is not None else self.cfg.num_envs)
        self._device = torch.device(device)
        self.model, self.index, self.object_mass = build_scene(offsets, hulls, self.cfg,
                                                               motion_mass_mode=motion_mass_mode)
        m, ix = self.model, self.index
        self._nstep = self.cfg.physics_steps_per_control
        k = nthread if nthread is not None else self.cfg.nthread
        self._nthread = max(1, min(k or (os.cpu_count() or 1), self._n))
        self._rollout = mujoco.rollout.Rollout(nthread=self._nthread)
        self._scratch = [mujoco.MjData(m) for _ in range(self._nthread)]
        self.datas = [mujoco.MjData(m) for _ in range(self._n)]
        self._nstate = mujoco.mj_stateSize(m, _STATE)
        self._ctrl = np.zeros((self._n, m.nu))
        self._clock = np.zeros(self._n)  # our own clock per env, to spot engine-side resets
        self._bad = np.zeros(self._n, dtype=bool)
        self._limits = torch.as_tensor(m.jnt_range[ix.dof_joint], dtype=torch.float32)
        self._hum_bodies = ix.body_ids
        self._root_sub = m.body_rootid[ix.body_ids]
        # state buffers (numpy, filled by _refresh)
        n = self._n
        self._qpos = np.zeros((n, m.nq))
        self._qvel = np.zeros((n, m.nv))
        self._body_pos = np.zeros((n, NUM_BODIES, 3))
        self._body_quat = np.zeros((n, NUM_BODIES, 4))
        self._cvel = np.zeros((n, NUM_BODIES, 6))  # (ang, lin) at the tree's subtree com, world axes
        self._com = np.zeros((n, NUM_BODIES, 3))  # that subtree com, per body
        self._force_obj = np.zeros((n, NUM_BODIES, 3))
        self._force_any = np.zeros((n, NUM_BODIES, 3))
        self._default = self.default_state(n)
        self.reset(torch.arange(n), self._default)
        if log_mapping:
            log.info("mujoco backend: %d envs, %d threads, nq %d nv %d ngeom %d, object %s\n%s", n,
                     self._nthread, m.nq, m.nv, m.ngeom, self.object_mass.rule, describe_mapping("mujoco"))

    # ---- properties ----
    @property
    def dof_limits(self) -> torch.Tensor:
        return self._limits.to(self._device)

    def default_state(self, n: int) -> ResetState:
        """Standing zero pose at the origin, the object at rest on the ground 1.5 m in front (+x)."""
        from hoi_sim.humanoid.builder import HUMANOID_ROOT_HEIGHT

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
        s = {k: v.detach().to("cpu", torch.float64).numpy() for k, v in state.to("cpu").__dict__.items()}
        ix = self.index
        for j, i in enumerate(env_ids.tolist()):
            d = self.datas[i]
            mujoco.mj_resetData(self.model, d)
            rq = s["root_quat"][j] / max(np.linalg.norm(s["root_quat"][j]), 1e-12)
            oq = s["obj_quat"][j] / max(np.linalg.norm(s["obj_quat"][j]), 1e-12)
            d.qpos[ix.root_qpos:ix.root_qpos + 3] = s["root_pos"][j]
            d.qpos[ix.root_qpos + 3:ix.root_qpos + 7] = rq
            d.qpos[ix.dof_qpos] = s["dof_pos"][j]
            d.qpos[ix.obj_qpos:ix.obj_qpos + 3] = s["obj_pos"][j]
            d.qpos[ix.obj_qpos + 3:ix.obj_qpos + 7] = oq
            # free joints: linear velocity in world, angular velocity in the body frame
            d.qvel[ix.root_qvel:ix.root_qvel + 3] = s["root_lin_vel"][j]
            d.qvel[ix.root_qvel + 3:ix.root_qvel + 6] = _quat_rotate_np(rq, s["root_ang_vel"][j], inverse=True)
            d.qvel[ix.dof_qvel] = s["dof_vel"][j]
            d.qvel[ix.obj_qvel:ix.obj_qvel + 3] = s["obj_lin_vel"][j]
            d.qvel[ix.obj_qvel + 3:ix.obj_qvel + 6] = _quat_rotate_np(oq, s["obj_ang_vel"][j], inverse=True)
            self._ctrl[i, ix.ctrl] = s["dof_pos"][j]
            d.ctrl[:] = self._ctrl[i]
            self._clock[i] = d.time = 0.0
            self._bad[i] = False
            mujoco.mj_forward(self.model, d)
            self._refresh(i)
        self._flag_bad(np.zeros(self._n, dtype=bool))

    def set_pd_targets(self, targets: torch.Tensor) -> None:
        self._check_targets(targets)
        self._ctrl[:, self.index.ctrl] = targets.detach().to("cpu", torch.float64).numpy()

    def step(self) -> None:
        m = self.model
        self._clock += self._nstep * m.opt.timestep
        run = np.flatnonzero(~self._bad)  # bad envs stay frozen until the caller resets them
        if len(run):
            init = np.empty((len(run), self._nstate))
            warm = np.empty((len(run), m.nv))
            for k, i in enumerate(run):
                mujoco.mj_getState(m, self.datas[i], init[k], _STATE)
                warm[k] = self.datas[i].qacc_warmstart
            out, _ = self._rollout.rollout(m, self._scratch, init, self._ctrl[run, None, :], nstep=self._nstep,
                                           initial_warmstart=warm)
            final = out[:, -1]
            for k, i in enumerate(run):
                d = self.datas[i]
                mujoco.mj_setState(m, d, final[k], _STATE)
                d.ctrl[:] = self._ctrl[i]
                mujoco.mj_forward(m, d)
                d.qacc_warmstart[:] = d.qacc
                self._refresh(i)
            # mjSTATE_TIME comes first in the state vector; MuJoCo resets unstable data (and its clock)
            engine_reset = np.zeros(self._n, dtype=bool)
            engine_reset[run] = np.abs(final[:, 0] - self._clock[run]) > 0.5 * m.opt.timestep
            self._flag_bad(engine_reset)

    def _flag_bad(self, engine_reset: np.ndarray) -> None:
        finite = np.isfinite(self._qpos).all(1) & np.isfinite(self._qvel).all(1)
        huge = ~(np.abs(np.nan_to_num(self._qvel, nan=np.inf)) <= MAX_ABS_QVEL).all(1)
        newly = (engine_reset | ~finite | huge) & ~self._bad
        if newly.any():
            log.warning("mujoco backend: env(s) %s became unstable; reset them", np.flatnonzero(newly).tolist())
        self._bad |= newly

    def _refresh(self, i: int) -> None:
        """Copy env i's MjData into the state buffers (after mj_forward)."""
        m, d, ix = self.model, self.datas[i], self.index
        self._qpos[i] = d.qpos
        self._qvel[i] = d.qvel
        b = self._hum_bodies
        self._body_pos[i] = d.xpos[b]
        self._body_quat[i] = d.xquat[b]
        self._cvel[i] = d.cvel[b]
        self._com[i] = d.subtree_com[self._root_sub]
        self._force_obj[i], self._force_any[i] = contact_forces(m, d, ix)

    def state(self) -> SimState:
        ix, dev = self.index, self._device

        def t(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x, dtype=torch.float32).to(dev)

        q, v = self._qpos, self._qvel
        root_q = q[:, ix.root_qpos + 3:ix.root_qpos + 7]
        obj_q = q[:, ix.obj_qpos + 3:ix.obj_qpos + 7]
        ang = self._cvel[..., :3]
        lin = self._cvel[..., 3:] + _cross(ang, self._body_pos - self._com)  # shift to the body origin
        obj_ang = _quat_rotate_np(obj_q, v[:, ix.obj_qvel + 3:ix.obj_qvel + 6])  # free joint: local → world
        thr = self.cfg.contact_force_threshold
        return SimState(
            root_pos=t(q[:, ix.root_qpos:ix.root_qpos + 3]), root_quat=t(root_q),
            root_lin_vel=t(v[:, ix.root_qvel:ix.root_qvel + 3]), root_ang_vel=t(ang[:, 0]),
            dof_pos=t(q[:, ix.dof_qpos]), dof_vel=t(v[:, ix.dof_qvel]),
            obj_pos=t(q[:, ix.obj_qpos:ix.obj_qpos + 3]), obj_quat=t(obj_q),
            obj_lin_vel=t(v[:, ix.obj_qvel:ix.obj_qvel + 3]), obj_ang_vel=t(obj_ang),
            body_pos=t(self._body_pos), body_quat=t(self._body_quat), body_lin_vel=t(lin), body_ang_vel=t(ang),
            contact_obj=torch.as_tensor((np.abs(self._force_obj) > thr).any(-1)).to(dev),
            contact_any=torch.as_tensor((np.abs(self._force_any) > thr).any(-1)).to(dev),
            force_obj=t(self._force_obj), force_any=t(self._force_any),
            bad=torch.as_tensor(self._bad.copy()).to(dev))

    def close(self) -> None:
        self._rollout.close()

    def __del__(self) -> None:
        try:
            self._rollout.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


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


__all__ = ["MujocoBackend", "contact_forces", "contact_world_forces"]
