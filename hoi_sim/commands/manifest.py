"""``hoi-sim manifest PATH… -o manifest.yaml``: write a manifest (YAML, or CSV for ``.csv``) listing the motion
files of folders (and motion files or manifests) given, one row per clip.

Labels come from each clip's ``.npz`` meta (``action``, ``subject``, ``object_name``) or, for InterMimic ``.pt``
files, from the name ``sub{N}_{object}_{idx}`` (subject, object; no action). ``--action LABEL`` labels every clip
with that action: one subset of clips from several folders. Every clip is read and validated first (a bad clip is
an error naming it; ``--no-check`` skips this). Paths below the manifest's folder are written relative to it,
others absolute. The file is written atomically and reads back with ``hoi_sim.motions.manifest.read_manifest``.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("manifest", help="write a manifest (YAML/CSV) labelling the clips of folders",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", help="folders of .npz/.pt clips (or motion files, manifests)")
    p.add_argument("-o", "--out", required=True, help="manifest to write (.yaml, .yml or .csv)")
    p.add_argument("--action", help="action label of every clip (default: the .npz meta's; none for .pt)")
    p.add_argument("--objects", help="folder of <object>.obj meshes for InterMimic .pt clips (for the check)")
    p.add_argument("--no-check", action="store_true", help="do not read and validate the clips")
    p.add_argument("--force", action="store_true", help="overwrite the output when it exists")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import dataclasses
    from collections import Counter

    from hoi_sim.errors import InputError
    from hoi_sim.io_utils import check_writable
    from hoi_sim.motions.manifest import MANIFEST_SUFFIXES, check_clips, list_clips, read_manifest, write_manifest

    out = check_writable(args.out, args.force, "-o")
    if out.suffix not in MANIFEST_SUFFIXES:
        raise InputError(f"-o {out}: a manifest ends in {'/'.join(MANIFEST_SUFFIXES)}")
    if args.action is not None and not args.action.strip():
        raise InputError("--action: the label is empty")
    clips = list({c.path.resolve(): c for p in args.paths for c in list_clips(p)}.values())  # each file once
    if args.action:
        clips = [dataclasses.replace(c, action=args.action.strip()) for c in clips]
    if not args.no_check:
        check_clips(clips, args.objects)
    write_manifest(clips, out)
    written = read_manifest(out)  # what training will read
    actions = Counter(c.action or "(none)" for c in written)
    print(f"wrote {out}: {len(written)} clip(s); actions: "
          + ", ".join(f"{a} ({n})" for a, n in sorted(actions.items())))
    if any(c.action is None for c in written):
        print("  clips without an action label are in no subset: pass --action LABEL to label them")
    return 0
