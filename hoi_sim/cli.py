"""``hoi-sim <command>``: a thin dispatcher. Each command lives in ``hoi_sim/commands/<name>.py`` and defines
``register(subparsers)`` (adds its parser and sets ``func``). Errors print one line and exit non-zero; pass
``--debug`` (anywhere on the command line) or set ``HOI_SIM_DEBUG=1`` to see the traceback of a failure."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from hoi_sim.threads import sleep_idle_openmp_threads

sleep_idle_openmp_threads()  # before anything loads torch: idle OpenMP threads sleep instead of spinning

from hoi_sim.errors import HoiSimError, debug_enabled, one_line  # noqa: E402

COMMANDS = ("info", "convert", "validate", "manifest", "subsets", "replay", "synth", "solve", "train", "eval", "plot",
            "render", "demo", "bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hoi-sim", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"hoi_sim.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"hoi_sim.commands.{name}":
                continue  # command not built yet
            raise
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--debug" not in argv:
        return _main(argv)
    argv.remove("--debug")
    saved = os.environ.get("HOI_SIM_DEBUG")
    os.environ["HOI_SIM_DEBUG"] = "1"
    try:
        return _main(argv)
    finally:
        if saved is None:
            os.environ.pop("HOI_SIM_DEBUG", None)
        else:
            os.environ["HOI_SIM_DEBUG"] = saved


def _main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        rc = args.func(args)
    except HoiSimError as exc:
        if debug_enabled():
            raise
        print(f"hoi-sim {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"hoi-sim {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, no bare traceback
        if debug_enabled():
            raise
        print(f"hoi-sim {args.command}: unexpected error: {type(exc).__name__}: {one_line(exc)} "
              "(--debug shows the traceback)", file=sys.stderr)
        return 1
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
