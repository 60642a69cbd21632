"""Per-env assets on mujoco-warp without ../shared (``hoi_sim.sim.mjwarp_assets``): a toy mix of two skeletons (neutral
and 1.25×) and two objects (one box hull, three box hulls) on Warp's CPU device against the MuJoCo CPU backend; the
mesh pool reproduces every group's meshes; a scene difference mujoco-warp cannot hold per world is refused by name.
The real mixed subset (sub2 + sub8 clips) is in ``test_mjwarp_parity.py``.
"""

from __future__ import annotations

import copy

import mujoco_warp  # noqa: F401  (a dev dependency: missing is a set-up failure, not a skip)
import numpy as np
import pytest
import torch
import warp as wp

from hoi_sim.envs.toy import toy_motion
from hoi_sim.errors import InputError
from hoi_sim.objects.hulls import box_hull
from hoi_sim.sim.config import SimConfig
from hoi_sim.sim.mjwarp import MjWarpBackend
from hoi_sim.sim.mjwarp_assets import mesh_pool, per_world_fields
from hoi_sim.sim.mujoco import MujocoBackend
from hoi_sim.sim.mujoco_assets import SceneAssets, build_group_models
from hoi_sim.skeleton import NUM_DOFS

pytestmark = [pytest.mark.xdist_group("warp"), pytest.mark.usefixtures("one_torch_thread")]

ENV_GROUP = [0, 1, 1, 0]  # not round-robin: one row per world
POS_TOL = 1e-3  # m, as test_mjwarp_parity


def _assets() -> list[SceneAssets]:
    a = toy_motion(20, seed=1, name="a")
    big = a.skeleton_offsets * np.float32(1.25)
    parts = [box_hull((0.05, 0.1, 0.1), (x, 0.0, 0.0)) for x in (-0.1, 0.0, 0.1)]
    return [SceneAssets(a.skeleton_offsets, [box_hull((0.15, 0.1, 0.1))], label="neutral+box"),
            SceneAssets(big, parts, label="big+3 boxes")]


@pytest.fixture(scope="module")
def pair() -> tuple[MujocoBackend, MjWarpBackend]:
    cfg = SimConfig.for_backend("mujoco").with_overrides(num_envs=len(ENV_GROUP))
    cpu = MujocoBackend(len(ENV_GROUP), groups=_assets(), env_group=ENV_GROUP, cfg=cfg, log_mapping=False)
    gpu = MjWarpBackend(len(ENV_GROUP), groups=_assets(), env_group=ENV_GROUP, cfg=cfg, device="cpu",
                        log_mapping=False)
    return cpu, gpu


def test_toy_mix_matches_the_cpu_backend(pair) -> None:
    cpu, gpu = pair
    n = len(ENV_GROUP)
    assert gpu.env_group.tolist() == ENV_GROUP and len(gpu.models) == 2
    assert gpu.m.body_pos.shape[0] == n and "geom_dataid" in gpu.per_world_fields
    pads = (gpu.models[0].geom_contype == 0) & (gpu.models[1].geom_contype != 0)  # group 0's 2 pads: group 1's hulls
    dataid = gpu.m.geom_dataid.numpy()
    assert pads.sum() == 2 and gpu.m.geom_contype.numpy()[pads].all()  # they collide in the shared model …
    assert (dataid[[0, 3]][:, pads] == -1).all() and (dataid[[1, 2]][:, pads] >= 0).all()  # … where they exist
    s = cpu.default_state(n)
    s.dof_pos[:] = 0.05 * torch.randn(1, NUM_DOFS, generator=torch.Generator().manual_seed(0))  # one pose
    s.root_pos[:, 2] = 1.25 * s.root_pos[:, 2] + 0.2  # bodies in the air for 5 steps, objects on the ground
    ids = torch.arange(n)
    cpu.reset(ids, s)
    gpu.reset(ids, s)
    a, b = cpu.state(), gpu.state()
    assert (a.body_pos - b.body_pos).abs().max() < 1e-5
    reach = (a.body_pos[:, :, 2].amax(1) - a.body_pos[:, :, 2].amin(1))
    assert reach[1] > 1.2 * reach[0] and reach[3] == pytest.approx(float(reach[0]), abs=1e-6)  # 1.25× body in 1, 2
    for _ in range(5):
        cpu.set_pd_targets(s.dof_pos)
        gpu.set_pd_targets(s.dof_pos)
        cpu.step()
        gpu.step()
    a, b = cpu.state(), gpu.state()
    assert (a.body_pos - b.body_pos).abs().max() < POS_TOL
    assert (a.obj_pos - b.obj_pos).abs().max() < POS_TOL
    assert (a.obj_pos[:, 2] - s.obj_pos[:, 2]).abs().max() < 2e-3  # each object rests at its own height
    assert not b.bad.any()


def test_mesh_pool_holds_every_groups_meshes() -> None:
    models = [g.model for g in build_group_models(_assets(), SimConfig.for_backend("mujoco"))]
    pool, first = mesh_pool(models)
    assert pool["nmesh"] == sum(m.nmesh for m in models) and first.tolist() == [0, models[0].nmesh]
    for g, m in enumerate(models):
        for j in range(m.nmesh):
            k = first[g] + j

            def cut(name: str, adr: str, num: str, pool_name: str | None = None, mm=m, kk=k, jj=j) -> None:
                a, n = int(pool[adr][kk]), int(np.asarray(getattr(mm, num))[jj])
                b = int(np.asarray(getattr(mm, adr))[jj])
                np.testing.assert_array_equal(pool[pool_name or name][a:a + n], np.asarray(getattr(mm, name))[b:b + n])

            cut("mesh_vert", "mesh_vertadr", "mesh_vertnum")
            cut("mesh_face", "mesh_faceadr", "mesh_facenum")
            cut("mesh_polyvertnum", "mesh_polyadr", "mesh_polynum")
            cut("mesh_polymapnum", "mesh_vertadr", "mesh_vertnum")
            ga, gb = int(pool["mesh_graphadr"][k]), int(m.mesh_graphadr[j])
            size = 2 + 3 * int(m.mesh_graph[gb]) + 6 * int(m.mesh_graph[gb + 1])  # MuJoCo's graph layout
            np.testing.assert_array_equal(pool["mesh_graph"][ga:ga + size], m.mesh_graph[gb:gb + size])


def test_a_field_held_once_for_all_worlds_is_refused(pair) -> None:
    _, gpu = pair
    other = copy.copy(gpu.m)
    other.geom_type = wp.array(gpu.m.geom_type.numpy()[::-1].copy(), dtype=int, device=gpu.m.geom_type.device)
    with pytest.raises(InputError, match=r"b cannot share a mujoco-warp model with a: .*'geom_type'"):
        per_world_fields([gpu.m, other], ["a", "b"])
    assert per_world_fields([gpu.m, copy.copy(gpu.m)], ["a", "b"]) == []
