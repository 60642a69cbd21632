"""``hoi-sim info``: versions, available backends, SMPL-X model configured or not."""

from __future__ import annotations

import argparse
import importlib
import os

from hoi_sim import __version__
from hoi_sim.provenance import library_version


def _version(dist: str) -> str:
    return library_version(dist) or "not installed"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="versions, backends, SMPL-X model status")
    p.add_argument("--sim", action="store_true", help="also print how the paper's Table 7 maps onto each backend")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(f"hoi-sim {__version__}")
    for dist in ("torch", "numpy", "mujoco", "mujoco-warp", "warp-lang", "rl-games", "gymnasium", "hydra-core",
                 "smplx", "trimesh", "coacd"):
        print(f"  {dist:12s} {_version(dist)}")
    print("sim backends:")
    print("  mujoco   (CPU)  " + ("available" if _version("mujoco") != "not installed" else "missing"))
    gpu = "missing (pip install 'hoi-sim[gpu]')"
    if _version("mujoco-warp") != "not installed":
        gpu = "installed"
        try:
            import torch

            gpu += ", CUDA available" if torch.cuda.is_available() else ", no CUDA device (runs on Warp's CPU device)"
        except Exception:  # noqa: BLE001
            pass
    print(f"  mjwarp   (GPU)  {gpu}")
    print("  isaacgym        " + ("installed" if importlib.util.find_spec("isaacgym") else "not installed (optional)"))
    model = os.environ.get("HOI_SIM_SMPLX_MODEL")
    if model:
        state = "found" if os.path.exists(model) else "MISSING"
        print(f"SMPL-X model: {model} ({state})")
    else:
        print("SMPL-X model: not configured (set HOI_SIM_SMPLX_MODEL=/path/to/models; the proxy body is used)")
    if args.sim:
        try:
            from hoi_sim.sim.table7 import describe_mapping
        except ImportError:
            print("Table 7 mapping: the physics backend is not built yet")
        else:
            print(describe_mapping())
    return 0
