"""Solver outputs → ``HOIMotion``: a reconstructed ``HOISequence`` (``.npz`` of kind ``hoi_sequence``) or Open4DHOI's
``all_parameters_*.json`` (from ``SESSION/final_optimized_parameters/``; the object mesh is the session's
``obj_org.obj``), retargeted to the humanoid (:mod:`hoi_sim.motions.retarget`). ``hoi-sim convert`` registers both
as sources."""

from __future__ import annotations

import json
from pathlib import Path

from hoi_sim.errors import InputError
from hoi_sim.motions.retarget import RetargetConfig, retarget_sequence
from hoi_sim.motions.schema import HOIMotion
from hoi_sim.recon import session_io as sio
from hoi_sim.recon.ingest import load_mesh, locate
from hoi_sim.recon.sequence import HOISequence, load_sequence, read_all_parameters


def motion_from_sequence(seq: HOISequence, name: str, *, action: str | None = None,
                         ground_align: bool = True) -> HOIMotion:
    """The retargeted clip of ``seq``, named ``name`` (meta ``action`` when given); ``ground_align``: see
    :class:`~hoi_sim.motions.retarget.RetargetConfig`."""
    meta = {"name": name}
    if action:
        meta["action"] = action
    return retarget_sequence(seq, cfg=RetargetConfig(ground_align=ground_align), meta=meta)


def sequence_file_motion(src: Path, *, action: str | None = None, ground_align: bool = True) -> HOIMotion:
    """The clip of a ``HOISequence`` file (named after the file)."""
    return motion_from_sequence(load_sequence(src), src.stem, action=action, ground_align=ground_align)


def session_of(json_path: Path) -> Path:
    """The session folder of an ``all_parameters_*.json`` (its parent, or the parent of final_optimized_parameters)."""
    parent = json_path.parent
    return parent.parent if parent.name == "final_optimized_parameters" else parent


def all_parameters_motion(src: Path, *, action: str | None = None, ground_align: bool = True) -> HOIMotion:
    """The clip of an Open4DHOI ``all_parameters_*.json`` with its session's object mesh (named after the session)."""
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
    return motion_from_sequence(seq, session.name, action=action, ground_align=ground_align)


def is_all_parameters(p: Path) -> bool:
    """Whether ``p`` looks like an Open4DHOI ``all_parameters_*.json`` (a cheap test; an unreadable one says yes, so
    that the converter reports what is wrong with it)."""
    if p.suffix != ".json" or not p.name.startswith("all_parameters"):
        return False
    try:
        head = json.loads(p.read_text())
    except (OSError, ValueError):
        return True  # let the converter say what is wrong with it
    return isinstance(head, dict) and "human_params_raw" in head
