"""GPU throughput: the HOI env on the mujoco-warp backend against bare mujoco-warp stepping of the same model.

For each N (default 1024, 4096, 8192 on CUDA; 4 and 16 on Warp's CPU device) it measures, in one process:
- ``bare``: ``mujoco_warp.step`` × 8 (one control step at 1/240 s physics, 30 Hz control) on the backend's own
  ``Model``/``Data``, captured in one graph and replayed when the backend captures its own step (always on CUDA),
  launched one by one otherwise — the least a control step can cost;
- ``backend``: ``MjWarpBackend.step()`` + ``state()`` (the 8 steps + ``forward`` at the new state + per-body contact
  forces + the torch state gather);
- ``env``: ``HOIEnv.step(actions)`` (backend + reference interpolation, observations, rewards, terminations,
  resets of finished envs), on a synthetic walking-with-a-box clip.
Figures are env control-steps per second (N × control steps / wall time); ``"ratio"`` is env / bare at the
largest N. Without a GPU the figures come from Warp's CPU device and say nothing about GPU speed: GPU figures are
pending until the script runs on a CUDA machine (``docs/gpu.md``).
Ends with one JSON line.

Usage: ``python benchmarks/gpu_throughput.py [--device auto|cuda:0|cpu] [--num-envs 1024,4096,8192]
[--steps 50] [--warmup 5]``.
"""

from __future__ import annotations

import argparse
import platform
import time
from typing import Any

import torch

from hoi_sim.io_utils import dumps_json


def _sync(device: torch.device) -> None:
    import warp as wp

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        wp.synchronize_device(f"cuda:{device.index or 0}")


def _rate(fn: Any, n: int, steps: int, device: torch.device) -> float:
    """env control-steps per second of ``steps`` calls of ``fn`` on ``n`` envs."""
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    _sync(device)
    return n * steps / (time.perf_counter() - t0)


def measure(n: int, device: str, steps: int, warmup: int) -> dict[str, Any]:
    """Figures for ``n`` envs on the Warp device ``device``."""
    import mujoco_warp as mjw
    import warp as wp

    from hoi_sim.envs import EnvCfg, HOIEnv
    from hoi_sim.envs.toy import toy_motion
    from hoi_sim.motions.library import MotionLibrary

    t0 = time.perf_counter()
    lib = MotionLibrary([toy_motion(90, seed=0)], device=device)
    cfg = EnvCfg(num_envs=n, backend="mjwarp", device=device, state_init="random", rollout_length=300,
                 backend_kwargs={"object_collision": "bbox", "log_mapping": False})
    env = HOIEnv(cfg, lib)
    env.reset()
    backend = env.backend
    build_s = time.perf_counter() - t0
    dev = backend.device

    # bare: the same Model/Data, 8 physics steps per control step, captured like the backend's own step
    def eight() -> None:
        for _ in range(backend.cfg.physics_steps_per_control):
            mjw.step(backend.m, backend.d)

    graph = None
    if "step" in backend._graphs:  # noqa: SLF001 - capture exactly when the backend could capture its step
        with backend._scope(), wp.ScopedCapture(device=backend.wp_device) as cap:  # noqa: SLF001
            eight()
        graph = cap.graph

    def bare() -> None:
        with backend._scope():  # noqa: SLF001
            if graph is not None:
                wp.capture_launch(graph)
            else:
                eight()

    def backend_step() -> None:
        backend.step()
        backend.state()

    gen = torch.Generator(device=dev).manual_seed(0)

    def env_step() -> None:
        env.step(torch.rand(n, env.num_actions, device=dev, generator=gen) * 2 - 1)

    out: dict[str, Any] = {"num_envs": n, "build_s": round(build_s, 2), "graph": graph is not None}
    for name, fn in (("bare", bare), ("backend", backend_step), ("env", env_step)):
        for _ in range(warmup):
            fn()
        out[name] = round(_rate(fn, n, steps, dev), 1)
        env.reset()  # bare/backend steps leave the env's bookkeeping behind the physics; start it afresh
    out["ratio"] = round(out["env"] / out["bare"], 3)
    out["contacts"] = backend.contact_counts()
    env.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto", help="auto (cuda:0 if Warp sees a GPU, else cpu), cuda:0 or cpu")
    ap.add_argument("--num-envs", default=None, help="comma-separated N (default 1024,4096,8192 on CUDA, 4,16 on cpu)")
    ap.add_argument("--steps", type=int, default=None, help="timed control steps per measurement (50 CUDA, 3 cpu)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed control steps first (5 CUDA, 1 cpu)")
    args = ap.parse_args()

    from hoi_sim.sim.mjwarp import init_warp, resolve_warp_device

    cache = init_warp()
    device = resolve_warp_device(args.device)
    cuda = device.startswith("cuda")
    ns = [int(x) for x in (args.num_envs or ("1024,4096,8192" if cuda else "4,16")).split(",")]
    steps = args.steps or (50 if cuda else 3)
    warmup = args.warmup if args.warmup is not None else (5 if cuda else 1)
    gpu_name = torch.cuda.get_device_name(0) if cuda and torch.cuda.is_available() else None
    print(f"device {device}{f' ({gpu_name})' if gpu_name else ''}, Warp kernel cache {cache}, "
          f"{steps} timed control steps per figure; env control-steps/s (N × control steps / s)", flush=True)
    print(f"{'N':>6} {'bare':>10} {'backend':>10} {'env':>10} {'env/bare':>9}  build s", flush=True)
    results = []
    for n in ns:
        r = measure(n, device, steps, warmup)
        results.append(r)
        print(f"{n:>6} {r['bare']:>10.1f} {r['backend']:>10.1f} {r['env']:>10.1f} {r['ratio']:>9.3f}  "
              f"{r['build_s']:.1f}", flush=True)
    if not cuda:
        print("no CUDA device: these are Warp CPU-device figures; GPU figures are pending (see docs/gpu.md)")
    print(dumps_json({"benchmark": "gpu_throughput", "device": device, "gpu": gpu_name,
                      "gpu_figures": "measured" if cuda else "pending", "host": platform.node(),
                      "steps": steps, "results": results, "ratio": results[-1]["ratio"]}))


if __name__ == "__main__":
    main()
