"""Error metrics of a reconstructed :class:`HOISequence` against synthetic ground truth (same session, same mesh).

The metric definitions are those of :mod:`hoi_sim.recon.metrics` (``solver_metrics``: object rotation error (deg),
translation error (cm), CD-o (cm, paper Eq. 21), contact distance over the ground truth's pairs (cm), penetration
depth (cm), all means over frames); this module aligns the frames of two sequences, runs the body model on the
predicted human and scores the initialisation of a session the same way.
"""

from __future__ import annotations

import numpy as np
import torch

from hoi_sim.recon.sequence import HOISequence
from hoi_sim.recon.types import SolverInput

METRIC_KEYS = ("object_rot_err_deg", "object_trans_err_cm", "cd_o_cm", "contact_dist_cm", "penetration_cm")
EXCESS_KEYS = ("contact_excess_cm", "penetration_excess_cm")
"""Contact distance and penetration minus the ground truth's own (cm): real motions are not perfect either, so the
solver is judged by what it adds. Zero for the ground truth itself; negative when a solution beats the truth."""
REPORT_KEYS = METRIC_KEYS + EXCESS_KEYS


def sequence_metrics(pred: HOISequence, gt: HOISequence, body_model=None, *, n_points: int = 5000, sdf=None,
                     frames: np.ndarray | None = None) -> dict[str, float]:
    """Compare ``pred`` with ``gt`` over their common absolute frames (or the given absolute ``frames``).

    ``sdf``: a prebuilt ``recon.sdf.SDFGrid`` of the object (built here when None).
    """
    from hoi_sim.body.base import BodyParams
    from hoi_sim.recon.metrics import solver_metrics

    if body_model is None:
        from hoi_sim.body.proxy import ProxyBody

        body_model = ProxyBody()
    common = np.arange(max(pred.start_frame, gt.start_frame),
                       min(pred.start_frame + pred.num_frames, gt.start_frame + gt.num_frames))
    if frames is not None:
        common = np.intersect1d(common, frames)
    if common.size == 0:
        raise ValueError("prediction and ground truth share no frames")
    ip, ig = common - pred.start_frame, common - gt.start_frame
    dtype = getattr(body_model, "dtype", torch.float32)
    with torch.no_grad():
        body = body_model(BodyParams.from_numpy(pred.human.slice(ip), dtype=dtype))
    return solver_metrics(body.keypoints.double().cpu().numpy(), body.vertices.double().cpu().numpy(),
                          pred.obj_vertices, pred.obj_faces, pred.obj_R[ip], pred.obj_t[ip], gt.obj_R[ig],
                          gt.obj_t[ig], gt.contact_vertex[ig], n_cd=n_points, sdf=sdf)


def object_sdf(seq: HOISequence):
    """The signed-distance grid ``recon.metrics.penetration_cm`` uses by default, built once."""
    from hoi_sim.recon.sdf import build_sdf

    return build_sdf(np.asarray(seq.obj_vertices, np.float64), np.asarray(seq.obj_faces), res=64, scale=1.1)


def sequence_from_input(inp: SolverInput) -> HOISequence:
    """The initialisation of a session as a :class:`HOISequence` (camera frame), to score it like a solution."""
    return HOISequence(human=inp.human_incam.copy(), obj_vertices=inp.object.vertices, obj_faces=inp.object.faces,
                       obj_R=inp.obj_R_init.copy(), obj_t=inp.obj_t_init.copy(), contact_vertex=inp.contact_vertex,
                       K=inp.K, fps=inp.fps, start_frame=inp.start_frame, image_size=inp.image_size,
                       cam_to_world=(np.repeat(inp.cam_to_world[None], inp.num_frames, axis=0)
                                     if inp.cam_to_world is not None else None),
                       meta={"source": "initialisation", "object_file_scale": inp.object.scale})


def with_excess(m: dict[str, float], truth: dict[str, float]) -> dict[str, float]:
    """``m`` plus :data:`EXCESS_KEYS`: its ``contact_dist_cm`` / ``penetration_cm`` minus ``truth``'s (cm)."""
    return {**m, "contact_excess_cm": m["contact_dist_cm"] - truth["contact_dist_cm"],
            "penetration_excess_cm": m["penetration_cm"] - truth["penetration_cm"]}


def metrics_with_init(pred: HOISequence, init: HOISequence, gt: HOISequence, body_model=None,
                      n_points: int = 5000) -> dict[str, float]:
    """``sequence_metrics`` of the solution with its excess over the ground truth's own contact distance and
    penetration (:data:`EXCESS_KEYS`), the same keys prefixed ``init_`` for the initialisation, and the truth's own
    values as ``gt_contact_dist_cm`` / ``gt_penetration_cm`` (all scored on the solution's frames)."""
    sdf = object_sdf(pred)
    truth = sequence_metrics(gt, gt, body_model, n_points=n_points, sdf=sdf,
                             frames=pred.start_frame + np.arange(pred.num_frames))
    m = with_excess(sequence_metrics(pred, gt, body_model, n_points=n_points, sdf=sdf), truth)
    m.update({f"init_{k}": v for k, v in with_excess(sequence_metrics(init, gt, body_model, n_points=n_points,
                                                                      sdf=sdf), truth).items()})
    m.update({"gt_contact_dist_cm": truth["contact_dist_cm"], "gt_penetration_cm": truth["penetration_cm"]})
    return m
