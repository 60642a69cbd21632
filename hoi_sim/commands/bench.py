"""``hoi-sim bench NAME [ARGS…]``: run the benchmark script ``benchmarks/NAME.py`` (looked up in the current
folder's ``benchmarks/``, then beside the installed package) with ARGS, passing its output through. Each benchmark
ends with one JSON line of figures (with ``"ratio"`` against its in-run baseline where it has one).
``hoi-sim bench --list`` lists them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from hoi_sim.errors import InputError


def bench_dirs() -> list[Path]:
    """Folders searched for benchmark scripts, in order."""
    dirs = [Path.cwd() / "benchmarks", Path(__file__).resolve().parents[2] / "benchmarks"]
    return list(dict.fromkeys(d.resolve() for d in dirs))


def find_bench(name: str) -> Path:
    """``benchmarks/NAME.py`` (NAME may also be a path to a .py file)."""
    p = Path(name)
    if p.suffix == ".py" and p.is_file():
        return p
    for d in bench_dirs():
        cand = d / f"{p.stem if p.suffix == '.py' else name}.py"
        if cand.is_file():
            return cand
    known = sorted({f.stem for d in bench_dirs() if d.is_dir() for f in d.glob("*.py")})
    raise InputError(f"no benchmark named {name!r} (searched {', '.join(map(str, bench_dirs()))}; "
                     f"known: {', '.join(known) or 'none'})")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="run a benchmark script (benchmarks/NAME.py)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", nargs="?", help="benchmark name, e.g. train_throughput")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the script")
    p.add_argument("--list", action="store_true", help="list the benchmarks")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.list or not args.name:
        for d in bench_dirs():
            for f in sorted(d.glob("*.py")) if d.is_dir() else []:
                print(f"{f.stem:24s} {f}")
        return 0 if args.list else 2
    script = find_bench(args.name)
    return subprocess.call([sys.executable, str(script), *args.args])
