"""Round trip on every OMOMO_new clip: HOIMotion → SMPL-X-style params → retarget → body positions within 1 mm."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hoi_sim.body import ProxyBody
from hoi_sim.body.base import C_S2H
from hoi_sim.bridge.synth import motion_to_smplx_params
from hoi_sim.motions import from_intermimic, validate_motion
from hoi_sim.motions.retarget import RetargetConfig, retarget_sequence
from hoi_sim.recon.sequence import HOISequence


def _subject_proxy(offsets: np.ndarray) -> ProxyBody:
    """The proxy body on a clip's own skeleton (rows of ``offsets`` in humanoid axes)."""
    body = ProxyBody(dtype=torch.float64)
    body.offsets = torch.as_tensor(np.asarray(offsets, np.float64) @ C_S2H, dtype=torch.float64)
    return body


@pytest.mark.shared_data
def test_roundtrip_all_clips(omomo_clips, objects_dir):
    assert len(omomo_clips) == 27
    worst = 0.0
    for clip in omomo_clips:
        motion = from_intermimic(clip, objects_dir)
        body = _subject_proxy(motion.skeleton_offsets)
        params = motion_to_smplx_params(motion, body)
        T = motion.num_frames
        from hoi_sim import rotations as rot

        obj_R = rot.quat_to_matrix(torch.as_tensor(motion.obj_quat, dtype=torch.float64)).numpy()
        seq = HOISequence(human=params, obj_vertices=motion.obj_vertices.astype(np.float64),
                          obj_faces=motion.obj_faces.astype(np.int64), obj_R=obj_R,
                          obj_t=motion.obj_pos.astype(np.float64), contact_vertex=np.full((T, 87), -1, np.int64),
                          K=np.eye(3), fps=motion.fps, cam_to_world=np.broadcast_to(np.eye(4), (T, 4, 4)).copy(),
                          meta={"world_up": "z"})
        out = retarget_sequence(seq, body_model=body, cfg=RetargetConfig(ground_align=False))
        err = np.linalg.norm(out.body_pos - motion.body_pos, axis=-1).max()
        worst = max(worst, float(err))
        assert err < 1e-3, f"{clip.name}: {err * 1000:.3f} mm"
        np.testing.assert_allclose(out.obj_pos, motion.obj_pos, atol=1e-4)
        assert validate_motion(out) == [], clip.name
    print(f"round-trip worst body error over 27 clips: {worst * 1000:.4f} mm")
