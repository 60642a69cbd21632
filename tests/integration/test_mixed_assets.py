"""Per-env assets on the MuJoCo CPU backend (issue 12, items 1 and 3): one batch mixes clips of two skeletons
(sub2, sub8) and three objects (largetable, woodchair, plasticbox). The real-clip tests skip
without ../shared.

After resets at random frames every env's simulated bodies sit within 1 mm of its own clip's reference bodies
(the sub8 skeleton differs from sub2's by 48 mm, so a body on the wrong skeleton would be far off) and its object
at its own clip's object pose; clips swap at reset within their asset group only; two meshes under one object
name are two objects; a mix that cannot be simulated is refused with the clips named. A toy mix (no ../shared)
checks the padding to one data layout.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from hoi_sim.envs import EnvCfg, HOIEnv
from hoi_sim.errors import InputError
from hoi_sim.motions.intermimic import from_intermimic
from hoi_sim.motions.library import MotionLibrary

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CLIPS = ("sub2_largetable_000", "sub2_largetable_001", "sub2_woodchair_000", "sub8_plasticbox_000",
         "sub8_plasticbox_001")
NUM_ENVS = 9


def _cfg(n: int, collision: str = "convex_hull", **kw) -> EnvCfg:
    return EnvCfg(num_envs=n, backend="mujoco", reward="tr", state_init="random", seed=3,
                  backend_kwargs={"object_collision": collision, "log_mapping": False}, **kw)


@pytest.fixture(scope="module")
def motions(omomo_dir, objects_dir) -> list:
    sub8 = omomo_dir.parent / "OMOMO_retarget_sub8"
    if not sub8.is_dir():
        pytest.skip(f"needs {sub8} (../shared data is not beside this checkout)")
    return [from_intermimic((sub8 if c.startswith("sub8") else omomo_dir) / f"{c}.pt", objects_dir) for c in CLIPS]


@pytest.fixture(scope="module")
def env(motions) -> HOIEnv:
    e = HOIEnv(_cfg(NUM_ENVS), MotionLibrary(motions))
    yield e
    e.close()


def _check_reset(env: HOIEnv) -> None:
    """Every env's simulated bodies and object against its own clip's reference at its start time."""
    s = env.backend.state()
    ref = env.lib.state(env.motion_ids, env.start_time)
    err = (s.body_pos - ref.body_pos).norm(dim=-1).amax(-1)
    assert float(err.max()) < 1e-3, f"reset body error (m) per env {err.tolist()}, clips {env.motion_ids.tolist()}"
    assert float((s.obj_pos - ref.obj_pos).norm(dim=-1).max()) < 1e-4
    dot = (s.obj_quat * ref.obj_quat).sum(-1).abs()
    assert float(dot.min()) > 1 - 1e-6
    assert torch.equal(env.env_group, env.lib.clip_group[env.motion_ids])  # never a clip of another group


def test_groups_by_content(env: HOIEnv) -> None:
    lib = env.lib
    assert lib.num_groups == 3 and lib.clip_group.tolist() == [0, 0, 1, 2, 2]
    assert len({g.skeleton for g in lib.asset_groups}) == 2 and len({g.object for g in lib.asset_groups}) == 3
    assert env.env_group.tolist() == [i % 3 for i in range(NUM_ENVS)]  # round-robin at start
    b = env.backend
    assert len(b.models) == 3 and b.model is b.models[0]
    assert len({m.ngeom for m in b.models}) == 1 and len({m.nbvh for m in b.models}) == 1  # one data layout


def test_each_env_resets_onto_its_own_skeleton_and_object(env: HOIEnv) -> None:
    seen: dict[int, set[int]] = {0: set(), 1: set(), 2: set()}
    env.reset()
    for _ in range(4):  # several frames and clip draws
        env.reset_envs(torch.arange(NUM_ENVS))
        _check_reset(env)
        for g, m in zip(env.env_group.tolist(), env.motion_ids.tolist()):
            seen[g].add(m)
    assert seen[0] == {0, 1} and seen[2] == {3, 4} and seen[1] == {2}  # swapped within the group only


def test_contact_sensors_run_on_each_groups_model(env: HOIEnv) -> None:
    """Each env's sensor forces are those of its own group's scene: the last substep's contacts, replayed with
    ``mj_step`` on that group's model from the env's state before the step."""
    import mujoco

    from hoi_sim.sim.mujoco_contacts import contact_forces

    env.reset()
    b, spec = env.backend, mujoco.mjtState.mjSTATE_INTEGRATION
    b.set_pd_targets(env.state.dof_pos)  # hold the reset pose (the backend alone: no env resets in between)
    for _ in range(2):
        b.step()
    before = []
    for i, d in enumerate(b.datas):
        row = np.empty(mujoco.mj_stateSize(b.models[int(b.env_group[i])], spec))
        mujoco.mj_getState(b.models[int(b.env_group[i])], d, row, spec)
        before.append(row)
    b.step()
    s = b.state()
    assert not s.bad.any()
    seen = 0
    for i, after in enumerate(b.datas):
        m = b.models[int(b.env_group[i])]
        d = mujoco.MjData(m)
        mujoco.mj_setState(m, d, before[i], spec)
        d.ctrl[:] = after.ctrl
        for _ in range(b.cfg.physics_steps_per_control):
            mujoco.mj_step(m, d)
        f_obj, f_any = contact_forces(m, d, b.index)
        np.testing.assert_allclose(s.force_any[i].numpy(), f_any, atol=1e-3, rtol=1e-4)
        np.testing.assert_allclose(s.force_obj[i].numpy(), f_obj, atol=1e-3, rtol=1e-4)
        seen += int(np.abs(f_any).max() > 0.1)
    assert seen >= len(b.datas) // 2, "most envs should touch something (the ground at least)"


def test_one_name_two_meshes_are_two_objects(motions, omomo_dir, objects_dir, tmp_path, caplog) -> None:
    import trimesh

    mesh = trimesh.load(objects_dir / "woodchair.obj", force="mesh", process=False)
    mesh.apply_scale(1.3)
    (tmp_path / "woodchair.obj").write_text(trimesh.exchange.obj.export_obj(mesh))
    big = from_intermimic(omomo_dir / "sub2_woodchair_000.pt", tmp_path)
    assert big.meta["object_name"] == motions[2].meta["object_name"] == "woodchair"
    with caplog.at_level(logging.WARNING, logger="hoi_sim.motions.assets"):
        lib = MotionLibrary([motions[2], big])
    assert lib.num_groups == 2 and "both name their object 'woodchair'" in caplog.text
    e = HOIEnv(_cfg(4, "convex_hull"), lib)
    try:
        e.reset()
        _check_reset(e)
        m0, m1 = e.backend.models
        ext = [float(np.ptp(m.mesh_vert[m.mesh_vertadr[0]:m.mesh_vertadr[0] + m.mesh_vertnum[0]], 0).max())
               for m in (m0, m1)]
        assert ext[1] == pytest.approx(1.3 * ext[0], rel=1e-3)  # each env simulates its own mesh
    finally:
        e.close()


def test_toy_mix_pads_objects_to_one_layout() -> None:
    """Without ../shared: a neutral and a 1.25× body, a 1-hull and a 3-hull object, in one batch."""
    import mujoco

    from hoi_sim.envs.toy import toy_motion
    from hoi_sim.objects.hulls import box_hull
    from hoi_sim.sim.mujoco import MujocoBackend
    from hoi_sim.sim.mujoco_assets import SceneAssets

    a, big = toy_motion(30, seed=1, name="a"), toy_motion(30, seed=1, name="big")
    for name in ("root_pos", "body_pos", "obj_pos", "skeleton_offsets"):
        setattr(big, name, getattr(big, name) * np.float32(1.25))
    big.obj_vertices = big.obj_vertices * np.float32(1.25)
    lib = MotionLibrary([a, big])
    assert lib.num_groups == 2
    parts = [box_hull((0.05, 0.1, 0.1), (x, 0.0, 0.0)) for x in (-0.1, 0.0, 0.1)]
    backend = MujocoBackend(4, groups=[SceneAssets(a.skeleton_offsets, [box_hull((0.15, 0.1, 0.1))], label="a"),
                                       SceneAssets(big.skeleton_offsets, parts, label="big")],
                            env_group=[0, 1, 0, 1], log_mapping=False)
    m0, m1 = backend.models
    pads = [i for i in range(m0.ngeom) if (mujoco.mj_id2name(m0, mujoco.mjtObj.mjOBJ_GEOM, i) or "").startswith(
        "object_pad")]
    assert m0.ngeom == m1.ngeom and m0.nbvh == m1.nbvh and len(pads) == 3  # 2 hulls + the filler cone
    assert (m0.geom_contype[pads] == 0).all() and (m0.geom_conaffinity[pads] == 0).all()
    obj = backend.index.obj_body
    assert float(m0.body_mass[obj]) == pytest.approx(float(m1.body_mass[obj]), abs=1e-6)  # equal volumes; pads ~0
    e = HOIEnv(_cfg(4, "bbox"), lib, backend)
    try:
        for _ in range(3):
            e.reset()
            _check_reset(e)
        assert e.motion_ids.tolist() == [0, 1, 0, 1]
    finally:
        e.close()


def test_a_mix_that_cannot_be_simulated_is_refused(motions) -> None:
    from hoi_sim.envs.backend import make_env_backend

    lib = MotionLibrary(motions)
    with pytest.raises(InputError, match=r"2 envs cannot hold the library's 3 asset groups.*sub8_plasticbox_000"):
        make_env_backend(_cfg(2, "convex_hull"), lib)
