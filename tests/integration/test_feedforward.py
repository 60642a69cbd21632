"""Gravity feed-forward of the PD targets (``env.action.feedforward: gravity``, ``hoi_sim.envs.feedforward``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hoi_sim.envs import EnvCfg, HOIEnv
from hoi_sim.envs.feedforward import gravity_offsets
from hoi_sim.motions.library import MotionLibrary
from hoi_sim.sim import make_backend
from hoi_sim.sim.config import SimConfig
from hoi_sim.skeleton import NUM_DOFS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _standing(root_z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from hoi_sim.sim.humanoid_spec import HUMANOID_ROOT_HEIGHT

    return (np.array([[0.0, 0.0, HUMANOID_ROOT_HEIGHT + root_z]]), np.array([[1.0, 0.0, 0.0, 0.0]]),
            np.zeros((1, NUM_DOFS)))


def test_offsets_hold_a_standing_pose_and_vanish_in_the_air() -> None:
    sim = make_backend("mujoco", num_envs=1, cfg=SimConfig.for_backend("mujoco"), log_mapping=False)
    on_floor = gravity_offsets(sim.model, sim.index, *_standing(0.0))[0]
    airborne = gravity_offsets(sim.model, sim.index, *_standing(1.0))[0]
    sim.close()
    assert np.all(airborne == 0.0)
    assert np.abs(on_floor).max() > 1e-3  # the stance legs and the trunk carry the body


def _drop_mm(motion, feedforward: str, frame: int) -> float:
    lib = MotionLibrary([motion])
    cfg = EnvCfg.from_dict({"num_envs": 1, "backend": "mujoco", "reward": "tr", "state_init": "start", "seed": 0,
                            "action": {"mode": "residual", "fingers": "reference", "feedforward": feedforward},
                            "backend_kwargs": {"object_collision": "convex_hull", "log_mapping": False}})
    env = HOIEnv(cfg, lib)
    env.reset()
    state = lib.frame_state(torch.zeros(1, dtype=torch.long), torch.tensor([frame])).reset_state()
    env.start_time[:] = lib.frame_time(torch.zeros(1, dtype=torch.long), torch.tensor([frame]))
    env.backend.reset(torch.tensor([0]), state)
    env._state = env.backend.state()
    drop = 0.0
    for _ in range(3):  # 0.1 s, replay's reset_drop window
        env.step(torch.zeros(1, env.num_actions))
        s, ref = env.backend.state(), env.reference(0)
        drop = max(drop, float(ref.root_pos[0, 2] - s.root_pos[0, 2]))
    env.close()
    return drop * 1000.0


def test_feedforward_cuts_the_reset_drop_on_a_real_clip(omomo_clips, objects_dir) -> None:
    from hoi_sim.motions.manifest import load_clip

    clip = next(p for p in omomo_clips if p.stem == "sub2_woodchair_004")
    motion = load_clip(clip, objects_dir, fix_penetration=False)
    plain, held = _drop_mm(motion, "none", 30), _drop_mm(motion, "gravity", 30)
    assert held < 0.5 * plain, (plain, held)


def test_feedforward_needs_a_reference_target() -> None:
    from hoi_sim.envs.actions import ActionCfg
    from hoi_sim.errors import InputError

    with pytest.raises(InputError, match="feedforward"):
        ActionCfg(mode="absolute", fingers="policy", feedforward="gravity")
    with pytest.raises(InputError, match="feedforward"):
        ActionCfg(mode="residual", feedforward="inverse")
