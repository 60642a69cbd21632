"""Env throughput, bare-stepping half: ``mujoco.rollout`` on the scene the env uses (humanoid + object + ground).

Measures, for N envs (default 64) of one MjModel:
- ``bare``: open-loop-per-control-step rollout, the state fed back each control step (8 physics steps, no Python
  work between chunks beyond copying states) — the baseline the env is compared against;
- ``backend``: ``MujocoBackend.step()`` + ``state()``, i.e. the rollout plus the per-env ``mj_forward`` that
  refreshes bodies/contacts and the torch conversion;
- ``single``: one MjData stepped with ``mj_step`` in Python (no threads), for scale.
Figures are physics env-steps per second (N × physics steps / wall time) and control env-steps per second
(÷ 8), and the same per CPU second of this process (all threads), which other load on the machine barely moves;
rounds alternate the measurements and the best of each is kept.
Env half: ``env`` = ``HOIEnv.step`` (reward, terminations, resets, 2 × 1599 observations) on the same backend
object, as control env-steps/s; ``"ratio"`` = env ÷ bare control env-steps/s (target ≥ 0.75), ``"ratio_cpu"``
the same per CPU second.
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


def _timed(fn, work: float) -> tuple[float, float]:
    """(work / wall seconds, work / CPU seconds of this process, all threads) of ``fn()``."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return work / (time.perf_counter() - w0), work / max(time.process_time() - c0, 1e-9)


def bare_rollout(sim: MujocoBackend, steps: int, nthread: int) -> tuple[float, float]:
    """Physics env-steps per wall second and per CPU second of plain ``Rollout.rollout`` chunks of one control
    step, state fed back."""
    m, n, nstep = sim.model, sim.num_envs, sim.cfg.physics_steps_per_control
    spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    state = np.empty((n, mujoco.mj_stateSize(m, spec)))
    for i, d in enumerate(sim.datas):
        mujoco.mj_getState(m, d, state[i], spec)
    ctrl = sim._ctrl[:, None, :].copy()
    datas = [mujoco.MjData(m) for _ in range(nthread)]
    with mujoco.rollout.Rollout(nthread=nthread) as r:
        r.rollout(m, datas, state, ctrl, nstep=nstep)  # warm-up

        def run() -> None:
            nonlocal state
            for _ in range(steps):
                out, _ = r.rollout(m, datas, state, ctrl, nstep=nstep)
                state = out[:, -1].copy()

        return _timed(run, n * nstep * steps)


def backend_steps(sim: MujocoBackend, steps: int) -> tuple[float, float]:
    """Physics env-steps per wall / CPU second of ``MujocoBackend.step()`` + ``state()``."""
    targets = sim.state().dof_pos
    sim.set_pd_targets(targets)
    sim.step()

    def run() -> None:
        for _ in range(steps):
            sim.set_pd_targets(targets)
            sim.step()
            sim.state()

    return _timed(run, sim.num_envs * sim.cfg.physics_steps_per_control * steps)


def single(sim: MujocoBackend, steps: int) -> tuple[float, float]:
    """Steps per wall / CPU second of one MjData stepped with ``mj_step`` from Python."""
    m = sim.model
    d = mujoco.MjData(m)
    d.qpos[:] = sim.datas[0].qpos
    d.ctrl[:] = sim.datas[0].ctrl
    n = steps * sim.cfg.physics_steps_per_control

    def run() -> None:
        for _ in range(n):
            mujoco.mj_step(m, d)

    return _timed(run, n)


# ---------------------------------------------------------------------------------------------- env half
def _env_library(object_name: str):
    """A MotionLibrary for the env: the toy clip for ``box``, else the first OMOMO_new clip of that object."""
    from hoi_sim.envs.toy import toy_motion
    from hoi_sim.motions.library import MotionLibrary

    if object_name == "box":
        return MotionLibrary([toy_motion(300)])
    from pathlib import Path

    from hoi_sim.motions.intermimic import from_intermimic

    data = Path(os.environ.get("HOI_SIM_OMOMO", Path(__file__).resolve().parents[2] / "shared" / "data" /
                               "intermimic" / "OMOMO_new"))
    clip = sorted(data.glob(f"*_{object_name}_*.pt"))[0]
    objects = os.environ.get("HOI_SIM_OBJECTS", str(data.parent / "objects"))
    return MotionLibrary([from_intermimic(clip, objects)])


def make_env(sim: MujocoBackend, object_name: str, reward: str):
    """``HOIEnv`` on the benchmark's own backend (the same MjModel as ``bare``), hybrid starts, all terminations."""
    from hoi_sim.envs import EnvCfg, HOIEnv

    cfg = EnvCfg(num_envs=sim.num_envs, backend="mujoco", reward=reward, state_init="hybrid", seed=0)
    env = HOIEnv(cfg, _env_library(object_name), backend=sim)
    env.reset()
    return env


