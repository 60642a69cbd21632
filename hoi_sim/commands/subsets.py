"""``hoi-sim subsets PATH…``: the action subsets of manifests (YAML or CSV), folders or motion files, with their
clips, objects, subjects (skeletons) and total seconds; the last row pools every clip.

Objects and skeletons are counted by content, as training groups them (``hoi_sim.motions.subset_summary``); every
clip is read and validated, so a bad clip is an error naming it. ``--json`` also writes the table as JSON.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("subsets", help="list the action subsets of a manifest or folder (clips, objects, subjects, "
                                       "seconds)", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", help="manifest (.yaml/.yml/.csv), folder of .npz/.pt clips, or motion file")
    p.add_argument("--objects", help="folder of <object>.obj meshes for InterMimic .pt clips")
    p.add_argument("--json", help="also write the subsets to this JSON file")
    p.add_argument("--force", action="store_true", help="overwrite the --json file when it exists")
    p.set_defaults(func=run)


def _names(xs: tuple[str, ...], limit: int = 4) -> str:
    shown = ", ".join(x.split("#")[0] for x in xs[:limit])
    return f"{len(xs)}" + (f": {shown}{' …' if len(xs) > limit else ''}" if xs else "")


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from hoi_sim.io_utils import check_writable, write_json_atomic
    from hoi_sim.motions.manifest import list_clips
    from hoi_sim.motions.subset_summary import summarize_subsets

    if args.json:
        check_writable(args.json, args.force, "--json")
    clips = [c for p in args.paths for c in list_clips(p)]
    rows = summarize_subsets(clips, args.objects)
    print("action | clips | seconds | objects | subjects | skeletons")
    for r in rows:
        print(f"{r.action} | {len(r.clips)} | {r.seconds:.1f} | {_names(r.objects)} | {_names(r.subjects)} | "
              f"{len(r.skeletons)}")
    if args.json:
        write_json_atomic(args.json, {"subsets": [asdict(r) for r in rows]}, indent=1)
        print(f"wrote {args.json}")
    return 0
