"""HOIEnv logic on the kinematic fake backend: resets, actions, observations, terminations, timeouts, bad envs."""

from __future__ import annotations

import math

import pytest
import torch

from hoi_sim import skeleton as sk
from hoi_sim.envs import EnvCfg, HOIEnv
from hoi_sim.envs.actions import action_offset_scale, actions_to_targets
from hoi_sim.envs.toy import toy_motion
from hoi_sim.errors import InputError
from hoi_sim.motions.library import MotionLibrary
from hoi_sim.sim.fake import FakeBackend

N = 6


pytestmark = pytest.mark.usefixtures("one_torch_thread")



@pytest.fixture(scope="module")
def lib() -> MotionLibrary:
    return MotionLibrary([toy_motion(40, seed=0, name="a"), toy_motion(25, seed=1, name="b")])


def make_env(lib: MotionLibrary, **kw) -> HOIEnv:
    terms = kw.pop("terminations", {"hand_contact": None})
    cfg = EnvCfg(num_envs=N, backend="fake", reward=kw.pop("reward", "tr_lr_cr"), terminations=terms, **kw)
    return HOIEnv(cfg, lib, FakeBackend(N))


def ref_actions(env: HOIEnv) -> torch.Tensor:
    """Actions whose PD targets are the next reference DOFs (the fake backend reaches targets exactly)."""
    dof = env.reference(1).dof_pos
    return (dof - env.action_offset) / env.action_scale


def test_action_offset_scale_rule() -> None:
    lim = FakeBackend(1).dof_limits
    off, scale = action_offset_scale(lim)
    i = sk.DOF_NAMES.index
    assert scale[i("L_Knee_z")] == 5.0 and scale[i("R_Knee_z")] == 5.0
    assert scale[i("L_Hip_x")] == pytest.approx(math.pi) and off[i("L_Hip_x")] == pytest.approx(0.0, abs=1e-6)
    assert off[i("L_Index3_x")] == 0.0 and scale[i("L_Index3_x")] == pytest.approx(math.pi)  # asymmetric axis
    assert scale[i("L_Index1_x")] == pytest.approx(math.radians(55.625), rel=1e-4)
    assert scale[i("L_Index1_y")] == pytest.approx(math.radians(5.625), rel=1e-4)
    _, keep = action_offset_scale(lim, knee_scale=None)
    assert keep[i("L_Knee_z")] == pytest.approx(math.pi)
    a = torch.zeros(2, 153)
    a[0, 0] = 3.0  # clipped to 1
    a[1, 0] = float("nan")  # → 0
    t = actions_to_targets(a, off, scale)
    assert t[0, 0] == pytest.approx(math.pi) and t[1, 0] == pytest.approx(0.0, abs=1e-6)


def test_reset_and_observation_layout(lib: MotionLibrary) -> None:
    env = make_env(lib, state_init="start")
    obs = env.reset()
    lay = env.obs_layout
    assert obs.shape == (N, 2 * lay.block_size) and env.num_obs == 3198 and bool(torch.isfinite(obs).all())
    s = env.state
    ref0 = env.reference(0)
    assert torch.allclose(s.body_pos, ref0.body_pos, atol=1e-4)  # reference state init at frame 0
    assert torch.allclose(obs[:, lay.slice("root_height")][:, 0], s.root_pos[:, 2])  # row 1: root height
    # row 7 of block 2 (Δ = 16): key-body error against the frame 16 steps ahead, not zero
    assert float(obs[:, lay.slice("key_body_pos_error", 1)].abs().max()) > 1e-3
    # row 9: contact-label error: wrists labelled +1 and not touching → 1 in their slots
    lw = sk.CONTACT_BODIES.index("L_Wrist")
    assert torch.allclose(obs[:, lay.slice("contact_label_error")][:, lw], torch.ones(N))


def test_error_rows_vanish_when_tracking_exactly(lib: MotionLibrary) -> None:
    env = make_env(lib, state_init="start", obs_horizons=(0,))
    env.reset()
    obs, *_ = env.step(ref_actions(env))  # the fake reaches the targets; Δ = 0 compares with the same frame
    assert env.num_obs == env.obs_layout.block_size == 1599
    rows = env.obs_layout.rows(obs)
    assert float(rows["key_body_pos_error"].abs().max()) < 0.02  # root drift of the fake only
    identity = torch.tensor([1.0, 0, 0, 0, 0, 1.0]).repeat(22)
    assert torch.allclose(rows["rot_error"], identity.expand(N, -1), atol=0.05)
    assert float(rows["obj_error"][:, :3].abs().max()) < 0.02


