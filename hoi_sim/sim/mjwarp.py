"""MuJoCo-Warp backend: the CPU backend's ``MjModel`` on N worlds of ``mujoco_warp`` (DESIGN §5.3).

One ``step()`` is one control step: ``physics_steps_per_control`` calls of ``mujoco_warp.step`` (1/240 s each),
the per-body contact forces of the last of them (its contacts and constraint forces), then the kinematics and
velocities at the new state, as the CPU backend does (bodies of the new state, contact forces of the last substep).
A reset runs ``mujoco_warp.forward`` at the new state and takes the contact forces from it. The whole control step
is captured once in a graph (``wp.ScopedCapture``: a CUDA graph on CUDA, Warp's graph replay on its CPU device
where the model allows it) and replayed; so are the two halves of a reset. ``graph: false`` runs the same launches
one by one.

State is read through zero-copy torch views of the Warp arrays (``wp.to_torch``): ``qpos``, ``qvel``, ``xpos``,
``xquat``, ``cvel``, ``subtree_com``, ``ctrl`` and the contact-force buffers. Warp launches go to Warp's (blocking)
stream, ordered with torch's default stream on the device (a torch side stream gets explicit event waits), so
nothing is copied to the host during stepping except the overflow check (a few booleans, see ``MjWarpOptions``).

Contacts: every contact in the world-batched contact pool (``d.contact``, ``d.nacon`` of them) that carries a
constraint adds its world-frame force to the two bodies it touches (geom → body → humanoid slot), split into
"with the object" and "with anything"; a body is in contact when a component of its net force exceeds
``SimConfig.contact_force_threshold`` (as the CPU backend and InterMimic). Buffer sizes ``nconmax`` (contacts per
world, pooled over worlds) and ``njmax`` (constraint rows per world) come from config; an overflow is never silent:
it raises :class:`ContactOverflowError` (or warns) naming the counts and the setting to raise.

Per-env assets: ``groups`` (``sim.mujoco_assets.SceneAssets``) are built as on the CPU backend, one padded scene per
asset group, and put into **one** mujoco-warp model whose per-world fields hold each env's group's values (bone
offsets, geom sizes, masses, inertias, the object's geoms) and whose mesh pool holds every group's meshes, world i
pointing at its group's through ``geom_dataid`` (``sim.mjwarp_assets``). ``models``, ``env_group`` and
``object_masses`` read as on the CPU backend.

Warp kernels are compiled once per machine into :func:`warp_cache_dir` (``$HOI_SIM_CACHE/warp`` or
``~/.cache/hoi_sim/warp``): about a minute cold on 2 CPU cores, about 2 s warm. See ``docs/gpu.md``.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from typing import Any

import mujoco
import mujoco_warp as mjw
import numpy as np
import torch
import warp as wp
from mujoco_warp._src.types import OverflowType

from hoi_sim import rotations as rot
from hoi_sim.objects.hulls import ConvexHull
from hoi_sim.sim.base import MjBackendBase, ResetState, SimState
from hoi_sim.sim.config import SimConfig
from hoi_sim.sim.mjwarp_assets import put_group_models
from hoi_sim.sim.mjwarp_setup import (
    DROPPING_OVERFLOWS,
    ContactOverflowError,
    MjWarpOptions,
    body_contact_forces,
    init_warp,
    resolve_warp_device,
    warp_cache_dir,
)
from hoi_sim.sim.mujoco import MujocoBackend, _env_groups
from hoi_sim.sim.mujoco_assets import SceneAssets, build_group_models
from hoi_sim.sim.scene import SceneIndex, build_scene
from hoi_sim.sim.table7 import describe_mapping
from hoi_sim.skeleton import NUM_BODIES

log = logging.getLogger(__name__)


class MjWarpBackend(MjBackendBase):
    """N worlds of the CPU backend's scene on mujoco-warp, with the ``SimBackend`` interface.

    Same constructor as ``MujocoBackend`` (the scene is built by ``hoi_sim.sim.scene.build_scene``), plus:

    Args:
        device: Warp/torch device: ``"cuda:0"``, ``"cpu"`` (Warp's CPU device) or None (``options.warp_device``).
        model: a prebuilt scene ``MjModel`` to use instead of building one (names as ``scene.SceneIndex``).
        groups: per-env assets, one ``SceneAssets`` per asset group (None: one group of ``offsets``, ``hulls``,
            ``motion_mass_mode``).
        env_group: [N] asset group of each env (default round-robin, env i → group i mod G).
        nthread: accepted for interface compatibility with the CPU backend and ignored.
        **options: ``MjWarpOptions`` fields, overriding ``cfg.extra``.
    """

    name = "mjwarp"

    def __init__(self, num_envs: int | None = None, *, offsets: np.ndarray | None = None,
                 hulls: list[ConvexHull] | None = None, cfg: SimConfig | None = None,
                 motion_mass_mode: str = "dynamic", device: str | torch.device | None = None,
                 nthread: int | None = None, log_mapping: bool = True, model: mujoco.MjModel | None = None,
                 groups: Sequence[SceneAssets] | None = None,
                 env_group: Sequence[int] | np.ndarray | torch.Tensor | None = None, **options: Any) -> None:
        del nthread
        self.cfg = cfg or SimConfig.for_backend("mjwarp")
        self.options = MjWarpOptions.from_extra(self.cfg.extra, **options)
        self.cache_dir = init_warp(self.options.kernel_cache_dir, self.options.verbose)
        self._n = int(num_envs if num_envs is not None else self.cfg.num_envs)
        self.wp_device = wp.get_device(resolve_warp_device(str(device) if device is not None
                                                           else self.options.warp_device))
        cuda = self.wp_device.is_cuda
        self._device = torch.device("cuda", self.wp_device.ordinal) if cuda else torch.device("cpu")
        labels = self._build_scenes(offsets, hulls, motion_mass_mode, model, groups, env_group)
        m = self.model
        self._nstep = self.cfg.physics_steps_per_control
        self._limits = torch.as_tensor(m.jnt_range[self.index.dof_joint], dtype=torch.float32, device=self._device)
        self._graphs: dict[str, Any] = {}
        self._steps = 0
        self._warned: set[int] = set()
        t0 = time.perf_counter()
        with self._scope():
            if len(self.models) == 1:
                self.m, self.per_world_fields, rows = mjw.put_model(m), [], 1
            else:
                self.m, self.per_world_fields, rows = put_group_models(self.models, self._group, labels)
            self.m.opt.warn_overflow = 0  # no per-world kernel printf: check_overflow reports once, with counts
            # a fresh MjData (no contacts yet): every world is reset to the default state by _warm_up
            self.d = mjw.put_data(m, mujoco.MjData(m), nworld=self._n, nconmax=self.options.nconmax,
                                  njmax=self.options.njmax, njmax_nnz=self.options.njmax_nnz)
            self._make_views()
        self._warm_up()
        self.startup_s = time.perf_counter() - t0
        """Seconds spent building and loading (or compiling) the Warp kernels."""
        if log_mapping:
            log.info("mjwarp backend: %d worlds on %s (graph %s), %d asset group(s) (%s; %d per-world field(s) of "
                     "%d row(s)), nq %d nv %d ngeom %d, nconmax %d njmax %d, kernels ready in %.1f s (cache %s)\n%s",
                     self._n, self.wp_device, bool(self._graphs), len(self.models), ", ".join(labels),
                     len(self.per_world_fields), rows, m.nq, m.nv, m.ngeom, self.options.nconmax,
                     self.options.njmax, self.startup_s, self.cache_dir, describe_mapping("mjwarp"))

    def _build_scenes(self, offsets: np.ndarray | None, hulls: list[ConvexHull] | None, motion_mass_mode: str,
                      model: mujoco.MjModel | None, groups: Sequence[SceneAssets] | None,
                      env_group: Sequence[int] | np.ndarray | torch.Tensor | None) -> list[str]:
        """``models`` (one scene per asset group, as the CPU backend's), ``model``/``index``/``object_mass``
        (group 0's), ``object_masses`` and ``env_group`` ([N] long, default round-robin). Returns the groups'
        labels. One group (or a prebuilt ``model``) builds the scene as before, unpadded."""
        if model is not None:
            self.model, self.index, self.object_mass = model, SceneIndex.from_model(model), None
            self.models, self.object_masses, labels = [model], [None], ["scene"]
        elif groups and len(groups) > 1:
            built = build_group_models(list(groups), self.cfg)
            self.models, self.object_masses = [g.model for g in built], [g.mass for g in built]
            self.model, self.index, self.object_mass = built[0].model, built[0].index, built[0].mass
            labels = [a.label for a in groups]
        else:
            a = groups[0] if groups else SceneAssets(offsets, hulls, motion_mass_mode)
            self.model, self.index, self.object_mass = build_scene(a.offsets, a.hulls, self.cfg,
                                                                   motion_mass_mode=a.motion_mass_mode)
            self.models, self.object_masses, labels = [self.model], [self.object_mass], [a.label]
        self._group = _env_groups(env_group, self._n, len(self.models))
        self.env_group = torch.as_tensor(self._group, dtype=torch.long, device=self._device)
        return labels

    default_state = MujocoBackend.default_state
    _object_rest_height = MujocoBackend._object_rest_height

    # ---- set-up ----------------------------------------------------------------------------------------------
    def _scope(self) -> Any:
        """Context that puts Warp on this backend's device (Warp launches go to that device's Warp stream)."""
        return wp.ScopedDevice(self.wp_device)

    def _make_views(self) -> None:
        """Zero-copy torch views of the Warp arrays and the index tensors used to gather from them."""
        d, dev, n, ix = self.d, self._device, self._n, self.index
        self.qpos = wp.to_torch(d.qpos)  # [N, nq]
        self.qvel = wp.to_torch(d.qvel)  # [N, nv]
        self.ctrl = wp.to_torch(d.ctrl)  # [N, nu]
        self.xpos = wp.to_torch(d.xpos)  # [N, nbody, 3]
        self.xquat = wp.to_torch(d.xquat)  # [N, nbody, 4] wxyz
        self.cvel = wp.to_torch(d.cvel)  # [N, nbody, 6] (ang, lin) at the subtree com of the body's tree root
        self.subtree_com = wp.to_torch(d.subtree_com)  # [N, nbody, 3]
        self.overflow = wp.to_torch(d.overflow)  # [N] OverflowType bits, sticky until the world is reset
        self.nefc = wp.to_torch(d.nefc)  # [N] constraint rows in use
        self._force_obj_wp = wp.zeros((n, NUM_BODIES), dtype=wp.vec3)
        self._force_any_wp = wp.zeros((n, NUM_BODIES), dtype=wp.vec3)
        self.force_obj = wp.to_torch(self._force_obj_wp)  # [N, 52, 3] N, world
        self.force_any = wp.to_torch(self._force_any_wp)
        self._bad = torch.zeros(n, dtype=torch.bool, device=dev)
        self._reset_mask_wp = wp.zeros(n, dtype=bool)
        self._reset_mask = wp.to_torch(self._reset_mask_wp)  # [N] worlds cleared by the next "clear"
        is_obj = np.zeros(self.model.nbody, dtype=np.int32)
        is_obj[ix.obj_body] = 1
        self._body_slot = wp.array(ix.body_to_humanoid.astype(np.int32), dtype=int)
        self._body_is_obj = wp.array(is_obj, dtype=int)

        def t(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a), dtype=torch.long, device=dev)

        self._body_ids = t(ix.body_ids)
        self._body_root = t(self.model.body_rootid[ix.body_ids])
        self._dof_q, self._dof_v, self._act = t(ix.dof_qpos), t(ix.dof_qvel), t(ix.ctrl)
        qpos0 = np.stack([self.models[g].qpos0 for g in self._group])
        self._qpos0 = torch.as_tensor(qpos0, dtype=torch.float32, device=dev)  # [N, nq] each world's model's

    def _warm_up(self) -> None:
        """Load (or compile) every kernel with a reset and one control step from the default state, capture the
        graphs when enabled, and go back to the default state."""
        log.info("mjwarp: loading Warp kernels (cache %s; a cold cache compiles for about a minute)", self.cache_dir)
        all_ids = torch.arange(self._n, device=self._device)
        default = self.default_state(self._n)
        self.reset(all_ids, default)
        self.check_overflow()
        self._run("step")
        self.check_overflow()
        if self.options.graph and (not self.wp_device.is_cuda or wp.is_mempool_enabled(self.wp_device)):
            for name, fn in self._programs().items():
                try:
                    with self._scope(), wp.ScopedCapture(device=self.wp_device) as cap:
                        fn()
                except NotImplementedError as e:  # Warp's CPU replay lacks some ops (strided wp.copy) for some models
                    if self.wp_device.is_cuda:
                        raise
                    log.info("mjwarp: no CPU graph for %r (%s); launching its kernels one by one", name, e)
                    continue
                self._graphs[name] = cap.graph
        self.reset(all_ids, default)
        wp.synchronize_device(self.wp_device)

    # ---- device-side work (each captured in a graph when enabled) ---------------------------------------------
    def _programs(self) -> dict[str, Any]:
        return {"clear": self._clear, "forward": self._forward, "step": self._control_step}

    def _run(self, name: str) -> None:
        """Replay the graph ``name`` (clear | forward | step), or run its launches directly."""
        torch_stream = None
        if self.wp_device.is_cuda and torch.cuda.current_stream(self._device) != torch.cuda.default_stream(
                self._device):
            # Warp's stream is blocking (ordered with the legacy default stream torch uses by default); a torch
            # side stream needs explicit, device-side waits in both directions
            torch_stream = wp.stream_from_torch(torch.cuda.current_stream(self._device))
            wp.get_stream(self.wp_device).wait_stream(torch_stream)
        with self._scope():
            graph = self._graphs.get(name)
            if graph is not None:
                wp.capture_launch(graph)
            else:
                self._programs()[name]()
        if torch_stream is not None:
            torch_stream.wait_stream(wp.get_stream(self.wp_device))

    def _clear(self) -> None:
        """``mj_resetData`` of the worlds flagged in ``_reset_mask`` (warm start, applied forces, time, ctrl,
        their contacts and overflow bits), the other worlds untouched."""
        mjw.reset_data(self.m, self.d, self._reset_mask_wp)

    def _forward(self) -> None:
        """Kinematics, contacts and constraint forces at the current state (as ``mj_forward`` in the CPU backend),
        then the per-body contact forces."""
        mjw.forward(self.m, self.d)
        self._contact_forces()

    def _contact_forces(self) -> None:
        """Per-body net contact forces from the contacts and constraint forces of the last forward (``forward``,
        or the one at the start of the last ``step``)."""
        self._force_obj_wp.zero_()
        self._force_any_wp.zero_()
        d, c = self.d, self.d.contact
        wp.launch(body_contact_forces, dim=d.naconmax,
                  inputs=[int(self.m.opt.cone), d.naconmax, d.njmax, self.m.geom_bodyid, self._body_slot,
                          self._body_is_obj, c.frame, c.friction, c.dim, c.efc_address, c.worldid, c.adhesion,
                          c.geom, d.efc.force, d.nacon],
                  outputs=[self._force_obj_wp, self._force_any_wp])

    def _control_step(self) -> None:
        """``physics_steps_per_control`` physics steps (each warm-starts from the last, as ``mj_step``), the contact
        forces of the last one, then body poses and velocities at the new state (as the CPU backend's batch)."""
        for _ in range(self._nstep):
            mjw.step(self.m, self.d)
        self._contact_forces()
        mjw.kinematics(self.m, self.d)
        mjw.com_pos(self.m, self.d)
        mjw.com_vel(self.m, self.d)

    # ---- interface -------------------------------------------------------------------------------------------
    @property
    def dof_limits(self) -> torch.Tensor:
        return self._limits.clone()

    def reset(self, env_ids: torch.Tensor, state: ResetState) -> None:
        env_ids = torch.as_tensor(env_ids).to(self._device, torch.long)
        self._check_reset(env_ids, state)
        if state.num == 0:
            return
        s, ix, dev = state.to(self._device), self.index, self._device
        root_quat, obj_quat = rot.quat_normalize(s.root_quat), rot.quat_normalize(s.obj_quat)
        q = self._qpos0[env_ids].clone()
        v = torch.zeros(state.num, self.model.nv, device=dev)
        q[:, ix.root_qpos:ix.root_qpos + 3] = s.root_pos
        q[:, ix.root_qpos + 3:ix.root_qpos + 7] = root_quat
        q[:, self._dof_q] = s.dof_pos
        q[:, ix.obj_qpos:ix.obj_qpos + 3] = s.obj_pos
        q[:, ix.obj_qpos + 3:ix.obj_qpos + 7] = obj_quat
        # free joints: linear velocity in the world frame, angular velocity in the body frame
        v[:, ix.root_qvel:ix.root_qvel + 3] = s.root_lin_vel
        v[:, ix.root_qvel + 3:ix.root_qvel + 6] = rot.quat_rotate(rot.quat_conj(root_quat), s.root_ang_vel)
        v[:, self._dof_v] = s.dof_vel
        v[:, ix.obj_qvel:ix.obj_qvel + 3] = s.obj_lin_vel
        v[:, ix.obj_qvel + 3:ix.obj_qvel + 6] = rot.quat_rotate(rot.quat_conj(obj_quat), s.obj_ang_vel)
        self._reset_mask.zero_()
        self._reset_mask[env_ids] = True
        self._run("clear")
        self.qpos[env_ids] = q
        self.qvel[env_ids] = v
        self.ctrl[env_ids.unsqueeze(1), self._act] = s.dof_pos
        self._run("forward")  # all worlds: the others are recomputed at their unchanged state
        self._bad[env_ids] = False

    def set_pd_targets(self, targets: torch.Tensor) -> None:
        self._check_targets(targets)
        self.ctrl[:, self._act] = targets.to(self._device, torch.float32)

    def step(self) -> None:
        self._run("step")
        self._mark_bad()
        self._steps += 1
        if self._steps % max(1, self.options.overflow_check_every) == 0:
            self.check_overflow()

    def _mark_bad(self) -> None:
        """Flag worlds whose state is non-finite or exploded and put them back at the model's rest pose so that
        they stay finite until the caller resets them (device-side, no host sync)."""
        bad = (~torch.isfinite(self.qpos).all(1)) | ~(self.qvel.abs() <= self.options.bad_qvel).all(1)
        self._bad |= bad
        self.qpos.copy_(torch.where(bad[:, None], self._qpos0, self.qpos))
        self.qvel.masked_fill_(bad[:, None], 0.0)

    def check_overflow(self) -> None:
        """Raise :class:`ContactOverflowError` (or warn) if any world dropped contacts or constraint rows.

        Reads the sticky overflow bits of the last steps plus the current counts (``nacon`` > pool, a world's
        ``nefc`` > ``njmax``, which also catches an overflow in the ``forward`` after a reset): 7 booleans are
        copied to the host.
        """
        ov = self.overflow
        checks = [((ov & int(k)) != 0).any() for k in DROPPING_OVERFLOWS]
        checks += [wp.to_torch(self.d.nacon)[0] > self.d.naconmax, self.nefc.max() > self.d.njmax]
        hit = torch.stack(checks).cpu().tolist()
        flags = sum(int(k) for k, h in zip(DROPPING_OVERFLOWS, hit) if h)
        flags |= int(OverflowType.NARROWPHASE) if hit[-2] else 0
        flags |= int(OverflowType.NEFC) if hit[-1] else 0
        if not flags:
            return
        msg = self.overflow_message(flags)
        if self.options.on_overflow == "raise":
            raise ContactOverflowError(msg)
        if flags not in self._warned:
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            self._warned.add(flags)
        self.overflow.zero_()

    def overflow_message(self, flags: int) -> str:
        """One line naming the overflow kinds, the counts reached and the setting to raise."""
        c, o = self.contact_counts(), self.options
        parts = []
        if flags & int(OverflowType.NARROWPHASE | OverflowType.BROADPHASE | OverflowType.CCD):
            parts.append(f"{c['nacon']} contacts > pool of {c['naconmax']} (nconmax {o.nconmax} × {self._n} worlds)"
                         f"; raise nconmax")
        if flags & int(OverflowType.NEFC):
            parts.append(f"a world needs {c['max_nefc']} constraint rows > njmax {o.njmax}; raise njmax")
        if flags & int(OverflowType.NJMAX_NNZ):
            parts.append(f"constraint Jacobian non-zeros > njmax_nnz {self.d.njmax_nnz}; raise njmax_nnz")
        kinds = [k.name for k in DROPPING_OVERFLOWS if flags & int(k)]
        when = f"after {self._steps} control steps" if self._steps else "at start-up (default state)"
        return (f"mjwarp buffer overflow ({'|'.join(kinds)}) with {self._n} worlds {when}: "
                f"{'; '.join(parts)} (mujoco-warp would drop them; set it in cfg/sim/mjwarp.yaml settings.extra)")

    def contact_counts(self) -> dict[str, int]:
        """Buffer use now: ``nacon`` contacts in the pool of ``naconmax``; ``max_nefc`` rows of ``njmax``."""
        return {"nacon": int(self.d.nacon.numpy()[0]), "naconmax": int(self.d.naconmax),
                "max_nefc": int(self.nefc.max()), "njmax": int(self.d.njmax)}

    def state(self) -> SimState:
        ix, qp, qv = self.index, self.qpos, self.qvel
        root_quat = qp[:, ix.root_qpos + 3:ix.root_qpos + 7].clone()
        obj_quat = qp[:, ix.obj_qpos + 3:ix.obj_qpos + 7].clone()
        xpos = self.xpos[:, self._body_ids]
        cvel = self.cvel[:, self._body_ids]
        ang = cvel[..., 0:3]
        lin = cvel[..., 3:6] + torch.cross(ang, xpos - self.subtree_com[:, self._body_root], dim=-1)
        thr = self.cfg.contact_force_threshold
        return SimState(
            root_pos=qp[:, ix.root_qpos:ix.root_qpos + 3].clone(), root_quat=root_quat,
            root_lin_vel=qv[:, ix.root_qvel:ix.root_qvel + 3].clone(),
            root_ang_vel=rot.quat_rotate(root_quat, qv[:, ix.root_qvel + 3:ix.root_qvel + 6]),
            dof_pos=qp[:, self._dof_q], dof_vel=qv[:, self._dof_v],
            obj_pos=qp[:, ix.obj_qpos:ix.obj_qpos + 3].clone(), obj_quat=obj_quat,
            obj_lin_vel=qv[:, ix.obj_qvel:ix.obj_qvel + 3].clone(),
            obj_ang_vel=rot.quat_rotate(obj_quat, qv[:, ix.obj_qvel + 3:ix.obj_qvel + 6]),
            body_pos=xpos, body_quat=self.xquat[:, self._body_ids], body_lin_vel=lin, body_ang_vel=ang.clone(),
            contact_obj=(self.force_obj.abs() > thr).any(-1), contact_any=(self.force_any.abs() > thr).any(-1),
            force_obj=self.force_obj.clone(), force_any=self.force_any.clone(), bad=self._bad.clone())

    def close(self) -> None:
        self._graphs.clear()


__all__ = ["ContactOverflowError", "MjWarpBackend", "MjWarpOptions", "init_warp", "resolve_warp_device",
           "warp_cache_dir"]
