"""A tiny HOIMotion whose right palm touches an egg-shaped object on every frame: input for fast tests and demos.

The humanoid (neutral skeleton) walks slowly along +x with small joint oscillations; an ellipsoid (a scaled
icosphere, semi-axes ``axes``; not a ball, so that its rotation is observable) sits on the palm side of the right
hand, its surface through the ``rightHand_palm`` keypoint of the body model, so the §9.6 protocol finds contact
pairs on every frame.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch

from hoi_sim import keypoints
from hoi_sim.humanoid.kinematics import forward_kinematics
from hoi_sim.motions.schema import HOIMotion, make_motion
from hoi_sim.skeleton import NUM_BODIES, NUM_DOFS, neutral_offsets


def icosphere(radius: float, subdivisions: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Vertices [V,3] (m, centred) and outward faces [F,3] of an icosphere."""
    import trimesh

    m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
    return np.asarray(m.vertices, np.float64), np.asarray(m.faces, np.int64)


def toy_hoi_motion(num_frames: int = 10, fps: float = 30.0, seed: int = 0,
                   axes: tuple[float, float, float] = (0.16, 0.10, 0.07), body_model=None) -> HOIMotion:
    """``num_frames`` frames of a person holding an ellipsoid (semi-axes ``axes``, m) against the right palm."""
    from hoi_sim.body.base import BodyParams
    from hoi_sim.bridge.synth import motion_to_smplx_params

    if body_model is None:
        from hoi_sim.body.proxy import ProxyBody

        body_model = ProxyBody(dtype=torch.float64)
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames) / fps
    yaw = 0.3 * t
    root_pos = np.stack([0.2 * t, 0.02 * np.sin(3 * t), 0.93 + 0.0 * t], -1)
    root_quat = np.stack([np.cos(yaw / 2), 0 * t, 0 * t, np.sin(yaw / 2)], -1)
    amp = rng.uniform(0.0, 0.1, NUM_DOFS)
    dof = amp * np.sin(3.0 * t[:, None] + rng.uniform(0, 2 * np.pi, NUM_DOFS))
    tt = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64)  # noqa: E731
    offsets = neutral_offsets()
    bp, bq = forward_kinematics(tt(root_pos), tt(root_quat), tt(dof), tt(offsets))
    params = motion_to_smplx_params(SimpleNamespace(num_frames=num_frames, dof_pos=dof, root_quat=root_quat,
                                                    root_pos=root_pos), body_model)
    with torch.no_grad():
        kps = body_model(BodyParams.from_numpy(params, dtype=torch.float64)).keypoints.numpy()
    palm, back = kps[:, keypoints.index("rightHand_palm")], kps[:, keypoints.index("rightHand_back")]
    n = (palm - back) / np.linalg.norm(palm - back, axis=1, keepdims=True)
    R_obj = np.stack([np.cos(yaw), -np.sin(yaw), 0 * t, np.sin(yaw), np.cos(yaw), 0 * t, 0 * t, 0 * t, 1 + 0 * t],
                     -1).reshape(-1, 3, 3)  # the object turns with the root's heading
    n_local = np.einsum("tji,tj->ti", R_obj, n)
    depth = 1.0 / np.sqrt(((n_local / np.asarray(axes)) ** 2).sum(1))  # centre → surface along −n
    obj_pos = palm + depth[:, None] * n
    v, f = icosphere(1.0, subdivisions=3)
    v = v * np.asarray(axes)
    label = np.zeros((num_frames, NUM_BODIES), np.int8)
    meta = {"fps": fps, "name": "toy_egg", "object_name": "egg", "mass_mode": "dynamic", "source": "synthetic",
            "action": "hold", "subject": "toy", "provenance": {"generator": "hoi_sim.bridge.toy"},
            "skeleton": "neutral"}
    return make_motion(meta, root_pos=root_pos, root_quat=root_quat, dof_pos=dof, body_pos=bp.numpy(),
                       body_quat=bq.numpy(), obj_pos=obj_pos, obj_quat=root_quat, contact_label=label,
                       skeleton_offsets=offsets, obj_vertices=v, obj_faces=f)