def test_tracking_the_reference_gives_top_reward(lib: MotionLibrary) -> None:
    env = make_env(lib, state_init="start", reward="tr")
    env.reset()
    for _ in range(3):
        obs, r, te, tr, info = env.step(ref_actions(env))
        assert not bool(te.any())
    assert torch.allclose(info["reward_terms"]["raw/body_pos"], torch.zeros(N), atol=1e-3)
    assert bool((info["reward_terms"]["raw/body_rot"] < 1e-3).all())


def test_determinism(lib: MotionLibrary) -> None:
    outs = []
    for _ in range(2):
        env = make_env(lib, state_init="random", seed=7, rollout_length=10)
        env.reset()
        g = torch.Generator().manual_seed(1)
        for _ in range(4):
            obs, r, *_ = env.step(torch.rand(N, 153, generator=g) * 2 - 1)
        outs.append((obs, r, env.motion_ids.clone(), env.start_time.clone()))
    for a, b in zip(*outs):
        assert torch.equal(a, b)


def test_state_init_modes(lib: MotionLibrary) -> None:
    env = make_env(lib, state_init="random", rollout_length=10)
    big = HOIEnv(EnvCfg(num_envs=200, backend="fake", state_init="random", rollout_length=10), lib,
                 FakeBackend(200))
    big.reset()
    frames = torch.round(big.start_time * 30).long()
    t = lib.num_frames[big.motion_ids]
    assert bool((frames < t - 1).all()) and int(frames.max()) > 0  # default start_range: the whole clip
    im = HOIEnv(EnvCfg(num_envs=200, backend="fake", state_init="random", rollout_length=10,
                       start_range="intermimic"), lib, FakeBackend(200))
    im.reset()
    frames = torch.round(im.start_time * 30).long()
    t = lib.num_frames[im.motion_ids]
    assert bool((frames < (t - 10).clamp_min(1)).all()) and int(frames.max()) > 0
    hyb = HOIEnv(EnvCfg(num_envs=200, backend="fake", state_init="hybrid", hybrid_start_prob=1.0,
                        rollout_length=10), lib, FakeBackend(200))
    hyb.reset()
    assert bool((hyb.start_time == 0).all())
    env.reset()
    with pytest.raises(InputError):
        EnvCfg(state_init="psi")
    with pytest.raises(InputError, match="start_range"):
        EnvCfg(start_range="middle")


def test_timeouts_are_not_terminations(lib: MotionLibrary) -> None:
    env = make_env(lib, state_init="start", rollout_length=5)
    env.reset()
    for _ in range(5):
        obs, r, te, tr, info = env.step(ref_actions(env))
        assert not bool(te.any())
    assert bool(tr.all()) and torch.equal(info["time_outs"], tr)
    assert bool((info["episode_length"] == 5).all()) and bool((env.progress == 0).all())
    # the clip end is a timeout too: clip "b" has 25 frames → 24 steps from frame 0
    env = make_env(lib, state_init="start", rollout_length=100)
    env.reset()
    steps_to_end = (lib.num_frames[env.motion_ids] - 1).clone()
    for step in range(1, 25):
        _, _, te, tr, _ = env.step(ref_actions(env))
        assert torch.equal(tr, steps_to_end == step)  # clip b (24 steps) ends first; clip a needs 39
        assert not bool(te.any())


def test_fall_termination_switchable(lib: MotionLibrary) -> None:
    for enabled in (True, False):
        env = make_env(lib, state_init="start", terminations={"fall": {} if enabled else None,
                                                                          "hand_contact": None, "body_error": None,
                                                                          "object_error": None,
                                                                          "interaction_graph": None})
        env.reset()
        rs = env.lib.frame_state(env.motion_ids[:1], torch.zeros(1, dtype=torch.long)).reset_state()
        rs.root_pos[:, 2] = 0.1
        env.backend.reset(torch.tensor([0]), rs)
        _, _, te, tr, info = env.step(ref_actions(env))
        assert not bool(te.any())  # step 1: InterMimic's grace (the fall test applies when progress > 1)
        env.backend.reset(torch.tensor([0]), rs)
        _, _, te, tr, info = env.step(ref_actions(env))
        assert bool(te[0]) is enabled and not bool(te[1:].any())
        assert ("fall" in info["terminations"]) is enabled


