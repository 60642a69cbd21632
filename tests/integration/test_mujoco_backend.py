"""The MuJoCo CPU backend: reset on FK, timing, contacts (object vs anything), bad envs, Table 7 in the model."""

from __future__ import annotations

import mujoco
import mujoco.rollout
import numpy as np
import pytest
import torch

from hoi_sim.humanoid.kinematics import forward_kinematics
from hoi_sim.objects.hulls import box_hull
from hoi_sim.sim import ResetState, make_backend
from hoi_sim.sim.config import SimConfig
from hoi_sim.sim.mujoco import MujocoBackend
from hoi_sim.sim.mujoco_contacts import contact_forces, contact_world_forces
from hoi_sim.skeleton import BODY_INDEX, FEET, LEFT_HAND, NUM_DOFS, neutral_offsets

CFG = SimConfig.for_backend("mujoco")


def _random_pose(sim: MujocoBackend, n: int, seed: int) -> ResetState:
    g = torch.Generator().manual_seed(seed)
    s = sim.default_state(n)
    lim = sim.dof_limits
    lo, hi = torch.clamp(lim[:, 0], min=-0.5), torch.clamp(lim[:, 1], max=0.5)
    s.dof_pos = lo + (hi - lo) * torch.rand(n, NUM_DOFS, generator=g)
    s.root_quat = torch.nn.functional.normalize(torch.randn(n, 4, generator=g), dim=-1)
    s.root_pos[:, 2] = 2.0  # in the air: no contact, no constraint forces at reset
    return s


@pytest.fixture(scope="module")
def sim() -> MujocoBackend:
    s = MujocoBackend(3, cfg=CFG, offsets=neutral_offsets() * 1.04, log_mapping=False)
    yield s
    s.close()


def test_reset_puts_bodies_on_fk(sim: MujocoBackend) -> None:
    s = _random_pose(sim, 2, seed=0)
    sim.reset(torch.tensor([0, 2]), s)
    st = sim.state()
    st.validate()
    pos, quat = forward_kinematics(s.root_pos.double(), s.root_quat.double(), s.dof_pos.double(),
                                   neutral_offsets() * 1.04)
    assert (st.body_pos[[0, 2]].double() - pos).abs().max() < 1e-5
    dots = (st.body_quat[[0, 2]].double() * quat).sum(-1).abs()
    assert (1 - dots).max() < 1e-6
    torch.testing.assert_close(st.dof_pos[[0, 2]], s.dof_pos)


