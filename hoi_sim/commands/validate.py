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


def _files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """(motion files to check, one finding per path that is missing or an empty folder)."""
    out: list[Path] = []
    missing: list[str] = []
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.suffix in (".npz", ".pt") and f.is_file()
                           and not f.name.startswith("."))
            if not found:
                missing.append(f"{p}: no motion files (.npz, .pt) in this folder")
            out += found
        elif p.exists():
            out.append(p)
        else:
            missing.append(f"{p}: no such file or folder")
    return out, missing


def _check(path: Path) -> tuple[list[str], str]:
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


def check_file(path: Path) -> tuple[list[str], str]:
    """(findings, summary) for one file; findings are empty when it is valid. Never raises: a failure of the
    checker itself is one finding naming the file, and the files after it are still checked."""
    try:
        return _check(path)
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
        from hoi_sim.errors import debug_enabled, one_line

        if debug_enabled():
            raise
        return [f"{path}: cannot be checked ({type(exc).__name__}: {one_line(exc)})"], ""


def run(args: argparse.Namespace) -> int:
    files, missing = _files(args.paths)
    for line in missing:
        print(f"FAIL {line}", file=sys.stderr, flush=True)
    bad = len(missing)
    for path in files:
        problems, summary = check_file(path)
        if problems:
            bad += 1
            for line in problems:
                print(f"FAIL {line}", file=sys.stderr, flush=True)
        else:
            print(f"ok   {path}: {summary}", flush=True)
    total = len(files) + len(missing)
    if bad:
        print(f"hoi-sim validate: {bad} of {total} file(s) invalid", file=sys.stderr)
        return 1
    print(f"all {total} file(s) valid")
    return 0
