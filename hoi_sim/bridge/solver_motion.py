"""``hoi-sim convert`` sources that are solver outputs: ``HOISequence`` files (``.npz``, kind ``hoi_sequence``) and
Open4DHOI ``all_parameters_*.json`` (from ``SESSION/final_optimized_parameters/``; the object mesh is the session's
``obj_org.obj``). Both are retargeted to HOIMotion files (:mod:`hoi_sim.motions.retarget`) and validated."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hoi_sim.commands.convert import Converter, _npz_kind, ground_for_output, register_converter
from hoi_sim.errors import InputError


def _finish(seq, dst: Path, args: argparse.Namespace, name: str) -> str:
    from hoi_sim.motions import assert_valid, save_motion
    from hoi_sim.motions.retarget import RetargetConfig, retarget_sequence

    cfg = RetargetConfig(ground_align=not getattr(args, "no_ground_align", False))
    meta = {"name": name}
    if getattr(args, "action", None):
        meta["action"] = args.action
    motion = retarget_sequence(seq, cfg=cfg, meta=meta)
    motion, ground_text = ground_for_output(motion, args)
    assert_valid(motion)
    save_motion(motion, dst)
    return (f"{motion.num_frames} frames, {int(motion.ig_body.shape[0])} graph edges, "
            f"{int((motion.contact_label == 1).any(axis=0).sum())} bodies in contact; {ground_text}")


def _sequence_to_npz(src: Path, dst: Path, args: argparse.Namespace) -> str:
    from hoi_sim.recon.sequence import load_sequence

    return _finish(load_sequence(src), dst, args, src.stem)


def session_of(json_path: Path) -> Path:
    """The session folder of an ``all_parameters_*.json`` (its parent, or the parent of final_optimized_parameters)."""
    parent = json_path.parent
    return parent.parent if parent.name == "final_optimized_parameters" else parent


def _all_parameters_to_npz(src: Path, dst: Path, args: argparse.Namespace) -> str:
    from hoi_sim.recon import session_io as sio
    from hoi_sim.recon.ingest import load_mesh, locate
    from hoi_sim.recon.sequence import read_all_parameters

    session = session_of(src)
    files = locate(session)
    if files.mesh is None:
        raise InputError(f"{src}: the object mesh {session / 'obj_org.obj'} is missing (needed to place the object)")
    doc = sio.read_json(src)
    try:
        scale = float(doc["object_params_raw"].get("scale", 1.0))
        user_scale = float(doc["metadata"].get("user_scale", 1.0))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{src}: field {exc} is missing or malformed") from None
    mesh = load_mesh(files.mesh, scale, user_scale)
    seq = read_all_parameters(src, mesh.vertices, mesh.faces)
    return _finish(seq, dst, args, session.name)


def _is_all_parameters(p: Path) -> bool:
    if p.suffix != ".json" or not p.name.startswith("all_parameters"):
        return False
    try:
        head = json.loads(p.read_text())
    except (OSError, ValueError):
        return True  # let the converter say what is wrong with it
    return isinstance(head, dict) and "human_params_raw" in head


register_converter(Converter("hoi-sequence-npz", (".npz",),
                             lambda p: p.suffix == ".npz" and _npz_kind(p) == "hoi_sequence", ".npz",
                             _sequence_to_npz))
register_converter(Converter("open4dhoi-all-parameters", (".json",), _is_all_parameters, ".npz",
                             _all_parameters_to_npz))