def test_reset_velocities_are_world_frame(sim: MujocoBackend) -> None:
    s = _random_pose(sim, 1, seed=1)
    s.root_lin_vel[:] = torch.tensor([0.3, -0.2, 0.1])
    s.root_ang_vel[:] = torch.tensor([0.5, 1.0, -2.0])
    s.obj_ang_vel[:] = torch.tensor([0.0, 0.0, 1.5])
    s.obj_quat[:] = torch.nn.functional.normalize(torch.tensor([[0.9, 0.1, 0.3, 0.2]]), dim=-1)
    sim.reset(torch.tensor([1]), s)
    st = sim.state()
    torch.testing.assert_close(st.root_ang_vel[1], s.root_ang_vel[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(st.obj_ang_vel[1], s.obj_ang_vel[0], atol=1e-5, rtol=0)
    # no joint motion: every body moves rigidly with the root
    rel = st.body_pos[1] - st.root_pos[1]
    expect = s.root_lin_vel[0] + torch.cross(s.root_ang_vel[0].expand_as(rel), rel, dim=-1)
    torch.testing.assert_close(st.body_lin_vel[1], expect, atol=1e-4, rtol=0)


def test_step_advances_control_dt(sim: MujocoBackend) -> None:
    sim.reset(torch.arange(3), sim.default_state(3))
    sim.set_pd_targets(sim.state().dof_pos)
    sim.step()
    assert sim.physics_dt == pytest.approx(1 / 240) and sim.control_dt == pytest.approx(1 / 30)
    assert sim.sim_dt == pytest.approx(1 / 60)
    assert [d.time for d in sim.datas] == pytest.approx([1 / 30] * 3)
    assert not sim.state().bad.any()


def test_model_carries_table7() -> None:
    s = MujocoBackend(1, cfg=CFG, log_mapping=False)
    m, ix = s.model, s.index
    obj = ix.geom_is_object
    assert m.opt.timestep == pytest.approx(1 / 240)
    assert np.allclose(m.geom_friction[obj, 0], 0.6) and (m.geom_priority[obj] == 1).all()
    assert np.allclose(m.geom_gap, 0.2) and np.allclose(m.geom_margin, 0.0)
    assert m.geom_solref[obj, 1] == pytest.approx(SimConfig.restitution_to_dampratio(0.05))
    assert m.geom_solref[ix.floor_geom, 1] == pytest.approx(SimConfig.restitution_to_dampratio(0.1))
    assert CFG.mass_mode == "fixed"  # Table 7's fixed masses are the default of sim=mujoco
    assert m.body_mass[ix.obj_body] == pytest.approx(0.5)  # a dynamic object: Table 7's dynamic mass
    dens = MujocoBackend(1, cfg=CFG.with_overrides(mass_mode="density"), log_mapping=False)
    assert dens.model.body_mass[dens.index.obj_body] == pytest.approx(1000 * 0.3**3, rel=1e-4)  # 30 cm box
    fixed = MujocoBackend(1, cfg=CFG, motion_mass_mode="static", log_mapping=False)
    assert fixed.model.body_mass[fixed.index.obj_body] == pytest.approx(10000)
    s.close()
    dens.close()
    fixed.close()


def _box_on_left_hand() -> tuple[MujocoBackend, ResetState]:
    half = 0.03
    sim = MujocoBackend(2, cfg=CFG, hulls=[box_hull((half, half, half))], log_mapping=False)
    s = sim.default_state(2)
    s.root_pos[:, 2] -= 0.002  # feet on the floor
    pos, _ = forward_kinematics(s.root_pos, s.root_quat, s.dof_pos)
    wrist = pos[0, BODY_INDEX["L_Wrist"]]
    s.obj_pos[:] = wrist + torch.tensor([0.0, 0.0, 0.07])
    return sim, s


def test_object_on_hand_sets_hand_contact_not_feet() -> None:
    sim, s = _box_on_left_hand()
    sim.reset(torch.arange(2), s)
    sim.set_pd_targets(s.dof_pos)
    for _ in range(15):
        sim.step()
    st = sim.state()
    hand = torch.tensor([BODY_INDEX[b] for b in LEFT_HAND])
    feet = torch.tensor([BODY_INDEX[b] for b in FEET])
    assert st.contact_obj[0, hand].any(), "the box should rest on the left hand"
    assert not st.contact_obj[0, feet].any()
    assert st.contact_any[0, feet].any() and st.contact_any[0, hand].any()
    others = torch.ones(52, dtype=torch.bool)
    others[hand] = False
    assert not st.contact_obj[0, others].any()
    # the box (0.216 kg) pushes the hand down with about its weight; the ground carries the humanoid
    weight = float(sim.model.body_mass[sim.index.obj_body]) * 9.81
    assert float(st.force_obj[0, hand, 2].sum()) == pytest.approx(-weight, rel=0.25)
    total = float(sim.model.body_subtreemass[sim.index.body_ids[0]]) * 9.81
    assert float(st.force_any[0, feet, 2].sum()) == pytest.approx(total + weight, rel=0.25)
    assert (st.obj_pos[0, 2] > 0.5) and not st.bad.any()
    sim.close()


def test_contact_decoding_matches_engine() -> None:
    sim, s = _box_on_left_hand()
    sim.reset(torch.arange(2), s)
    sim.set_pd_targets(s.dof_pos)
    for _ in range(5):
        sim.step()
    m, d = sim.model, sim.datas[0]
    geom, fw = contact_world_forces(m, d)
    active = [i for i in range(d.ncon) if d.contact[i].efc_address >= 0]
    assert len(active) == len(geom) > 0
    for k, i in enumerate(active):
        out = np.zeros(6)
        mujoco.mj_contactForce(m, d, i, out)
        world = d.contact[i].frame.reshape(3, 3).T @ out[:3]
        np.testing.assert_allclose(fw[k], world, atol=1e-8)
    sim.close()


def test_bad_env_is_flagged_and_reset_alone() -> None:
    ref = make_backend("mujoco", num_envs=3, cfg=CFG, log_mapping=False)
    sim = make_backend("mujoco", num_envs=3, cfg=CFG, log_mapping=False)
    good = ref.default_state(3)
    poisoned = ref.default_state(3)
    poisoned.dof_vel[1, 5] = float("nan")
    ref.reset(torch.arange(3), good)
    sim.reset(torch.arange(3), poisoned)
    for b in (ref, sim):
        b.set_pd_targets(good.dof_pos)
        b.step()
        b.step()
    a, r = sim.state(), ref.state()
    assert a.bad.tolist() == [False, True, False]
    for name in ("root_pos", "dof_pos", "body_pos", "obj_pos"):
        assert torch.equal(getattr(a, name)[[0, 2]], getattr(r, name)[[0, 2]]), name
    sim.reset(torch.tensor([1]), good.select([1]))
    sim.step()
    ref.step()
    a, r = sim.state(), ref.state()
    assert not a.bad.any()
    assert torch.isfinite(a.body_pos).all()
    assert torch.equal(a.body_pos[[0, 2]], r.body_pos[[0, 2]])
    # an env that blows up inside the rollout (MuJoCo resets it and its clock) is caught as well
    sim.datas[2].qvel[7] = float("nan")
    sim.step()
    ref.step()
    a, r = sim.state(), ref.state()
    assert a.bad.tolist() == [False, False, True]
    assert torch.equal(a.body_pos[0], r.body_pos[0]) and torch.isfinite(a.body_pos[1]).all()
    sim.close()
    ref.close()


def _reference_step(sim: MujocoBackend, datas: list[mujoco.MjData], targets: np.ndarray
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """One control step of every env the plain way: ``mj_step`` × ``physics_steps_per_control`` on its own
    ``MjData``. Returns each env's (force_obj, force_any) decoded from the last substep's contacts and constraint
    forces; the bodies are then brought to the new state (``mj_fwdPosition`` / ``mj_fwdVelocity``)."""
    m = sim.model
    forces = []
    for i, d in enumerate(datas):
        d.ctrl[sim.index.ctrl] = targets[i]
        for _ in range(sim.cfg.physics_steps_per_control):
            mujoco.mj_step(m, d)
        forces.append(contact_forces(m, d, sim.index))
        mujoco.mj_fwdPosition(m, d)
        mujoco.mj_fwdVelocity(m, d)
    return forces


def test_batch_step_equals_mj_step() -> None:
    """Bit for bit: the batch backend against ``mj_step`` on one ``MjData`` per env, over steps with hand and
    ground contacts; its sensor contact forces against decoding the last substep's ``efc_force``
    (``contact_forces``)."""
    sim, s = _box_on_left_hand()
    sim.reset(torch.arange(2), s)
    ref = []
    for d in sim.datas:  # the envs right after the reset, as MjData
        c = mujoco.MjData(sim.model)
        mujoco.mj_setState(sim.model, c, _full_state(sim.model, d), mujoco.mjtState.mjSTATE_INTEGRATION)
        ref.append(c)
    g = torch.Generator().manual_seed(3)
    ix = sim.index
    seen_obj = False
    for _ in range(6):
        targets = s.dof_pos + 0.05 * torch.randn(s.dof_pos.shape, generator=g)
        sim.set_pd_targets(targets)
        sim.step()
        forces = _reference_step(sim, ref, targets.double().numpy())
        st = sim.state()
        for i, d in enumerate(ref):
            assert np.array_equal(st.dof_pos[i].numpy(), d.qpos[ix.dof_qpos].astype(np.float32))
            assert np.array_equal(st.dof_vel[i].numpy(), d.qvel[ix.dof_qvel].astype(np.float32))
            assert np.array_equal(st.body_pos[i].numpy(), d.xpos[ix.body_ids].astype(np.float32))
            assert np.array_equal(st.obj_pos[i].numpy(), d.qpos[ix.obj_qpos:ix.obj_qpos + 3].astype(np.float32))
            f_obj, f_any = forces[i]
            np.testing.assert_allclose(st.force_obj[i].numpy(), f_obj, rtol=1e-6, atol=1e-5)
            np.testing.assert_allclose(st.force_any[i].numpy(), f_any, rtol=1e-6, atol=1e-5)
            seen_obj |= bool(np.abs(f_obj).max() > 0.1)
    assert seen_obj, "the box should press on the hand"
    sim.close()


def _full_state(m: mujoco.MjModel, d: mujoco.MjData) -> np.ndarray:
    out = np.empty(mujoco.mj_stateSize(m, mujoco.mjtState.mjSTATE_INTEGRATION))
    mujoco.mj_getState(m, d, out, mujoco.mjtState.mjSTATE_INTEGRATION)
    return out


def test_reset_with_repeated_and_unsorted_ids(sim: MujocoBackend) -> None:
    """Envs given twice take their last state (as resetting them one after the other would); order is free."""
    a, b = _random_pose(sim, 1, seed=4), _random_pose(sim, 1, seed=5)
    both = ResetState(**{k: torch.cat([getattr(a, k), getattr(b, k), getattr(a, k)])
                         for k in ResetState.__dataclass_fields__})
    sim.reset(torch.tensor([2, 0, 0]), both)
    st = sim.state()
    torch.testing.assert_close(st.dof_pos[0], a.dof_pos[0])
    torch.testing.assert_close(st.dof_pos[2], a.dof_pos[0])
    sim.reset(torch.tensor([0]), b)
    torch.testing.assert_close(sim.state().dof_pos[0], b.dof_pos[0])


def test_datas_reflect_and_feed_the_batch(sim: MujocoBackend) -> None:
    """``datas`` shows each env's state after a step; a state written into it is where the next step starts."""
    sim.reset(torch.arange(3), sim.default_state(3))
    sim.set_pd_targets(sim.state().dof_pos)
    sim.step()
    st = sim.state()
    d = sim.datas[1]
    assert np.array_equal(d.xpos[sim.index.body_ids].astype(np.float32), st.body_pos[1].numpy())
    d.qpos[sim.index.obj_qpos + 2] += 0.5  # lift the object
    z = float(d.qpos[sim.index.obj_qpos + 2])
    sim.step()
    assert float(sim.state().obj_pos[1, 2]) > z - 0.05  # it fell from there, not from the ground
