"""Set-up pieces of the mujoco-warp backend (``hoi_sim.sim.mjwarp``): the Warp kernel cache, the backend options,
the overflow error and the Warp kernel that sums contact forces per humanoid body.

``init_warp`` must run before anything initialises Warp for the cache directory to take effect; the backend calls it
first thing. See ``docs/gpu.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import warp as wp
from mujoco_warp._src.support import contact_force_fn
from mujoco_warp._src.types import OverflowType, vec5

from hoi_sim.errors import HoiSimError


def warp_cache_dir() -> Path:
    """Directory of the Warp kernel cache: ``$HOI_SIM_CACHE/warp`` or ``~/.cache/hoi_sim/warp``."""
    root = os.environ.get("HOI_SIM_CACHE")
    return Path(root) / "warp" if root else Path.home() / ".cache" / "hoi_sim" / "warp"


def _warp_initialized() -> bool:
    return wp._src.context.runtime is not None  # noqa: SLF001 - no public query in warp 1.19


def init_warp(cache_dir: str | Path | None = None, verbose: bool = False) -> Path:
    """Point Warp's kernel cache at ``cache_dir`` (default :func:`warp_cache_dir`) and initialise Warp.

    Must run before anything initialises Warp to take effect; a cache directory set by the user beforehand
    (``wp.config.kernel_cache_dir`` or ``WARP_CACHE_PATH``) is kept. Returns the cache directory in use.
    """
    if not _warp_initialized():
        if cache_dir is not None or (wp.config.kernel_cache_dir is None and "WARP_CACHE_PATH" not in os.environ):
            path = Path(cache_dir) if cache_dir is not None else warp_cache_dir()
            path.mkdir(parents=True, exist_ok=True)
            wp.config.kernel_cache_dir = str(path)
        if not verbose:
            wp.config.log_level = wp.LOG_WARNING
            wp.config.quiet = True
        wp.init()
    return Path(wp.config.kernel_cache_dir or os.environ.get("WARP_CACHE_PATH", ""))


# Overflows that drop contacts or constraint rows. Solver/line-search iteration limits and EPA horizon are accuracy
# warnings, not lost contacts, and are ignored here.
DROPPING_OVERFLOWS = (OverflowType.NEFC, OverflowType.NJMAX_NNZ, OverflowType.BROADPHASE,
                      OverflowType.NARROWPHASE, OverflowType.CCD)


class ContactOverflowError(HoiSimError):
    """mujoco-warp ran out of contact or constraint buffer space (contacts would be dropped)."""


@dataclass(frozen=True)
class MjWarpOptions:
    """Settings of the mujoco-warp backend that Table 7 does not cover (``SimConfig.extra`` keys, same names).

    Attributes:
        nconmax: contacts allocated per world; the pool holds ``nconmax × N`` contacts shared by all worlds.
            With Table 7's contact offset (margin 0.2 m) every geom pair closer than 20 cm is a contact.
        njmax: constraint rows per world (a pyramidal condim-3 contact uses 4, a joint limit 1); hard per world.
        njmax_nnz: non-zeros of the sparse constraint Jacobian per world (None: mujoco-warp's default).
        warp_device: Warp device (``"cuda:0"``, ``"cpu"``) or ``"auto"`` (CUDA when available, else CPU).
        graph: capture one control step in a Warp graph and replay it: a CUDA graph on CUDA (needs Warp's
            memory pool), Warp's CPU graph replay on the CPU device (about 2× fewer Python launch costs there).
        on_overflow: ``"raise"`` (:class:`ContactOverflowError`) or ``"warn"`` (``RuntimeWarning``, once per kind).
        overflow_check_every: check the overflow bits every k control steps (each check is one small device→host
            copy on CUDA; the bits are sticky, so a later check still sees an earlier overflow).
        bad_qvel: a world whose |qvel| exceeds this (rad/s, m/s) or turns NaN is reported ``bad`` and put back
            to the model's rest pose so that it stays finite until the caller resets it.
        kernel_cache_dir: Warp kernel cache (None: :func:`warp_cache_dir`).
        verbose: let Warp print module compilation lines.
    """

    nconmax: int = 1024
    njmax: int = 512
    njmax_nnz: int | None = None
    warp_device: str = "auto"
    graph: bool = True
    on_overflow: str = "raise"
    overflow_check_every: int = 1
    bad_qvel: float = 1.0e4
    kernel_cache_dir: str | None = None
    verbose: bool = False

    @classmethod
    def from_extra(cls, extra: dict[str, Any] | None, **overrides: Any) -> MjWarpOptions:
        """Options from ``SimConfig.extra`` (unknown keys ignored: they may belong to another backend) + overrides."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in (extra or {}).items() if k in names}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise HoiSimError(f"unknown mjwarp option(s): {', '.join(unknown)} (known: {', '.join(sorted(names))})")
        kw.update({k: v for k, v in overrides.items() if v is not None})
        opts = cls(**kw)
        if opts.on_overflow not in ("raise", "warn"):
            raise HoiSimError(f"mjwarp on_overflow must be 'raise' or 'warn', got {opts.on_overflow!r}")
        if opts.nconmax < 1 or opts.njmax < 1:
            raise HoiSimError(f"mjwarp nconmax and njmax must be >= 1 (got {opts.nconmax}, {opts.njmax})")
        return opts


def resolve_warp_device(name: str) -> str:
    """``"auto"`` → ``"cuda:0"`` when Warp sees a CUDA device, else ``"cpu"``; other names are returned as is."""
    if name != "auto":
        return name
    return "cuda:0" if wp.is_cuda_available() else "cpu"


@wp.kernel
def body_contact_forces(
    opt_cone: int,
    naconmax: int,
    njmax: int,
    geom_bodyid: wp.array(dtype=int),
    body_slot: wp.array(dtype=int),
    body_is_obj: wp.array(dtype=int),
    contact_frame: wp.array(dtype=wp.mat33),
    contact_friction: wp.array(dtype=vec5),
    contact_dim: wp.array(dtype=int),
    contact_efc_address: wp.array2d(dtype=int),
    contact_worldid: wp.array(dtype=int),
    contact_adhesion: wp.array(dtype=float),
    contact_geom: wp.array(dtype=wp.vec2i),
    efc_force: wp.array2d(dtype=float),
    nacon: wp.array(dtype=int),
    force_obj_out: wp.array2d(dtype=wp.vec3),
    force_any_out: wp.array2d(dtype=wp.vec3),
):
    """Accumulate each contact's world-frame force onto its humanoid bodies ([nworld, 52] vec3, newtons).

    The contact frame's normal points from geom 0 to geom 1 and a positive normal force pushes geom 1 along it, so
    body 1 receives +F and body 0 receives −F.
    """
    cid = wp.tid()
    if cid >= wp.min(nacon[0], naconmax):
        return
    if contact_efc_address[cid, 0] < 0:
        return
    w = contact_worldid[cid]
    f6 = contact_force_fn(opt_cone, contact_frame, contact_friction, contact_dim, contact_efc_address,
                          contact_adhesion, efc_force, njmax, nacon, w, cid, True)
    f = wp.spatial_top(f6)
    g = contact_geom[cid]
    b0 = geom_bodyid[g[0]]
    b1 = geom_bodyid[g[1]]
    s0 = body_slot[b0]
    s1 = body_slot[b1]
    if s0 >= 0:
        wp.atomic_sub(force_any_out, w, s0, f)
        if body_is_obj[b1] != 0:
            wp.atomic_sub(force_obj_out, w, s0, f)
    if s1 >= 0:
        wp.atomic_add(force_any_out, w, s1, f)
        if body_is_obj[b0] != 0:
            wp.atomic_add(force_obj_out, w, s1, f)
