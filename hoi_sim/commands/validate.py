"""``hoi-sim validate PATH…``: check motion files (HOIMotion ``.npz``; InterMimic ``.pt`` kinematics too).

Prints ``ok`` or every finding per file; exits 1 when any file fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hoi_sim.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="validate motion files (.npz, .pt); files or folders",
                       description=__doc__.split("\n")[0])
    p.add_argument("paths", nargs="+", type=Path, help="motion files or folders (scanned recursively)")
    p.set_defaults(func=run)


def _files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix in (".npz", ".pt") and f.is_file()
                           and not f.name.startswith("."))
            if not found:
                raise InputError(f"{p}: no motion files (.npz, .pt) in this folder")
            out += found
        elif p.exists():
            out.append(p)
        else:
            raise InputError(f"{p}: no such file or folder")
    return out


def check_file(path: Path) -> tuple[list[str], str]:
    """(findings, summary) for one file; findings are empty when it is valid."""
    if path.suffix == ".pt":
        from hoi_sim.motions.intermimic import read_intermimic

        try:
            pose = read_intermimic(path)
        except InputError as exc:
            return [str(exc)], ""
        return [], f"{len(pose.frame_ids)} frames (InterMimic .pt)"
    from hoi_sim.motions.io import load_motion
    from hoi_sim.motions.validate import validate_motion

    try:
        motion = load_motion(path)
    except InputError as exc:
        return [str(exc)], ""
    problems = validate_motion(motion, label=str(path))
    return problems, f"{motion.num_frames} frames, {len(motion.ig_body)} graph edges"


def run(args: argparse.Namespace) -> int:
    files = _files(args.paths)
    bad = 0
    for path in files:
        problems, summary = check_file(path)
        if problems:
            bad += 1
            for line in problems:
                print(f"FAIL {line}", file=sys.stderr, flush=True)
        else:
            print(f"ok   {path}: {summary}", flush=True)
    if bad:
        print(f"hoi-sim validate: {bad} of {len(files)} file(s) invalid", file=sys.stderr)
        return 1
    print(f"all {len(files)} file(s) valid")
    return 0