def test_tracking_error_terminations_after_grace(lib: MotionLibrary) -> None:
    env = make_env(lib, state_init="start", terminations={"fall": None, "hand_contact": None,
                                                          "interaction_graph": None})
    env.reset()
    rs = env.lib.frame_state(env.motion_ids[:1], torch.zeros(1, dtype=torch.long)).reset_state()
    rs.obj_pos[:, 0] += 2.0  # object 2 m away
    env.backend.reset(torch.tensor([0]), rs)
    _, _, te, _, info = env.step(ref_actions(env))
    assert not bool(te[0])  # step 1: inside the grace period
    env.backend.reset(torch.tensor([0]), rs)
    _, _, te, _, info = env.step(ref_actions(env))
    assert bool(info["terminations"]["object_error"][0]) and bool(te[0]) and not bool(te[1:].any())


def test_hand_contact_termination_counts_consecutive_misses(lib: MotionLibrary) -> None:
    env = make_env(lib, state_init="start", rollout_length=100,
                   terminations={"fall": None, "body_error": None, "object_error": None,
                                 "interaction_graph": None, "hand_contact": {}})
    env.reset()
    for step in range(1, 12):
        _, _, te, _, info = env.step(ref_actions(env))  # wrists labelled +1, fake reports no contact
        assert bool(te.all()) is (step == 11)
    env.reset()
    touch = torch.zeros(N, 52, dtype=torch.bool)
    touch[:, sk.BODY_INDEX["L_Wrist"]] = True
    touch[:, sk.BODY_INDEX["R_Index1"]] = True
    env.backend.set_contacts(contact_any=touch)
    for _ in range(15):
        _, _, te, _, _ = env.step(ref_actions(env))
        assert not bool(te.any())


def test_bad_env_is_reset_and_counted_others_continue(lib: MotionLibrary) -> None:
    env = make_env(lib, state_init="start", rollout_length=100)
    env.reset()
    env.step(ref_actions(env))
    bad = torch.zeros(N, dtype=torch.bool)
    bad[2] = True
    env.backend.set_bad(bad)
    obs, r, te, tr, info = env.step(ref_actions(env))
    assert info["bad_env_count"] == 1 and info["bad_env_total"] == 1 and bool(info["bad_envs"][2])
    assert r[2] == 0 and bool(te[2]) and int(env.progress[2]) == 0
    assert bool((env.progress[[0, 1, 3, 4, 5]] == 2).all())
    # NaN written into one env's state
    env.backend._r.root_pos[4, 0] = float("nan")
    obs, r, te, tr, info = env.step(ref_actions(env))
    assert info["bad_env_count"] == 1 and info["bad_env_total"] == 2 and bool(info["bad_envs"][4])
    assert bool(torch.isfinite(obs).all()) and bool(torch.isfinite(r).all())
    assert int(env.progress[4]) == 0 and int(env.progress[0]) == 3


def test_intermimic_reward_runs_in_env(lib: MotionLibrary) -> None:
    env = make_env(lib, state_init="start", reward="intermimic")
    env.reset()
    _, r, *_ , info = env.step(ref_actions(env))
    assert bool(((r > 0) & (r <= 1)).all()) and "raw/ig" in info["reward_terms"]


def test_config_from_yaml_and_errors(tmp_path) -> None:
    cfg = EnvCfg.from_yaml("default")
    assert cfg.reward == "tr_lr_cr" and cfg.obs_horizons == (1, 16)
    assert cfg.termination_terms().get("fall").height == 0.3
    p = tmp_path / "e.yaml"
    p.write_text("num_envs: 2\nbogus: 1\n")
    with pytest.raises(InputError):
        EnvCfg.from_yaml(p)
    with pytest.raises(InputError):
        EnvCfg.from_dict({"terminations": {"nope": True}})


