"""Reference clips played in one batched simulation without a policy (``hoi-sim replay``).

The clips go into one MuJoCo batch as training builds it (``envs.backend.make_env_backend``): env i plays clip i,
on the skeleton and object of clip i's asset group (``motions.assets``: by content), so one batch mixes subjects and
objects. Every clip gets its asset identity (``env``, ``batch``, ``group``, ``object`` name / hash / mass mode,
``skeleton`` hash) and ``reset_error_mm``: the largest body distance (mm) between simulator and reference right
after the reset at frame 0 (each env is built on its clip's own skeleton, so it should be ≤ 1 mm).

Modes (each over the whole batch; a clip's figures stop at its own end):

- ``pd``: reference state init at frame 0, then PD targets = the reference DOFs of the next control step; frames
  survived (root above ``FALL_HEIGHT`` and a valid physics state), MPJPE (mm, 52 bodies and the 22 body joints) over
  the survived part, the object error (mm, InterMimic's 1024-point mean distance) and ``reset_drop_mm`` (how far the
  simulated root falls below the reference root within ``DROP_WINDOW_S`` of the reset).
- ``kinematic``: every reference frame written into the simulator (no dynamics, ``mj_forward``): the largest
  human–object and human–ground penetration (mm), frames where an annotated (+1) body is more than
  ``CONTACT_APART`` from the object, frames where both feet float more than ``FOOT_FLOAT`` above the ground.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from hoi_sim.envs.backend import make_env_backend
from hoi_sim.envs.config import EnvCfg
from hoi_sim.errors import InputError
from hoi_sim.eval.metrics import mpjpe, object_error
from hoi_sim.motions.library import MotionLibrary
from hoi_sim.motions.schema import HOIMotion
from hoi_sim.objects.mesh import surface_points
from hoi_sim.sim.config import SimConfig
from hoi_sim.skeleton import BODY_JOINTS_22, FEET, NUM_BODIES, body_ids

if TYPE_CHECKING:
    import mujoco

    from hoi_sim.sim.mujoco import MujocoBackend
    from hoi_sim.sim.scene import SceneIndex

FALL_HEIGHT = 0.5
"""Root height (m) below which a PD replay counts as fallen."""
CONTACT_APART = 0.02
"""An annotated contact is "apart" when body and object are further than this (m)."""
FOOT_FLOAT = 0.02
"""A frame "floats" when the lowest foot geom is further than this (m) above the ground."""
DROP_WINDOW_S = 0.1
"""Seconds after the reset over which ``reset_drop_mm`` is measured (3 control steps; a humanoid whose feet float 55 mm
above the floor falls 49 mm in that time, one standing on the floor sinks ~3 mm into its soft contacts)."""
MM = 1000.0
MODES = ("pd", "kinematic")
COLLISION_MODES = ("coacd", "convex_hull")


@dataclass(frozen=True)
class ReplayOptions:
    """modes: a subset of ``MODES`` (run in that order: kinematic first) · max_seconds: replay at most this long
    per clip (None: whole clips) · collision: object collision shape (``COLLISION_MODES``) · nthread: batch threads
    (None: ``cfg.nthread``)."""

    modes: tuple[str, ...] = ("pd",)
    max_seconds: float | None = None
    collision: str = "coacd"
    nthread: int | None = None

    def __post_init__(self) -> None:
        bad = [m for m in self.modes if m not in MODES]
        if bad or not self.modes:
            raise InputError(f"replay modes must be among {', '.join(MODES)}, got {list(self.modes)}")
        if self.collision not in COLLISION_MODES:
            raise InputError(f"replay collision must be one of {', '.join(COLLISION_MODES)}, got {self.collision!r}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise InputError(f"replay max_seconds must be > 0, got {self.max_seconds}")


def build_batch(motions: Sequence[HOIMotion], cfg: SimConfig, opts: ReplayOptions
                ) -> tuple[MotionLibrary, MujocoBackend]:
    """(library of ``motions``, MuJoCo backend with env i on clip i's asset group), as training builds them."""
    lib = MotionLibrary(list(motions))
    kw = {"cfg": cfg, "object_collision": opts.collision, "log_mapping": False}
    if opts.nthread is not None:
        kw["nthread"] = opts.nthread
    env_cfg = EnvCfg(num_envs=len(motions), backend="mujoco", reward="tr", backend_kwargs=kw)
    sim = make_env_backend(env_cfg, lib, env_clips=torch.arange(len(motions)))
    if not torch.equal(sim.env_group.cpu(), lib.clip_group.cpu()):  # env i must hold clip i's assets
        sim.close()
        raise RuntimeError(f"replay batch: env groups {sim.env_group.tolist()} != clip groups "
                           f"{lib.clip_group.tolist()}")
    return lib, sim


def asset_rows(lib: MotionLibrary, batch: int = 0) -> list[dict]:
    """Per clip: ``clip``, ``env`` (= its index), ``batch``, ``group`` (asset group), ``object`` (name, content
    hash, mass mode) and ``skeleton`` (content hash), as ``motions.assets`` identifies them."""
    rows = []
    for i in range(lib.num_motions):
        g = lib.asset_groups[int(lib.clip_group[i])]
        rows.append({"clip": lib.names[i], "env": i, "batch": batch, "group": int(lib.clip_group[i]),
                     "object": {"name": lib.object_names[i], "hash": g.object, "mass_mode": g.mass_mode},
                     "skeleton": g.skeleton})
    return rows


def reset_to_start(sim: MujocoBackend, lib: MotionLibrary) -> None:
    """Reset env i to frame 0 of clip i."""
    ids = torch.arange(lib.num_motions)
    sim.reset(ids, lib.frame_state(ids, torch.zeros_like(ids)).reset_state())


def reset_errors_mm(sim: MujocoBackend, lib: MotionLibrary, motions: Sequence[HOIMotion]) -> np.ndarray:
    """[n] largest body distance (mm) between simulator and reference after resetting every env to its clip's
    frame 0 (reference: the clip's float64 ``body_pos[0]``)."""
    reset_to_start(sim, lib)
    pos = sim.state().body_pos.double().cpu().numpy()
    ref = np.stack([np.asarray(m.body_pos[0], np.float64) for m in motions])
    return np.linalg.norm(pos - ref, axis=-1).max(-1) * MM


def contact_distances(model: mujoco.MjModel, data: mujoco.MjData, index: SceneIndex
                      ) -> tuple[np.ndarray, np.ndarray, float]:
    """Per humanoid body [52]: smallest signed distance (m) to the object and to the ground among the detected
    contact pairs of ``data`` (inf when none is within detection range), and the object–ground distance (m)."""
    to_obj = np.full(NUM_BODIES, np.inf)
    to_floor = np.full(NUM_BODIES, np.inf)
    n = data.ncon
    if n == 0:
        return to_obj, to_floor, math.inf
    geom = np.asarray(data.contact.geom[:n])
    dist = np.asarray(data.contact.dist[:n])
    hum = index.body_to_humanoid[model.geom_bodyid[geom]]
    is_obj = index.geom_is_object[geom]
    is_floor = geom == index.floor_geom
    for side in (0, 1):
        other = 1 - side
        sel = hum[:, side] >= 0
        so = sel & is_obj[:, other]
        np.minimum.at(to_obj, hum[so, side], dist[so])
        sf = sel & is_floor[:, other]
        np.minimum.at(to_floor, hum[sf, side], dist[sf])
    of = (is_obj[:, 0] & is_floor[:, 1]) | (is_obj[:, 1] & is_floor[:, 0])
    return to_obj, to_floor, float(dist[of].min()) if of.any() else math.inf


def replay_kinematic(sim: MujocoBackend, lib: MotionLibrary, motions: Sequence[HOIMotion],
                     max_seconds: float | None = None) -> list[dict]:
    """Kinematic figures of every clip of the batch (module docstring)."""
    n, feet = lib.num_motions, body_ids(FEET)
    frames = np.array([m.num_frames if max_seconds is None else min(m.num_frames, int(max_seconds * m.fps) + 1)
                       for m in motions])
    pen = np.zeros((n, 3))  # object, ground, object-ground (m)
    apart, floating = np.zeros(n, int), np.zeros(n, int)
    max_float = np.zeros(n)
    ids = torch.arange(n)
    for f in range(int(frames.max())):
        sim.reset(ids, lib.frame_state(ids, torch.as_tensor(np.minimum(f, frames - 1))).reset_state())
        datas = sim.datas
        for i in np.flatnonzero(f < frames):
            to_obj, to_floor, obj_floor = contact_distances(sim.models[int(sim.env_group[i])], datas[i], sim.index)
            pen[i] = np.maximum(pen[i], [-to_obj.min(), -to_floor.min(), -obj_floor])
            labelled = motions[i].contact_label[f] > 0
            apart[i] += bool(labelled.any() and (to_obj[labelled] > CONTACT_APART).any())
            foot = float(to_floor[feet].min())
            if foot > FOOT_FLOAT:
                floating[i] += 1
                max_float[i] = max(max_float[i], foot)
    return [{"kin_frames": int(frames[i]), "max_obj_penetration_mm": max(pen[i, 0], 0.0) * MM,
             "max_ground_penetration_mm": max(pen[i, 1], 0.0) * MM,
             "max_obj_ground_penetration_mm": max(pen[i, 2], 0.0) * MM, "frames_contact_apart": int(apart[i]),
             "frames_foot_floating": int(floating[i]),
             "max_foot_float_mm": max_float[i] * MM if math.isfinite(max_float[i]) else None} for i in range(n)]


@dataclass
class _PdTrace:
    """What a batched PD replay records per control step k (1..K): sim and reference bodies [K,n,52,3], object
    poses [K,n,3|4]; per env [n]: the last step survived and the root drop (m) after the reset."""

    sim_pos: list[np.ndarray]
    ref_pos: list[np.ndarray]
    sim_obj: list[tuple[np.ndarray, np.ndarray]]
    ref_obj: list[tuple[np.ndarray, np.ndarray]]
    survived: np.ndarray
    drop: np.ndarray


def _pd_trace(sim: MujocoBackend, lib: MotionLibrary, steps: np.ndarray) -> _PdTrace:
    """Step the batch from its frame-0 reset for ``steps.max()`` control steps, PD targets on each clip's next
    reference DOFs; an env stops counting at its own ``steps[i]`` or when it falls."""
    n, dt = lib.num_motions, float(sim.control_dt)
    ids = torch.arange(n)
    tr = _PdTrace([], [], [], [], np.zeros(n, int), np.zeros(n))
    alive = np.ones(n, bool)
    for k in range(1, int(steps.max()) + 1):
        ref = lib.state(ids, torch.full((n,), k * dt))
        sim.set_pd_targets(ref.dof_pos)
        sim.step()
        st = sim.state()
        root_z = st.root_pos[:, 2].cpu().numpy()
        if k * dt <= DROP_WINDOW_S + 1e-9:
            drop = ref.root_pos[:, 2].cpu().numpy() - root_z
            tr.drop = np.where(alive, np.maximum(tr.drop, drop), tr.drop)
        active = alive & (k <= steps)
        fell = st.bad.cpu().numpy() | (root_z < FALL_HEIGHT)
        alive &= ~(active & fell)
        tr.survived[active & ~fell] = k
        tr.sim_pos.append(st.body_pos.double().cpu().numpy())
        tr.ref_pos.append(ref.body_pos.double().cpu().numpy())
        tr.sim_obj.append((st.obj_pos.double().cpu().numpy(), st.obj_quat.double().cpu().numpy()))
        tr.ref_obj.append((ref.obj_pos.double().cpu().numpy(), ref.obj_quat.double().cpu().numpy()))
    return tr


def replay_pd_batch(sim: MujocoBackend, lib: MotionLibrary, motions: Sequence[HOIMotion],
                    max_seconds: float | None = None) -> list[dict]:
    """PD-tracking figures of every clip of the batch (module docstring)."""
    dt = float(sim.control_dt)
    duration = np.array([(m.num_frames - 1) / m.fps for m in motions])
    if max_seconds is not None:
        duration = np.minimum(duration, max_seconds)
    steps = np.floor(duration / dt + 1e-6).astype(int)
    reset_to_start(sim, lib)
    tr = _pd_trace(sim, lib, steps)
    rows = []
    for i, m in enumerate(motions):
        s = int(tr.survived[i])
        row = {"reset_drop_mm": float(tr.drop[i]) * MM, "pd_steps": int(steps[i]), "frames_survived": s,
               "seconds_survived": s * dt, "survived_all": s == int(steps[i]),
               "mpjpe_mm": None, "mpjpe22_mm": None, "object_error_mm": None}
        if s:
            sp = np.stack([p[i] for p in tr.sim_pos[:s]])
            rp = np.stack([p[i] for p in tr.ref_pos[:s]])
            row["mpjpe_mm"] = mpjpe(sp, rp)
            row["mpjpe22_mm"] = mpjpe(sp, rp, body_ids(BODY_JOINTS_22))
            so = [np.stack([o[j][i] for o in tr.sim_obj[:s]]) for j in (0, 1)]
            ro = [np.stack([o[j][i] for o in tr.ref_obj[:s]]) for j in (0, 1)]
            row["object_error_mm"] = object_error(so[0], so[1], ro[0], ro[1],
                                                  surface_points(m.obj_vertices, m.obj_faces))
        rows.append(row)
    return rows


def replay_batch(motions: Sequence[HOIMotion], cfg: SimConfig, opts: ReplayOptions | None = None,
                 batch: int = 0) -> list[dict]:
    """One row per clip (module docstring) from one batched simulation of all ``motions`` (env i = clip i):
    asset identity, ``reset_error_mm``, then the figures of each mode in ``opts.modes``."""
    opts = opts or ReplayOptions()
    if not motions:
        raise InputError("replay: no clips given")
    lib, sim = build_batch(motions, cfg, opts)
    try:
        rows = asset_rows(lib, batch)
        for row, err in zip(rows, reset_errors_mm(sim, lib, motions)):
            row["reset_error_mm"] = float(err)
        for mode in sorted(opts.modes, key=MODES[::-1].index):  # kinematic first, as before
            run = replay_kinematic if mode == "kinematic" else replay_pd_batch
            for row, extra in zip(rows, run(sim, lib, motions, opts.max_seconds)):
                row.update(extra)
    finally:
        sim.close()
    return rows


def replay_pd(motion: HOIMotion, cfg: SimConfig, max_seconds: float | None = None, collision: str = "coacd"
              ) -> dict:
    """PD-replay figures of one clip alone (a batch of one, one thread): its row of :func:`replay_batch`."""
    return replay_batch([motion], cfg, ReplayOptions(("pd",), max_seconds, collision, nthread=1))[0]
