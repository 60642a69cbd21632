"""Env throughput: ``HOIEnv.step`` against bare ``mujoco.rollout`` of the same scene, in the same process.

The env is the one ``hoi-sim train train=PRESET`` builds (default preset ``cpu_track``, reward ``tr_lr_cr``, 64
envs): composed with Hydra, on a real clip (default: the first ``*_largetable_*.pt`` of the shared OMOMO_new
folder, ``$HOI_SIM_OMOMO``; the synthetic toy clip when that folder is missing). Measured, alternating in rounds
so that load from other processes hits every figure alike (the best of each is kept, and each round's own ratio
is kept too):
- ``bare``: ``mujoco.rollout`` of the backend's ``model`` replaying the physics of ``steps`` recorded env steps (each
  from its start states with its PD targets, 8 physics steps per call), on as many threads as the backend — the
  env's own physics work with nothing else, the baseline;
- ``backend``: ``MujocoBackend.step()`` + ``state()`` (the physics with the contact sensors on in its last substep,
  the contact forces and the state tensors);
- ``env``: ``HOIEnv.step`` (actions → PD targets, backend, reward, terminations, resets, observations) with
  σ = 0.2 Gaussian actions around the reference (residual mode) or the current pose (absolute mode).
Figures are control env-steps per second (N × steps / wall time) and per CPU second of this process (all threads).
``"ratio"`` = env ÷ bare control env-steps/s in wall time (target ≥ 0.75); ``"ratio_paired_median"`` the median
over rounds of the same ratio within one round. A last, separate pass times the parts of ``HOIEnv.step``
(``"breakdown_cpu_ms"``: exclusive main-thread CPU ms per control step of each serial part, CPU ms of all threads
for the backend's threaded calls — CPU time, which load from other processes distorts far less than wall time).
``"ratio_quiet_estimate"`` = (bare CPU ms / threads) ÷ (threaded CPU ms / threads + serial CPU ms): the wall-time
ratio on a machine with nothing else running, the figure to read when the load average exceeds the thread count.
``--extras`` adds the backend without the contact offset and one ``MjData`` stepped with ``mj_step`` from Python.
Then, unless ``--no-mixed``, ``benchmarks/mixed_subset.py``: a batch mixing 3 objects and 2 skeletons against single
clips with the same number of envs, as ``"mixed_vs_single"`` (target ≥ 0.85).
Ends with one JSON line.

Usage: ``python benchmarks/env_throughput.py [--num-envs 64] [--steps 20] [--rounds 5] [--preset cpu_track]
[--reward tr_lr_cr] [--clip PATH] [--extras]``.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mujoco
import mujoco.rollout
import numpy as np
import torch

from hoi_sim.io_utils import dumps_json

ACTION_STD = 0.2
"""σ of the benchmark's Gaussian actions (cpu_track's initial policy σ)."""


def default_clip() -> Path | None:
    """The first ``*_largetable_*.pt`` of the shared OMOMO_new folder, or None when it is not there."""
    data = Path(os.environ.get("HOI_SIM_OMOMO", Path(__file__).resolve().parents[2] / "shared" / "data" /
                               "intermimic" / "OMOMO_new"))
    clips = sorted(data.glob("*_largetable_*.pt"))
    return clips[0] if clips else None


def build_env(preset: str, reward: str, num_envs: int, clip: str | None, tmp: str) -> Any:
    """``HOIEnv`` as ``hoi-sim train train=<preset>`` builds it, on ``clip`` (default :func:`default_clip`, else
    the toy clip)."""
    import mixed_subset  # beside this script

    if clip is None:
        found = default_clip()
        if found is None:
            from hoi_sim.envs.toy import toy_motion
            from hoi_sim.motions import save_motion

            found = save_motion(toy_motion(300), Path(tmp) / "toy.npz")
        clip = str(found)
    return mixed_subset.build_env(preset, reward, num_envs, clip, tmp)


def _timed(fn: Callable[[], None], work: float) -> tuple[float, float]:
    """(work / wall seconds, work / CPU seconds of this process, all threads) of ``fn()``."""
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return work / (time.perf_counter() - w0), work / max(time.process_time() - c0, 1e-9)


class Actions:
    """The benchmark's actions: σ-Gaussian around the reference (residual mode) or the current pose (absolute)."""

    def __init__(self, env: Any, seed: int = 0) -> None:
        self.env = env
        self.gen = torch.Generator().manual_seed(seed)
        self.residual = getattr(getattr(env.cfg, "action", None), "mode", "absolute") == "residual"

    def __call__(self) -> torch.Tensor:
        env = self.env
        noise = ACTION_STD * torch.randn(env.num_envs, env.num_actions, generator=self.gen)
        if self.residual or env.num_actions != env.state.dof_pos.shape[1]:
            return noise
        return (env.state.dof_pos - env.action_offset) / env.action_scale + noise


