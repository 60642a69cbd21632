"""SMPL-X through the ``smplx`` package with the user's own model file (never shipped, never downloaded).

The model is built as the annotation app builds it (notes §1.1): neutral, 10 betas, flat hand mean, no PCA, jaw,
eyes and expression zero. The file comes from the ``model_path`` argument or the ``HOI_SIM_SMPLX_MODEL``
environment variable (a ``.npz``/``.pkl`` file or a folder holding ``SMPLX_NEUTRAL.npz``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from hoi_sim import keypoints as kp
from hoi_sim.body.base import (
    BODY_TO_SMPLX,
    NUM_SMPLX_JOINTS,
    SMPLX_PARENTS,
    BodyOutput,
    BodyParams,
    axis_angle_to_matrix,
    chain_rotations,
    check_params,
)
from hoi_sim.body.mesh import cluster_decimate
from hoi_sim.errors import HoiSimError

ENV_VAR = "HOI_SIM_SMPLX_MODEL"


def resolve_model_path(model_path: str | os.PathLike | None = None) -> Path | None:
    """The SMPL-X model file from the argument or ``$HOI_SIM_SMPLX_MODEL``; None when neither is set.

    Raises :class:`HoiSimError` when a path is given but no model file is found there.
    """
    raw = model_path if model_path is not None else os.environ.get(ENV_VAR)
    if not raw:
        return None
    p = Path(raw).expanduser()
    if p.is_dir():
        for name in ("SMPLX_NEUTRAL.npz", "SMPLX_NEUTRAL.pkl", "smplx/SMPLX_NEUTRAL.npz", "smplx/SMPLX_NEUTRAL.pkl"):
            if (p / name).is_file():
                return p / name
        raise HoiSimError(f"no SMPLX_NEUTRAL.npz/.pkl in SMPL-X model folder {p}")
    if not p.is_file():
        raise HoiSimError(f"SMPL-X model file {p} does not exist (set {ENV_VAR} or pass --smplx-model)")
    return p


class SMPLXBody:
    """SMPL-X body behind the common interface.

    Args:
        model_path: model file or folder (default ``$HOI_SIM_SMPLX_MODEL``).
        keypoint_vertices: [87] SMPL-X vertex per keypoint row (default ``hoi_sim.keypoints.smplx_vertices()``).
        sample_vertices: size of the decimated mesh used for collision and silhouettes (≈ the released code's
            1006-vertex downsampling).
    """

    name = "smplx"

    def __init__(self, model_path: str | os.PathLike | None = None, keypoint_vertices: np.ndarray | None = None,
                 sample_vertices: int = 1000, dtype: torch.dtype = torch.float32,
                 device: str | torch.device = "cpu") -> None:
        import smplx

        path = resolve_model_path(model_path)
        if path is None:
            raise HoiSimError(f"no SMPL-X model configured: set {ENV_VAR} to your SMPLX_NEUTRAL.npz")
        self.dtype, self.device = dtype, torch.device(device)
        try:
            self.model = smplx.SMPLX(str(path), ext=path.suffix.lstrip("."), gender="neutral", num_betas=10,
                                     num_expression_coeffs=10, use_pca=False, flat_hand_mean=True,
                                     batch_size=1, dtype=dtype).to(self.device)
        except Exception as e:  # noqa: BLE001 - a broken user file must be a one-line error
            raise HoiSimError(f"cannot load SMPL-X model {path}: {e}") from e
        self.model.requires_grad_(False)
        self.path = path
        self.faces = torch.as_tensor(np.asarray(self.model.faces, dtype=np.int64), device=self.device)
        kv = kp.smplx_vertices() if keypoint_vertices is None else np.asarray(keypoint_vertices, dtype=np.int64)
        self.keypoint_vertices = torch.as_tensor(kv, dtype=torch.long, device=self.device)
        rest = self.model.v_template.detach().cpu().numpy().astype(np.float64)
        rep, faces_s, _ = cluster_decimate(rest, self.faces.cpu().numpy(), sample_vertices)
        self.sample_index = torch.as_tensor(rep, dtype=torch.long, device=self.device)
        self.sample_faces = torch.as_tensor(faces_s, dtype=torch.long, device=self.device)
        self.body_ids = torch.as_tensor(BODY_TO_SMPLX, dtype=torch.long, device=self.device)
        parents = self.model.parents.cpu().numpy().tolist()
        self.parents = tuple(int(p) for p in parents[:NUM_SMPLX_JOINTS])
        if self.parents != SMPLX_PARENTS:
            raise HoiSimError(f"SMPL-X model {path} has an unexpected kinematic tree")

    @property
    def num_vertices(self) -> int:
        return int(self.model.v_template.shape[0])

    def with_keypoint_vertices(self, keypoint_vertices: np.ndarray) -> SMPLXBody:
        """Use another keypoint → vertex table (e.g. release A's legacy foot vertices); returns self."""
        self.keypoint_vertices = torch.as_tensor(np.asarray(keypoint_vertices), dtype=torch.long, device=self.device)
        return self

    def __call__(self, params: BodyParams) -> BodyOutput:
        check_params(params)
        B = params.batch_size
        z3 = torch.zeros(B, 3, dtype=self.dtype, device=self.device)
        c = lambda x: x.to(self.dtype)  # noqa: E731
        out = self.model(global_orient=c(params.global_orient), body_pose=c(params.body_pose),
                         left_hand_pose=c(params.left_hand_pose), right_hand_pose=c(params.right_hand_pose),
                         betas=c(params.betas), transl=c(params.transl), jaw_pose=z3, leye_pose=z3, reye_pose=z3,
                         expression=torch.zeros(B, 10, dtype=self.dtype, device=self.device), return_verts=True)
        verts = out.vertices
        joints = out.joints[:, :NUM_SMPLX_JOINTS]
        rots = chain_rotations(axis_angle_to_matrix(c(params.full_pose())), self.parents)
        return BodyOutput(vertices=verts, joints=joints, keypoints=verts[:, self.keypoint_vertices],
                          body_pos=joints[:, self.body_ids], body_rot=rots[:, self.body_ids],
                          sample_vertices=verts[:, self.sample_index])
