"""Env throughput, bare-stepping half: ``mujoco.rollout`` on the scene the env uses (humanoid + object + ground).

Measures, for N envs (default 64) of one MjModel:
- ``bare``: open-loop-per-control-step rollout, the state fed back each control step (8 physics steps, no Python
  work between chunks beyond copying states) — the baseline the env is compared against;
- ``backend``: ``MujocoBackend.step()`` + ``state()``, i.e. the rollout plus the per-env ``mj_forward`` that
  refreshes bodies/contacts and the torch conversion;
- ``single``: one MjData stepped with ``mj_step`` in Python (no threads), for scale.
Figures are physics env-steps per second (N × physics steps / wall time) and control env-steps per second
(÷ 8). The env half (env-steps/s of ``HOIEnv.step`` and ``"ratio"`` against ``bare``) is added by the env.
Ends with one JSON line.

Usage: ``python benchmarks/env_throughput.py [--num-envs 64] [--steps 30] [--object box|largetable]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import mujoco
import mujoco.rollout
import numpy as np
import torch

from hoi_sim.sim.config import SimConfig
from hoi_sim.sim.mujoco import MujocoBackend


def _hulls(name: str):
    if name == "box":
        return None
    from hoi_sim.objects.hulls import convex_hulls
    from hoi_sim.objects.mesh import find_mesh, load_mesh

    root = os.environ.get("HOI_SIM_OBJECTS", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data",
                                                          "intermimic", "objects"))
    mesh = load_mesh(find_mesh(root, name))
    return convex_hulls(mesh.vertices.astype(np.float32), mesh.faces, name=name)


def bare_rollout(sim: MujocoBackend, steps: int, nthread: int) -> float:
    """Physics env-steps/s of plain ``Rollout.rollout`` chunks of one control step, state fed back."""
    m, n, nstep = sim.model, sim.num_envs, sim.cfg.physics_steps_per_control
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    state = np.empty((n, mujoco.mj_stateSize(m, spec)))
    for i, d in enumerate(sim.datas):
        mujoco.mj_getState(m, d, state[i], spec)
    ctrl = sim._ctrl[:, None, :].copy()
    datas = [mujoco.MjData(m) for _ in range(nthread)]
    with mujoco.rollout.Rollout(nthread=nthread) as r:
        r.rollout(m, datas, state, ctrl, nstep=nstep)  # warm-up
        t0 = time.perf_counter()
        for _ in range(steps):
            out, _ = r.rollout(m, datas, state, ctrl, nstep=nstep)
            state = out[:, -1].copy()
        dt = time.perf_counter() - t0
    return n * nstep * steps / dt


def backend_steps(sim: MujocoBackend, steps: int) -> float:
    """Physics env-steps/s of ``MujocoBackend.step()`` + ``state()``."""
    targets = sim.state().dof_pos
    sim.set_pd_targets(targets)
    sim.step()
    t0 = time.perf_counter()
    for _ in range(steps):
        sim.set_pd_targets(targets)
        sim.step()
        sim.state()
    dt = time.perf_counter() - t0
    return sim.num_envs * sim.cfg.physics_steps_per_control * steps / dt


def single(sim: MujocoBackend, steps: int) -> float:
    m = sim.model
    d = mujoco.MjData(m)
    d.qpos[:] = sim.datas[0].qpos
    d.ctrl[:] = sim.datas[0].ctrl
    n = steps * sim.cfg.physics_steps_per_control
    t0 = time.perf_counter()
    for _ in range(n):
        mujoco.mj_step(m, d)
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--num-envs", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30, help="control steps timed")
    ap.add_argument("--object", default="box", help="box (30 cm) or an object name under $HOI_SIM_OBJECTS")
    ap.add_argument("--nthread", type=int, default=0, help="rollout threads (0: one per core)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    nthread = args.nthread or os.cpu_count() or 1
    cfg = SimConfig.for_backend("mujoco")
    sim = MujocoBackend(args.num_envs, hulls=_hulls(args.object), cfg=cfg, nthread=nthread, log_mapping=False)
    res = {"benchmark": "env_throughput", "num_envs": args.num_envs, "object": args.object,
           "nthread": nthread, "cpu_count": os.cpu_count(), "mujoco": mujoco.__version__,
           "physics_steps_per_control": cfg.physics_steps_per_control, "ngeom": sim.model.ngeom}
    res["bare_physics_env_steps_per_s"] = bare_rollout(sim, args.steps, nthread)
    res["backend_physics_env_steps_per_s"] = backend_steps(sim, args.steps)
    res["single_env_steps_per_s"] = single(sim, args.steps)
    no_gap = MujocoBackend(args.num_envs, hulls=_hulls(args.object), nthread=nthread, log_mapping=False,
                           cfg=cfg.with_overrides(use_contact_offset=False))
    res["backend_no_contact_offset_physics_env_steps_per_s"] = backend_steps(no_gap, args.steps)
    k = cfg.physics_steps_per_control
    res["bare_control_env_steps_per_s"] = res["bare_physics_env_steps_per_s"] / k
    res["backend_control_env_steps_per_s"] = res["backend_physics_env_steps_per_s"] / k
    res["backend_vs_bare"] = res["backend_physics_env_steps_per_s"] / res["bare_physics_env_steps_per_s"]
    print(f"scene: humanoid + {args.object} ({sim.model.ngeom} geoms), {args.num_envs} envs, {nthread} threads")
    print(f"bare mujoco.rollout : {res['bare_physics_env_steps_per_s']:9.0f} physics env-steps/s "
          f"({res['bare_control_env_steps_per_s']:.0f} control env-steps/s)")
    print(f"MujocoBackend.step  : {res['backend_physics_env_steps_per_s']:9.0f} physics env-steps/s "
          f"({res['backend_control_env_steps_per_s']:.0f} control env-steps/s, "
          f"{100 * res['backend_vs_bare']:.0f}% of bare)")
    print(f"  without contact offset (gap 0): {res['backend_no_contact_offset_physics_env_steps_per_s']:9.0f}")
    print(f"single MjData mj_step: {res['single_env_steps_per_s']:9.0f} steps/s")
    sim.close()
    no_gap.close()
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