def env_steps(env: Any, actions: Actions, steps: int) -> tuple[float, float]:
    """Control env-steps per wall / CPU second of ``HOIEnv.step`` (resets and observations included)."""
    acts = [actions() for _ in range(steps)]  # drawn outside the timed part

    def run() -> None:
        for a in acts:
            env.step(a)

    return _timed(run, env.num_envs * steps)


class Bare:
    """``mujoco.rollout`` replaying the physics of recorded env steps: from each step's start states, with its PD
    targets and the backend's warm start, one call of ``physics_steps_per_control`` physics steps per control
    step — the env's physics work (bit-identical: the backend steps exactly so), with nothing else."""

    def __init__(self, env: Any, actions: Actions, steps: int, nthread: int) -> None:
        sim = env.backend
        m = sim.model
        spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self.model, self.nstep = m, sim.cfg.physics_steps_per_control
        self.record: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        targets: list[np.ndarray] = []
        set_targets = sim.set_pd_targets

        def capture(t: torch.Tensor) -> None:
            set_targets(t)
            targets.append(sim._ctrl.copy())  # the controls of the coming step (both backends keep them so)

        sim.set_pd_targets = capture
        for _ in range(steps):  # untimed: the MjData of every env before each step
            datas = sim.datas
            state = np.stack([np.empty(mujoco.mj_stateSize(m, spec)) for _ in datas])
            for i, d in enumerate(datas):
                mujoco.mj_getState(m, d, state[i], spec)
            warm = np.stack([d.qacc_warmstart for d in datas])
            env.step(actions())
            self.record.append((state, targets[-1][:, None, :], warm))
        del sim.set_pd_targets  # back to the class's method
        self.datas = [mujoco.MjData(m) for _ in range(nthread)]
        self.rollout = mujoco.rollout.Rollout(nthread=nthread)
        self.rollout.rollout(m, self.datas, *self.record[0][:2], nstep=self.nstep)  # warm-up

    def steps(self) -> tuple[float, float]:
        """Control env-steps per wall / CPU second of replaying the recorded steps."""

        def run() -> None:
            for state, ctrl, warm in self.record:
                self.rollout.rollout(self.model, self.datas, state, ctrl, nstep=self.nstep, initial_warmstart=warm)

        return _timed(run, len(self.record[0][0]) * len(self.record))

    def close(self) -> None:
        self.rollout.close()


def backend_steps(sim: Any, steps: int) -> tuple[float, float]:
    """Control env-steps per wall / CPU second of ``step()`` + ``state()`` (PD targets: the current pose)."""
    targets = sim.state().dof_pos
    sim.set_pd_targets(targets)

    def run() -> None:
        for _ in range(steps):
            sim.step()
            sim.state()

    return _timed(run, sim.num_envs * steps)