def test_nearest_surface_vec_matches_brute_force() -> None:
    from hoi_sim import rotations as rot
    from hoi_sim.objects.nearest import nearest_surface_vec

    g = torch.Generator().manual_seed(0)
    body = torch.rand(3, 52, 3, generator=g) * 2 - 1
    pts = torch.rand(3, 200, 3, generator=g) - 0.5
    q = rot.quat_normalize(torch.rand(3, 4, generator=g) - 0.5)
    p = torch.rand(3, 3, generator=g)
    world = rot.quat_rotate(q[:, None].expand(3, 200, 4), pts) + p[:, None]
    idx = torch.cdist(body, world).argmin(-1)
    expect = body - torch.gather(world, 1, idx[..., None].expand(3, 52, 3))
    got = nearest_surface_vec(body, p, rot.quat_to_matrix(q), pts)
    assert torch.allclose(got, expect, atol=1e-5)


def test_ig_termination_shortcut_agrees_with_full_test(lib: MotionLibrary) -> None:
    from hoi_sim.envs import terminations as term

    env = make_env(lib, state_init="start")
    env.reset()
    s, ref = env.state, env.reference(0)
    g = torch.Generator().manual_seed(0)
    for shift in (0.1, 0.6, 1.5, 3.0):
        s.body_pos = ref.body_pos + shift * (torch.rand(N, 52, 3, generator=g) - 0.5)
        s.obj_pos = ref.obj_pos + shift * (torch.rand(N, 3, generator=g) - 0.5)
        k = env._key
        sim_pts = env._obj_points_world(s.obj_pos, s.obj_quat)
        ref_pts = env._obj_points_world(ref.obj_pos, ref.obj_quat)
        full = term.interaction_graph_broken(s.body_pos[:, k], sim_pts, ref.body_pos[:, k], ref_pts)
        dp = (sim_pts - ref_pts).norm(dim=-1).amax(-1)
        assert torch.equal(env._ig_broken(s, ref, dp), full)


def test_object_gap_bound_gives_the_full_tables_decisions(lib: MotionLibrary) -> None:
    """The object-error test with its bound pre-test decides as the full [N,P] gap table does, and its bounds hold."""
    from hoi_sim import rotations as rot

    env = make_env(lib, state_init="start")
    env.reset()
    s, ref = env.state, env.reference(0)
    g = torch.Generator().manual_seed(1)
    crossed = 0
    for shift in (0.02, 0.1, 0.3, 0.6):
        s.obj_pos = ref.obj_pos + shift * (torch.rand(N, 3, generator=g) - 0.5)
        s.obj_quat = rot.quat_normalize(ref.obj_quat + shift * (torch.rand(N, 4, generator=g) - 0.5))
        gap = (env._obj_points_world(s.obj_pos, s.obj_quat) - env._obj_points_world(ref.obj_pos, ref.obj_quat)
               ).norm(dim=-1)
        for thr in (0.05, 0.1, 0.25):
            mean_gap, bound = env._object_gap(s, ref, thr)
            assert torch.equal(mean_gap > thr, gap.mean(-1) > thr), (shift, thr)
            assert (bound >= gap.amax(-1) - 1e-6).all() and (mean_gap >= gap.mean(-1) - 1e-6).all()
            crossed += int((gap.mean(-1) > thr).sum())
    assert 0 < crossed < 4 * 3 * N  # both outcomes were decided


def test_rollout_names_the_termination_that_ended_it(lib: MotionLibrary) -> None:
    """``rollout_clips`` records which terms ended each clip's rollout: env 0's object is put 2 m off at step 4 and
    its rollout ends by ``object_error``; env 1 tracks its clip to the end and names no cause."""
    from hoi_sim.eval.rollout import ClipEnv, rollout_clips

    cfg = EnvCfg(num_envs=2, backend="fake", reward="tr_lr_cr", state_init="start", rollout_length=100,
                 terminations={"fall": None, "hand_contact": None, "interaction_graph": None})
    env = ClipEnv(cfg, lib, FakeBackend(2), assigned=torch.tensor([0, 1]))
    calls = {"n": 0}

    def act(obs: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 4:
            rs = env.lib.frame_state(env.motion_ids[:1], torch.tensor([4])).reset_state()
            rs.obj_pos[:, 0] += 2.0
            env.backend.reset(torch.tensor([0]), rs)
        return ref_actions(env)

    a, b = rollout_clips(env, act)
    assert a.terminated and not a.reached_end and a.steps == 4 and a.ended_by == ("object_error",)
    assert b.reached_end and not b.terminated and b.ended_by == () and b.steps == 24
