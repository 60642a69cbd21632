"""Checkpoints of ``hoi-sim train``: found (a ``.pth`` or a run folder's ``nn/last.pth``) and loaded safely.

Every load goes through :func:`load_checkpoint`, which calls ``torch.load(weights_only=True)``: tensors, numbers,
strings and containers only. A file that needs anything else to unpickle (a crafted checkpoint that would run code)
is refused with one line naming it. rl-games' own loader (``torch_ext.load_checkpoint``, which unpickles anything)
is never reached: :class:`~hoi_sim.train.agent.HoiA2CAgent` overrides ``restore`` with this loader.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path
from typing import Any

LAST = "last.pth"
BEST = "best.pth"  # the policy of the best train.eval_every evaluation (furthest into the clip, then lowest MPJPE)
BEST_JSON = "best.json"  # epoch and eval columns of nn/best.pth (read back on resume)
REQUIRED_KEYS = ("model", "optimizer", "epoch", "frame")
"""What a resumable rl-games checkpoint holds at least."""


def resume_checkpoint(resume: str | os.PathLike) -> Path:
    """A ``.pth`` file as given, or a run folder's ``nn/last.pth``."""
    from hoi_sim.errors import InputError

    p = Path(resume)
    if p.is_dir():
        p = p / "nn" / LAST
    if not p.is_file():
        raise InputError(f"cannot resume: {p} does not exist")
    return p


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "no details"


def load_checkpoint(path: str | os.PathLike, *, resumable: bool = False) -> dict[str, Any]:
    """The state dict of an rl-games checkpoint written by ``hoi-sim train`` (``path``: a ``.pth`` or a run
    folder), loaded with ``torch.load(weights_only=True)``.

    ``InputError`` (one line, naming the file) when it is missing, damaged, holds pickled Python objects (refused,
    never executed) or is not a dict with a ``model`` entry; with ``resumable`` also without an optimizer state,
    epoch and frame.
    """
    import torch

    from hoi_sim.errors import InputError

    p = resume_checkpoint(path)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"(Unsupported global: GLOBAL [\w.]+|Unsupported operand \d+)", str(exc))
        what = f": {found.group(1)}" if found else ""
        raise InputError(f"{p}: refused: the checkpoint holds pickled Python objects, not only tensors and numbers "
                         f"(loaded with weights_only=True{what})") from None
    except Exception as exc:  # noqa: BLE001 - torch raises RuntimeError/EOFError/... for damaged files
        raise InputError(f"{p}: not a readable checkpoint ({type(exc).__name__}: {_first_line(exc)})") from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise InputError(f"{p}: not an rl-games checkpoint (expected a dict with a 'model' state dict)")
    if resumable:
        missing = [k for k in REQUIRED_KEYS if k not in state]
        if missing:
            raise InputError(f"{p}: cannot resume from it: missing {', '.join(missing)}")
    return state


def strip_compile_prefix(state: dict[str, Any]) -> dict[str, Any]:
    """``model`` keys without torch.compile's ``_orig_mod.`` prefix (as rl-games' loader does)."""
    model = state.get("model")
    if isinstance(model, dict):
        state["model"] = {k.removeprefix("_orig_mod."): v for k, v in model.items()}
    return state