def single(sim: Any, steps: int) -> tuple[float, float]:
    """Physics steps per wall / CPU second of one MjData stepped with ``mj_step`` from Python."""
    m, d = sim.model, mujoco.MjData(sim.model)
    src = sim.datas[0]
    d.qpos[:], d.ctrl[:] = src.qpos, src.ctrl
    n = steps * sim.cfg.physics_steps_per_control

    def run() -> None:
        for _ in range(n):
            mujoco.mj_step(m, d)

    return _timed(run, n)


# ---------------------------------------------------------------------------------------------- breakdown
class _Clock:
    """Exclusive CPU time per label of wrapped callables: main-thread CPU for serial parts (a wrapped call inside
    another one counts for its own label only), CPU of the whole process for the backend's threaded calls."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = defaultdict(float)
        self.threaded: set[str] = set()
        self.threaded_main_ms = 0.0  # the main thread's share of the threaded calls
        self._stack: list[list[float]] = []  # [main-thread CPU at entry, main-thread CPU of wrapped callees]

    def wrap(self, owner: Any, name: str, label: str, threaded: bool = False) -> None:
        """Time ``owner.name`` under ``label`` (skipped when ``owner`` has no such attribute)."""
        fn = getattr(owner, name, None) if owner is not None else None
        if fn is None:
            return
        if threaded:
            self.threaded.add(label)

        @functools.wraps(fn)
        def timed(*a: Any, **k: Any) -> Any:
            frame = [time.thread_time(), 0.0]
            proc = time.process_time()
            self._stack.append(frame)
            try:
                return fn(*a, **k)
            finally:
                self._stack.pop()
                main = time.thread_time() - frame[0]
                if threaded:
                    self.ms[label] += 1000 * (time.process_time() - proc)
                    self.threaded_main_ms += 1000 * main
                else:
                    self.ms[label] += 1000 * (main - frame[1])
                if self._stack:
                    self._stack[-1][1] += main

        setattr(owner, name, timed)


class _TimedCall:
    """A callable object whose calls are timed (``RewardSet`` is called through its class's ``__call__``)."""

    def __init__(self, inner: Any, clock: _Clock, label: str) -> None:
        self._inner = inner
        self._call = inner.__call__
        clock.wrap(self, "_call", label)

    def __call__(self, *a: Any, **k: Any) -> Any:
        return self._call(*a, **k)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def breakdown(env: Any, actions: Actions, steps: int) -> tuple[dict[str, float], set[str], float]:
    """CPU ms per control step of each part of ``HOIEnv.step`` over ``steps`` steps (wrappers are installed on
    this env's objects only, after the timed rounds): exclusive main-thread CPU of the serial parts, process CPU
    of the backend's threaded calls (their labels are returned too), and the wall ms per control step."""
    clock = _Clock()
    sim = env.backend
    batch, rollout = getattr(sim, "_batch", None), getattr(sim, "_rollout", None)
    if batch is not None:  # MujocoBackend on mujoco.batch
        clock.wrap(batch, "step", "backend: physics (Batch.step, threaded)", threaded=True)
        clock.wrap(batch, "forward", "backend: mj_forward (threaded)", threaded=True)  # at resets only now
    if rollout is not None:  # the earlier MujocoBackend: rollout + a loop over MjData
        clock.wrap(rollout, "rollout", "backend: physics (mujoco.rollout, threaded)", threaded=True)
        clock.wrap(mujoco, "mj_forward", "backend: mj_forward per env (serial)")
        clock.wrap(sim, "_refresh", "backend: copy-back + contact decoding per env")
    clock.wrap(sim, "step", "backend: step() rest")
    clock.wrap(sim, "reset", "backend: reset() rest")
    clock.wrap(sim, "state", "backend: state() tensors")
    clock.wrap(env, "reset_envs", "env: resets (reference state init)")
    clock.wrap(env, "observe", "observations")
    clock.wrap(env, "_terminations", "terminations")
    clock.wrap(env, "_bad", "bad-env check")
    clock.wrap(env.lib, "state", "library: reference queries")
    clock.wrap(env.lib, "dof_pos", "library: reference queries")
    clock.wrap(getattr(env, "action_map", None), "targets", "actions → PD targets")
    if hasattr(env, "reward_set"):
        env.reward_set = _TimedCall(env.reward_set, clock, "reward")
    acts = [actions() for _ in range(steps)]
    t, c = time.perf_counter(), time.thread_time()
    for a in acts:
        env.step(a)
    wall, main = 1000 * (time.perf_counter() - t), 1000 * (time.thread_time() - c)
    serial_labelled = sum(v for k, v in clock.ms.items() if k not in clock.threaded)
    out = {k: v / steps for k, v in sorted(clock.ms.items(), key=lambda kv: -kv[1])}
    out["env: other (HOIEnv.step glue, PSI, info)"] = (main - clock.threaded_main_ms - serial_labelled) / steps
    return out, clock.threaded, wall / steps


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--num-envs", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20, help="control steps per measurement")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds; the best of each figure is kept")
    ap.add_argument("--preset", default="cpu_track", help="train preset (hoi_sim/cfg/train) the env is built from")
    ap.add_argument("--reward", default="tr_lr_cr", help="reward set")
    ap.add_argument("--clip", default=None, help="motion file (default: first OMOMO_new largetable clip, else toy)")
    ap.add_argument("--extras", action="store_true", help="also: backend without contact offset, single mj_step")
    ap.add_argument("--no-mixed", action="store_true", help="skip the mixed-subset figure (benchmarks/mixed_subset.py)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="hoi_sim_bench_") as tmp:
        env = build_env(args.preset, args.reward, args.num_envs, args.clip, tmp)
    sim = env.backend
    nthread = sim.host_threads  # the batch's thread count: the bare rollout gets the same
    actions = Actions(env)
    env.step(actions())  # warm-up
    bare = Bare(env, actions, args.steps, nthread)
    k = sim.cfg.physics_steps_per_control
    res: dict[str, Any] = {
        "benchmark": "env_throughput", "num_envs": args.num_envs, "preset": args.preset, "reward": args.reward,
        "clip": env.lib.names[0], "object": env.lib.object_names[0], "nthread": nthread,
        "cpu_count": os.cpu_count(), "mujoco": mujoco.__version__, "physics_steps_per_control": k,
        "ngeom": sim.model.ngeom, "use_contact_offset": bool(sim.cfg.use_contact_offset),
        "action_mode": "residual" if actions.residual else "absolute"}
    runs: dict[str, list[tuple[float, float]]] = defaultdict(list)
    paired: list[float] = []
    no_gap = None
    if args.extras:
        from hoi_sim.sim.mujoco import MujocoBackend

        no_gap = MujocoBackend(args.num_envs, offsets=env.lib.skeleton_offsets[0].numpy(),
                               hulls=_object_hulls(env), nthread=nthread, log_mapping=False,
                               cfg=sim.cfg.with_overrides(use_contact_offset=False),
                               motion_mass_mode=env.lib.mass_modes[0])
    for _ in range(max(1, args.rounds)):
        runs["env"].append(env_steps(env, actions, args.steps))
        runs["bare"].append(bare.steps())
        paired.append(runs["env"][-1][0] / runs["bare"][-1][0])
        runs["backend"].append(backend_steps(sim, args.steps))
        env.step(actions())  # the env carries on from the backend's state (a control step it did not see)
        if no_gap is not None:
            runs["no_gap"].append(backend_steps(no_gap, args.steps))
            runs["single"].append(single(sim, args.steps))
    for key in runs:
        res[f"{key}_control_env_steps_per_s" if key != "single" else "single_physics_steps_per_s"] = \
            max(w for w, _ in runs[key])
        res[f"{key}_control_env_steps_per_cpu_s" if key != "single" else "single_physics_steps_per_cpu_s"] = \
            max(c for _, c in runs[key])
    bare_w, bare_c = res["bare_control_env_steps_per_s"], res["bare_control_env_steps_per_cpu_s"]
    res["backend_vs_bare"] = res["backend_control_env_steps_per_s"] / bare_w
    res["ratio"] = res["env_control_env_steps_per_s"] / bare_w
    res["ratio_paired_median"] = statistics.median(paired)
    res["ratio_cpu"] = res["env_control_env_steps_per_cpu_s"] / bare_c
    parts, threaded, wall_ms = breakdown(env, actions, args.steps)
    res["breakdown_cpu_ms"] = {key: round(v, 2) for key, v in parts.items()}
    res["breakdown_threaded"] = sorted(threaded)
    par = sum(v for key, v in parts.items() if key in threaded)
    ser = sum(v for key, v in parts.items() if key not in threaded)
    res["bare_ms_per_control_step"] = 1000 * args.num_envs / bare_w
    # quiet-machine estimate from CPU times: the threaded calls spread over nthread cores, the rest is serial
    bare_cpu_ms = 1000 * args.num_envs / bare_c
    res["env_cpu_ms_per_control_step"] = {"threaded": round(par, 2), "serial": round(ser, 2),
                                          "wall_ms_breakdown_pass": round(wall_ms, 2)}
    res["bare_cpu_ms_per_control_step"] = round(bare_cpu_ms, 2)
    res["ratio_quiet_estimate"] = (bare_cpu_ms / nthread) / (par / nthread + ser)
    res["load_average_1min"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
    bare.close()
    env.close()
    print(f"env: preset {args.preset}, reward {args.reward}, clip {res['clip']} ({res['object']}, {sim.model.ngeom} "
          f"geoms, contact offset {'on' if res['use_contact_offset'] else 'off'}), {args.num_envs} envs, "
          f"{nthread} threads; load average {load0:.1f} → {os.getloadavg()[0]:.1f}")
    print(f"bare mujoco.rollout  : {bare_w:8.0f} control env-steps/s ({res['bare_ms_per_control_step']:.1f} ms per "
          "control step)")
    print(f"MujocoBackend        : {res['backend_control_env_steps_per_s']:8.0f} ({100 * res['backend_vs_bare']:.0f}% "
          "of bare)")
    print(f"HOIEnv.step          : {res['env_control_env_steps_per_s']:8.0f} (ratio {res['ratio']:.2f}; paired "
          f"median {res['ratio_paired_median']:.2f}; per CPU-second {res['ratio_cpu']:.2f})")
    print(f"CPU ms per control step: bare {bare_cpu_ms:.1f}; env {par:.1f} in threaded calls + {ser:.1f} serial → "
          f"quiet-machine estimate of the ratio {res['ratio_quiet_estimate']:.2f}")
    if no_gap is not None:
        print(f"  backend without contact offset: {res['no_gap_control_env_steps_per_s']:.0f}; single MjData "
              f"mj_step: {res['single_physics_steps_per_s']:.0f} physics steps/s")
    print(f"where an env step's time goes (CPU ms per control step; threaded calls: all threads; quiet wall ≈ "
          f"threaded / {nthread} + serial):")
    for key, v in res["breakdown_cpu_ms"].items():
        print(f"  {key:55s} {v:7.2f}")
    if not args.no_mixed:
        import mixed_subset  # beside this script

        mixed = mixed_subset.measure(args.num_envs, args.steps, max(3, args.rounds // 2), args.preset, args.reward)
        if mixed is None:
            print("mixed subset: skipped (no ../shared/data/intermimic clips)")
        else:
            mixed_subset.report(mixed)
            res["mixed_vs_single"] = mixed["mixed_vs_single"]
            res["mixed_subset"] = mixed
    print(dumps_json(res))
    return res


def _object_hulls(env: Any) -> list:
    """The env's object hulls (coacd, cached), for the ``--extras`` backend."""
    from hoi_sim.objects.hulls import object_hulls

    name = env.lib.object_names[0]
    v, f = env.lib.object_meshes[name]
    return object_hulls(v, f, "coacd", name)


if __name__ == "__main__":
    main()