def env_steps(env, steps: int) -> tuple[float, float]:
    """Control env-steps per wall / CPU second of ``HOIEnv.step`` (PD targets holding the current pose, so that
    episodes run on; resets and observations included)."""
    hold = (env.state.dof_pos - env.action_offset) / env.action_scale
    env.step(hold)

    def run() -> None:
        for _ in range(steps):
            env.step(hold)

    return _timed(run, env.num_envs * steps)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--num-envs", type=int, default=64)
    ap.add_argument("--steps", type=int, default=30, help="control steps timed")
    ap.add_argument("--object", default="box", help="box (30 cm) or an object name under $HOI_SIM_OBJECTS")
    ap.add_argument("--nthread", type=int, default=0, help="rollout threads (0: one per core)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each figure is kept")
    ap.add_argument("--reward", default="tr_lr_cr", help="reward set of the env half")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    nthread = args.nthread or os.cpu_count() or 1
    cfg = SimConfig.for_backend("mujoco")
    sim = MujocoBackend(args.num_envs, hulls=_hulls(args.object), cfg=cfg, nthread=nthread, log_mapping=False)
    res = {"benchmark": "env_throughput", "num_envs": args.num_envs, "object": args.object,
           "nthread": nthread, "cpu_count": os.cpu_count(), "mujoco": mujoco.__version__,
           "physics_steps_per_control": cfg.physics_steps_per_control, "ngeom": sim.model.ngeom}
    no_gap = MujocoBackend(args.num_envs, hulls=_hulls(args.object), nthread=nthread, log_mapping=False,
                           cfg=cfg.with_overrides(use_contact_offset=False))
    # rounds alternate the measurements so that load from other processes hits them alike; best of each is kept
    env = make_env(sim, args.object, args.reward)
    runs: dict[str, list[tuple[float, float]]] = {k: [] for k in ("bare", "backend", "no_gap", "single", "env")}
    for _ in range(max(1, args.rounds)):
        runs["env"].append(env_steps(env, args.steps))
        runs["bare"].append(bare_rollout(sim, args.steps, nthread))
        runs["backend"].append(backend_steps(sim, args.steps))
        runs["no_gap"].append(backend_steps(no_gap, args.steps))
        runs["single"].append(single(sim, args.steps))
    names = {"bare": "bare_physics_env_steps", "backend": "backend_physics_env_steps",
             "no_gap": "backend_no_contact_offset_physics_env_steps", "single": "single_env_steps"}
    for key, name in names.items():
        res[f"{name}_per_s"] = max(w for w, _ in runs[key])
        res[f"{name}_per_cpu_s"] = max(c for _, c in runs[key])
    res["load_average_1min"] = os.getloadavg()[0]
    k = cfg.physics_steps_per_control
    res["bare_control_env_steps_per_s"] = res["bare_physics_env_steps_per_s"] / k
    res["backend_control_env_steps_per_s"] = res["backend_physics_env_steps_per_s"] / k
    res["backend_vs_bare"] = res["backend_physics_env_steps_per_s"] / res["bare_physics_env_steps_per_s"]
    res["backend_vs_bare_cpu"] = (res["backend_physics_env_steps_per_cpu_s"]
                                  / res["bare_physics_env_steps_per_cpu_s"])
    res["env_control_env_steps_per_s"] = max(w for w, _ in runs["env"])
    res["env_control_env_steps_per_cpu_s"] = max(c for _, c in runs["env"])
    res["env_reward"] = args.reward
    res["ratio"] = res["env_control_env_steps_per_s"] / res["bare_control_env_steps_per_s"]
    res["ratio_cpu"] = (res["env_control_env_steps_per_cpu_s"]
                        / (res["bare_physics_env_steps_per_cpu_s"] / k))
    print(f"scene: humanoid + {args.object} ({sim.model.ngeom} geoms), {args.num_envs} envs, {nthread} threads")
    print(f"bare mujoco.rollout : {res['bare_physics_env_steps_per_s']:9.0f} physics env-steps/s "
          f"({res['bare_control_env_steps_per_s']:.0f} control env-steps/s)")
    print(f"MujocoBackend.step  : {res['backend_physics_env_steps_per_s']:9.0f} physics env-steps/s "
          f"({res['backend_control_env_steps_per_s']:.0f} control env-steps/s, "
          f"{100 * res['backend_vs_bare']:.0f}% of bare)")
    print(f"  without contact offset (gap 0): {res['backend_no_contact_offset_physics_env_steps_per_s']:9.0f}")
    print(f"single MjData mj_step: {res['single_env_steps_per_s']:9.0f} steps/s")
    print("per CPU-second (robust to other load): bare {:.0f}, backend {:.0f} ({:.0f}%), no gap {:.0f}, single {:.0f};"
          " load average {:.1f}".format(
              res["bare_physics_env_steps_per_cpu_s"], res["backend_physics_env_steps_per_cpu_s"],
              100 * res["backend_vs_bare_cpu"], res["backend_no_contact_offset_physics_env_steps_per_cpu_s"],
              res["single_env_steps_per_cpu_s"], res["load_average_1min"]))
    print(f"HOIEnv.step ({args.reward}): {res['env_control_env_steps_per_s']:9.0f} control env-steps/s "
          f"(ratio to bare {res['ratio']:.2f}; per CPU-second {res['ratio_cpu']:.2f})")
    sim.close()
    no_gap.close()
    print(json.dumps(res))
    return res


if __name__ == "__main__":
    main()
