"""``hoi-sim convert SRC -o DST``: InterMimic ``.pt`` ⇄ HOIMotion ``.npz``, and solver outputs (HOISequence
``.npz``, Open4DHOI ``all_parameters_*.json``) → HOIMotion ``.npz``, for one file or a whole folder.

The converter is chosen per source file from ``CONVERTERS`` (first match wins). Solver outputs (a HOISequence
``.npz``, told apart by the ``kind`` in its meta, and Open4DHOI ``all_parameters_*.json``) are read by
:mod:`hoi_sim.bridge.solver_motion`; other formats plug in with :func:`register_converter`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hoi_sim.errors import HoiSimError, InputError


@dataclass(frozen=True)
class Converter:
    """One source format: ``suffixes`` it may read (for folder scans), ``accepts(src)`` (a cheap exact test),
    the output suffix, and ``convert(src, dst, args) -> one-line summary`` (writes ``dst`` atomically)."""

    name: str
    suffixes: tuple[str, ...]
    accepts: Callable[[Path], bool]
    out_suffix: str
    convert: Callable[[Path, Path, argparse.Namespace], str]


CONVERTERS: list[Converter] = []


def register_converter(conv: Converter, *, first: bool = True) -> None:
    """Add a converter (by default ahead of the built-in ones, so a more specific test wins)."""
    CONVERTERS[:] = [c for c in CONVERTERS if c.name != conv.name]
    if first:
        CONVERTERS.insert(0, conv)
    else:
        CONVERTERS.append(conv)


def _npz_kind(path: Path) -> str | None:
    """``meta['kind']`` of a package ``.npz`` (None when unreadable: the HOIMotion reader then says why)."""
    from hoi_sim.motions.io import read_meta

    try:
        return str(read_meta(path).get("kind", "hoi_motion"))
    except InputError:
        return None


def ground_for_output(motion, args: argparse.Namespace) -> tuple[object, str]:
    """``motion`` as read, or with ``--ground`` prepared as training, eval and replay prepare it at load
    (``motions.reference.prepare_reference``: grounding, and the penetration fix unless ``--no-fix-penetration``),
    and the summary text of what each step did. Conversion is exact by default, so .pt → .npz → .pt round-trips."""
    from hoi_sim.motions.reference import prepare_reference

    if not getattr(args, "ground", False):
        return motion, "as read (training, eval and replay ground it at load; --ground writes it grounded)"
    fix = not getattr(args, "no_fix_penetration", False)
    motion, lines = prepare_reference(motion, ground=True, fix_penetration=fix)
    return motion, "; ".join(lines) if lines else "grounded: nothing to change"


def _pt_to_npz(src: Path, dst: Path, args: argparse.Namespace) -> str:
    from hoi_sim.motions import assert_valid, from_intermimic, save_motion

    m = from_intermimic(src, args.objects, drop_frames=args.drop_frames or (),
                        recompute_positions=args.recompute_positions)
    assert_valid(m, label=str(src))
    m, ground_text = ground_for_output(m, args)
    save_motion(m, dst)
    sk = m.meta["skeleton"]
    return (f"{m.num_frames} frames, {len(m.ig_body)} graph edges, FK error {1000 * sk['fk_max_pos_err_m']:.4f} mm / "
            f"{sk['fk_max_rot_err_rad']:.1e} rad; {ground_text}")


def _npz_to_pt(src: Path, dst: Path, args: argparse.Namespace) -> str:
    from hoi_sim.motions import assert_valid, load_motion, to_intermimic

    m = load_motion(src)
    assert_valid(m, label=str(src))
    to_intermimic(m, dst)
    return f"{m.num_frames} frames"


def _solver_output(reader: str) -> Callable[[Path, Path, argparse.Namespace], str]:
    """A converter of solver outputs: ``hoi_sim.bridge.solver_motion.<reader>(src, action=, ground_align=) ->
    HOIMotion``, then as every output: ``--ground``, validated, written."""

    def convert(src: Path, dst: Path, args: argparse.Namespace) -> str:
        from hoi_sim.bridge import solver_motion
        from hoi_sim.motions import assert_valid, save_motion

        motion = getattr(solver_motion, reader)(src, action=getattr(args, "action", None),
                                                ground_align=not getattr(args, "no_ground_align", False))
        motion, ground_text = ground_for_output(motion, args)
        assert_valid(motion)
        save_motion(motion, dst)
        return (f"{motion.num_frames} frames, {int(motion.ig_body.shape[0])} graph edges, "
                f"{int((motion.contact_label == 1).any(axis=0).sum())} bodies in contact; {ground_text}")

    return convert


def _is_all_parameters(p: Path) -> bool:
    from hoi_sim.bridge.solver_motion import is_all_parameters

    return is_all_parameters(p)


register_converter(Converter("intermimic-pt", (".pt",), lambda p: p.suffix == ".pt", ".npz", _pt_to_npz))
register_converter(Converter("hoi-motion-npz", (".npz",),
                             lambda p: p.suffix == ".npz" and _npz_kind(p) in ("hoi_motion", None), ".pt", _npz_to_pt),
                   first=False)
register_converter(Converter("hoi-sequence-npz", (".npz",),
                             lambda p: p.suffix == ".npz" and _npz_kind(p) == "hoi_sequence", ".npz",
                             _solver_output("sequence_file_motion")))
register_converter(Converter("open4dhoi-all-parameters", (".json",), _is_all_parameters, ".npz",
                             _solver_output("all_parameters_motion")))


def find_converter(src: Path) -> Converter:
    for conv in CONVERTERS:
        if conv.accepts(src):
            return conv
    kind = f" (kind {_npz_kind(src)!r})" if src.suffix == ".npz" else ""
    raise InputError(f"{src}: no converter for this file{kind}; known: {', '.join(c.name for c in CONVERTERS)}")


def parse_frames(text: str) -> tuple[int, ...]:
    """'0', '0,5', '3-6' or '-1' (the last frame) → frame indices."""
    out: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.fullmatch(r"(-?\d+)(?:-(\d+))?", part)
        if not m:
            raise argparse.ArgumentTypeError(f"bad frame list {text!r} (use e.g. 0 or 0,5 or 3-6)")
        a = int(m.group(1))
        out.extend(range(a, int(m.group(2)) + 1) if m.group(2) else [a])
    return tuple(out)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("convert", help="convert motion files (InterMimic .pt <-> HOIMotion .npz); files or folders",
                       description=__doc__.split("\n")[0])
    p.add_argument("src", type=Path, help="a file or a folder (scanned recursively)")
    p.add_argument("-o", "--output", dest="dst", required=True,
                   help="output file, or folder (an existing folder, a name ending in '/', or any name when SRC "
                        "is a folder)")
    p.add_argument("--objects", type=Path, default=None,
                   help="folder with the object meshes <object>.obj (default: an 'objects' folder beside the clips)")
    p.add_argument("--drop-frames", type=parse_frames, default=(), metavar="LIST",
                   help="frames to drop before import, e.g. 0 (an all-zero first frame) or 0,5 or 3-6")
    p.add_argument("--recompute-positions", action="store_true",
                   help="rebuild body positions by FK when stored ones do not follow the DOFs")
    p.add_argument("--action", default=None, help="action label stored in retargeted solver outputs' meta")
    p.add_argument("--no-ground-align", action="store_true",
                   help="solver outputs: keep the world height (default: lowest foot point at z = 0)")
    p.add_argument("--ground", action="store_true",
                   help="imports (.pt, solver outputs): write the clip as training uses it: stance feet on the "
                        "floor (human and object moved together), object out of the floor and hands out of the "
                        "object; one line per clip says what changed (default: convert exactly)")
    p.add_argument("--no-fix-penetration", action="store_true",
                   help="with --ground: ground only, keep object-floor and hand-object penetrations")
    p.add_argument("--force", action="store_true", help="overwrite output files that exist")
    p.set_defaults(func=run)


def _jobs(src: Path, dst_arg: str) -> list[tuple[Path, Path, Converter]]:
    dst = Path(dst_arg)
    if src.is_dir():
        suffixes = {s for c in CONVERTERS for s in c.suffixes}
        files = sorted(f for f in src.rglob("*") if f.is_file() and f.suffix in suffixes and not f.name.startswith("."))
        if not files:
            raise InputError(f"{src}: no convertible files ({', '.join(sorted(suffixes))}) in this folder")
        if dst.exists() and not dst.is_dir():
            raise InputError(f"{dst}: is a file; the output of a folder must be a folder")
        jobs = []
        for f in files:
            conv = find_converter(f)
            jobs.append((f, (dst / f.relative_to(src)).with_suffix(conv.out_suffix), conv))
        return jobs
    if not src.is_file():
        raise InputError(f"{src}: no such file or folder")
    conv = find_converter(src)
    if dst.is_dir() or dst_arg.endswith(("/", os.sep)):
        dst = dst / (src.stem + conv.out_suffix)
    elif dst.suffix != conv.out_suffix:
        raise InputError(f"{dst}: a {conv.name} source converts to {conv.out_suffix}, not {dst.suffix or 'no suffix'}")
    return [(src, dst, conv)]


def _refuse_overwrite(jobs: list[tuple[Path, Path, Converter]], force: bool) -> None:
    existing = [dst for _, dst, _ in jobs if dst.exists() or dst.is_symlink()]
    if existing and not force:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise InputError(f"{existing[0]}: exists{more}; pass --force to overwrite")
    dirs = [dst for dst in existing if dst.is_dir()]
    if dirs:
        raise InputError(f"{dirs[0]}: is a folder, not an output file")


def run(args: argparse.Namespace) -> int:
    jobs = _jobs(args.src, args.dst)
    _refuse_overwrite(jobs, getattr(args, "force", False))
    if len(jobs) == 1:
        src, dst, conv = jobs[0]
        summary = conv.convert(src, dst, args)
        print(f"{src} -> {dst}: {summary}", flush=True)
        return 0
    failed: list[str] = []
    for i, (src, dst, conv) in enumerate(jobs, 1):
        try:
            summary = conv.convert(src, dst, args)
        except HoiSimError as exc:
            failed.append(str(exc))
            print(f"[{i}/{len(jobs)}] FAILED {exc}", file=sys.stderr, flush=True)
            continue
        except Exception as exc:  # noqa: BLE001 - keep converting the others, report one line
            failed.append(f"{src}: unexpected {type(exc).__name__}: {exc}")
            print(f"[{i}/{len(jobs)}] FAILED {failed[-1]}", file=sys.stderr, flush=True)
            continue
        print(f"[{i}/{len(jobs)}] {src} -> {dst}: {summary}", flush=True)
    if failed:
        raise HoiSimError(f"{len(failed)} of {len(jobs)} file(s) failed; first: {failed[0]}")
    print(f"converted {len(jobs)} file(s) into {args.dst}")
    return 0

