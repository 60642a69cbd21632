"""The fake backend and the state dataclasses."""

from __future__ import annotations

import pytest
import torch

from hoi_sim.humanoid.kinematics import forward_kinematics
from hoi_sim.sim import ResetState, SimState, make_backend
from hoi_sim.skeleton import BODY_NAMES, DOF_NAMES, NUM_BODIES, NUM_DOFS


def _state(n: int, seed: int = 0) -> ResetState:
    g = torch.Generator().manual_seed(seed)
    s = ResetState.zeros(n, root_height=0.9)
    s.dof_pos = 0.3 * torch.randn(n, NUM_DOFS, generator=g)
    s.root_lin_vel = torch.randn(n, 3, generator=g)
    s.obj_pos = torch.randn(n, 3, generator=g)
    s.obj_lin_vel = torch.randn(n, 3, generator=g)
    return s


def test_reset_puts_bodies_on_fk() -> None:
    sim = make_backend("fake", num_envs=3)
    s = _state(2)
    sim.reset(torch.tensor([0, 2]), s)
    st = sim.state()
    st.validate()
    pos, quat = forward_kinematics(s.root_pos, s.root_quat, s.dof_pos)
    torch.testing.assert_close(st.body_pos[[0, 2]], pos)
    torch.testing.assert_close(st.body_quat[[0, 2]], quat)
    assert st.body_pos[1, 0, 2] == pytest.approx(0.95)  # untouched env keeps its default
    assert sim.body_names == BODY_NAMES and sim.dof_names == DOF_NAMES
    assert sim.dof_limits.shape == (NUM_DOFS, 2)


def test_step_tracks_targets_and_integrates() -> None:
    sim = make_backend("fake", num_envs=2)
    s = _state(2, seed=1)
    lim = sim.dof_limits
    s.dof_pos = torch.minimum(torch.maximum(s.dof_pos, lim[:, 0] + 0.02), lim[:, 1] - 0.02)
    sim.reset(torch.arange(2), s)
    tgt = s.dof_pos + 0.01
    sim.set_pd_targets(tgt)
    sim.step()
    st = sim.state()
    torch.testing.assert_close(st.dof_pos, tgt)
    torch.testing.assert_close(st.dof_vel, torch.full_like(tgt, 0.01 / sim.control_dt))
    torch.testing.assert_close(st.root_pos, s.root_pos + s.root_lin_vel * sim.control_dt)
    torch.testing.assert_close(st.obj_pos, s.obj_pos + s.obj_lin_vel * sim.control_dt)
    assert sim.steps == 1


def test_contacts_and_bad_are_settable_and_cleared_by_reset() -> None:
    sim = make_backend("fake", num_envs=2)
    c = torch.zeros(2, NUM_BODIES, dtype=torch.bool)
    c[1, BODY_NAMES.index("L_Wrist")] = True
    sim.set_contacts(contact_obj=c, contact_any=c, force_any=c[..., None].float() * torch.tensor([0.0, 0, 5]))
    sim.set_bad(torch.tensor([False, True]))
    st = sim.state()
    assert st.contact_obj[1, BODY_NAMES.index("L_Wrist")] and not st.contact_obj[0].any()
    assert st.bad.tolist() == [False, True]
    sim.reset(torch.tensor([1]), _state(1))
    st = sim.state()
    assert not st.bad.any() and not st.contact_any.any()


def test_shape_errors() -> None:
    sim = make_backend("fake", num_envs=2)
    with pytest.raises(ValueError, match="targets"):
        sim.set_pd_targets(torch.zeros(2, 10))
    bad = _state(1)
    bad.dof_pos = torch.zeros(1, 5)
    with pytest.raises(ValueError, match="dof_pos"):
        sim.reset(torch.tensor([0]), bad)
    with pytest.raises(ValueError, match="out of range"):
        sim.reset(torch.tensor([5]), _state(1))


def test_simstate_requires_fields_and_defaults_bad() -> None:
    r = ResetState.zeros(2)
    z = torch.zeros(2, NUM_BODIES, 3)
    st = SimState(**r.__dict__, body_pos=z, body_quat=torch.zeros(2, NUM_BODIES, 4), body_lin_vel=z,
                  body_ang_vel=z, contact_obj=torch.zeros(2, NUM_BODIES, dtype=torch.bool),
                  contact_any=torch.zeros(2, NUM_BODIES, dtype=torch.bool), force_obj=z, force_any=z)
    assert st.bad.shape == (2,) and not st.bad.any()
    assert st.select([1]).num == 1
    with pytest.raises(ValueError, match="body_pos"):
        SimState(**r.__dict__)


def test_unknown_backend() -> None:
    from hoi_sim.errors import InputError

    with pytest.raises(InputError, match="unknown sim backend"):
        make_backend("physx")
