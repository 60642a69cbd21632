"""Observations as named terms (issue 14.3): the default set gives, bit for bit, the observation of the hand-ordered
teacher builder it replaced (a frozen copy of it lives below), the layout comes from the terms, and bad sets fail
naming the term."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
import torch

from hoi_sim import rotations as rot
from hoi_sim import skeleton as sk
from hoi_sim.envs import EnvCfg, HOIEnv
from hoi_sim.envs import obs_terms as ot
from hoi_sim.envs.observations import ObservationBuilder, load_observation_set
from hoi_sim.envs.toy import toy_motion
from hoi_sim.errors import InputError
from hoi_sim.motions.library import MotionLibrary, MotionState
from hoi_sim.objects.nearest import nearest_surface_vec
from hoi_sim.sim.fake import FakeBackend

DOC = Path(__file__).resolve().parents[2] / "docs" / "observations.md"
N = 6

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------- frozen copy of the builder before issue 14.3
# (hoi_sim/envs/observations.py at 2940158: TeacherObservation.sim_part/_ref_rows/block and HOIEnv.observe)

_LEGACY_ORDER = ("root_height", "body_pos_local", "body_rot_local", "body_lin_vel_local", "body_ang_vel_local",
                 "contact", "key_body_pos_error", "rot_error", "contact_label_error", "key_body_pos_local",
                 "ref_rot_local", "key_body_lin_vel_error", "ang_vel_error", "obj_vel_local", "obj_error", "ig",
                 "ig_error")


def _l_ig(vec: torch.Tensor) -> torch.Tensor:
    d = vec.norm(dim=-1, keepdim=True)
    return vec / d.clamp_min(1e-9) * torch.exp(-5.0 * d)


def _l_loc(hm: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return (hm @ v[..., None])[..., 0] if v.dim() == 2 else v @ hm.transpose(-1, -2)


def _l_tan(m: torch.Tensor) -> torch.Tensor:
    return torch.cat([m[..., :, 0], m[..., :, 2]], dim=-1)


def _legacy_sim_part(sim, contact: torch.Tensor, sim_ig: torch.Tensor) -> dict[str, torch.Tensor]:
    ids = {k: torch.tensor(v) for k, v in (("key", sk.body_ids(sk.KEY_BODIES)),
                                             ("contact", sk.body_ids(sk.CONTACT_BODIES)),
                                             ("nh", list(range(0, 18)) + list(range(33, 37))))}
    n = sim.root_pos.shape[0]
    hm = rot.quat_to_matrix(rot.quat_conj(rot.heading_quat(sim.root_quat)))
    body_r = rot.quat_to_matrix(sim.body_quat)
    local_pos = _l_loc(hm, sim.body_pos - sim.root_pos[:, None])
    ig_enc = _l_ig(_l_loc(hm, sim_ig))
    nh, key = ids["nh"], ids["key"]
    return {
        "ids": ids, "hm": hm, "root_height": sim.root_pos[:, 2:3],
        "body_pos_local": local_pos[:, 1:].reshape(n, -1),
        "body_rot_local": _l_tan(hm[:, None] @ body_r).reshape(n, -1),
        "body_lin_vel_local": _l_loc(hm, sim.body_lin_vel).reshape(n, -1),
        "body_ang_vel_local": _l_loc(hm, sim.body_ang_vel).reshape(n, -1),
        "contact": contact[:, ids["contact"]].to(torch.float32),
        "key_body_pos_local": local_pos[:, key].reshape(n, -1),
        "obj_vel_local": torch.cat([_l_loc(hm, sim.obj_lin_vel), _l_loc(hm, sim.obj_ang_vel)], -1),
        "ig": ig_enc.reshape(n, -1), "_hm_t": hm.transpose(-1, -2), "_body_r_nh": body_r[:, nh],
        "_obj_r": rot.quat_to_matrix(sim.obj_quat), "_key_pos": sim.body_pos[:, key],
        "_key_lin_vel": sim.body_lin_vel[:, key], "_ang_vel_nh": sim.body_ang_vel[:, nh], "_ig_key": ig_enc[:, key],
    }


def _legacy_ref_rows(sim, ref, part: dict) -> dict[str, torch.Tensor]:
    n = sim.root_pos.shape[0]
    hm, hm_t = part["hm"], part["_hm_t"]
    nh, key, cb = part["ids"]["nh"], part["ids"]["key"], part["ids"]["contact"]
    ref_r = rot.quat_to_matrix(ref.body_quat[:, nh])
    rot_err = hm[:, None] @ ref_r.transpose(-1, -2) @ part["_body_r_nh"] @ hm_t[:, None]
    lab = ref.contact_label[:, cb]
    obj_err = hm @ rot.quat_to_matrix(ref.obj_quat).transpose(-1, -2) @ part["_obj_r"] @ hm_t
    ref_hm = rot.quat_to_matrix(rot.quat_conj(rot.heading_quat(ref.root_quat)))
    ref_ig = _l_ig(_l_loc(ref_hm, ref.ig_vec[:, key]))
    return {
        "key_body_pos_error": _l_loc(hm, ref.body_pos[:, key] - part["_key_pos"]).reshape(n, -1),
        "rot_error": _l_tan(rot_err).reshape(n, -1),
        "contact_label_error": lab * ((lab + 1.0) * 0.5 - part["contact"]),
        "ref_rot_local": _l_tan(hm[:, None] @ ref_r).reshape(n, -1),
        "key_body_lin_vel_error": _l_loc(hm, ref.body_lin_vel[:, key] - part["_key_lin_vel"]).reshape(n, -1),
        "ang_vel_error": _l_loc(hm, ref.body_ang_vel[:, nh] - part["_ang_vel_nh"]).reshape(n, -1),
        "obj_error": torch.cat([_l_loc(hm, ref.obj_pos - sim.obj_pos), _l_tan(obj_err),
                                _l_loc(hm, ref.obj_lin_vel - sim.obj_lin_vel),
                                _l_loc(hm, ref.obj_ang_vel - sim.obj_ang_vel)], -1),
        "ig_error": (ref_ig - part["_ig_key"]).reshape(n, -1),
    }


def legacy_observation(sim, contact: torch.Tensor, obj_points: torch.Tensor, refs: list) -> torch.Tensor:
    """The teacher observation [N, 1599·len(refs)] as ``HOIEnv.observe`` built it before the terms."""
    sim_ig = nearest_surface_vec(sim.body_pos, sim.obj_pos, rot.quat_to_matrix(sim.obj_quat), obj_points)
    part = _legacy_sim_part(sim, contact, sim_ig)
    blocks = []
    for r in refs:
        rows = {**part, **_legacy_ref_rows(sim, r, part)}
        blocks.append(torch.cat([rows[name] for name in _LEGACY_ORDER], dim=-1))
    return torch.nan_to_num(torch.cat(blocks, -1), nan=0.0, posinf=0.0, neginf=0.0)


def legacy_env_observation(env: HOIEnv) -> torch.Tensor:
    s = env.state
    return legacy_observation(s, env._contact(s), env.lib.obj_points[env.motion_ids],
                              env.references(env.cfg.obs_horizons))


# ------------------------------------------------------------- the default set against the frozen builder

@pytest.fixture(scope="module")
def lib() -> MotionLibrary:
    return MotionLibrary([toy_motion(40, seed=0, name="a"), toy_motion(25, seed=1, name="b")])


def _fake_env(lib: MotionLibrary, **kw) -> HOIEnv:
    cfg = EnvCfg(num_envs=N, backend="fake", reward="tr_lr_cr", terminations={"hand_contact": None}, **kw)
    return HOIEnv(cfg, lib, FakeBackend(N))


@pytest.mark.parametrize("kw", [{"state_init": "random", "rollout_length": 6},
                                {"state_init": "start", "obs_horizons": (0, 1, 4, 16), "contact_source": "obj"}])
def test_default_set_equals_the_frozen_teacher_builder_on_env_states(lib: MotionLibrary, kw: dict) -> None:
    env = _fake_env(lib, seed=3, **kw)
    obs = env.reset()
    assert torch.equal(obs, legacy_env_observation(env))
    g = torch.Generator().manual_seed(0)
    resets = 0
    for _ in range(10):  # random actions: rotations, velocities and resets of every kind
        obs, _, te, tr, _ = env.step(torch.rand(N, env.num_actions, generator=g) * 2 - 1)
        resets += int((te | tr).sum())
        assert torch.equal(obs, legacy_env_observation(env))
    assert obs.shape == (N, 1599 * len(env.cfg.obs_horizons)) and float(obs.abs().amax()) > 0
    if kw["state_init"] == "random":
        assert resets > 0


@pytest.mark.parametrize("horizons", [(1, 16), (0, 4)])
def test_the_kept_reference_is_the_library_query_after_steps_and_resets(lib: MotionLibrary,
                                                                         horizons: tuple[int, ...]) -> None:
    """The step reuses the observation's reference rows of the horizon 1 step ahead (PD targets, reward,
    terminations): bit for bit what a fresh library query gives, through resets; never kept without horizon 1."""
    env = _fake_env(lib, seed=5, state_init="random", rollout_length=5, obs_horizons=horizons)
    env.reset()
    g = torch.Generator().manual_seed(1)
    used = 0
    for _ in range(12):
        t1 = env.ref_time(1)
        kept = env.refs.kept(env.motion_ids, t1)
        assert (kept is not None) == (1 in horizons)
        if kept is not None:
            used += 1
            fresh = lib.state(env.motion_ids, t1)
            for f in fields(MotionState):
                assert torch.equal(getattr(kept, f.name), getattr(fresh, f.name)), f.name
            assert torch.equal(kept.dof_pos, lib.dof_pos(env.motion_ids, t1))
        env.step(torch.rand(N, env.num_actions, generator=g) * 2 - 1)
    env.progress += 1  # the clock moved without a new observation: the kept rows no longer apply
    assert env.refs.kept(env.motion_ids, env.ref_time(1)) is None
    assert used == (12 if 1 in horizons else 0)


def _random_state(n: int, h: int, seed: int) -> tuple[object, list[MotionState], torch.Tensor]:
    """A simulated state far from the reference (random rotations, velocities, contacts, labels) and h refs."""
    g = torch.Generator().manual_seed(seed)

    def q(*shape: int) -> torch.Tensor:
        return torch.nn.functional.normalize(torch.randn(*shape, 4, generator=g), dim=-1)

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g)

    class Sim:
        root_pos, root_quat = r(n, 3), q(n)
        body_pos, body_quat, body_lin_vel, body_ang_vel = r(n, 52, 3), q(n, 52), r(n, 52, 3), r(n, 52, 3)
        obj_pos, obj_quat, obj_lin_vel, obj_ang_vel = r(n, 3), q(n), r(n, 3), r(n, 3)

    refs = [MotionState(root_pos=r(n, 3), root_quat=q(n), root_lin_vel=r(n, 3), root_ang_vel=r(n, 3),
                        dof_pos=r(n, 153), dof_vel=r(n, 153), body_pos=r(n, 52, 3), body_quat=q(n, 52),
                        body_lin_vel=r(n, 52, 3), body_ang_vel=r(n, 52, 3), obj_pos=r(n, 3), obj_quat=q(n),
                        obj_lin_vel=r(n, 3), obj_ang_vel=r(n, 3),
                        contact_label=torch.randint(-1, 2, (n, 52), generator=g).float(), ig_vec=r(n, 52, 3),
                        ig_body=torch.zeros(n, 1, dtype=torch.long), ig_body_offset=r(n, 1, 3),
                        ig_obj_point=r(n, 1, 3), ig_active=torch.ones(n, 1, dtype=torch.bool)) for _ in range(h)]
    Sim.body_pos[1, 3] = float("nan")  # a bad env: its non-finite numbers become 0 in both
    return Sim, refs, torch.rand(n, 52, generator=g) > 0.5


def test_default_set_equals_the_frozen_teacher_builder_on_random_states() -> None:
    builder = ObservationBuilder(load_observation_set("intermimic"), (1, 16), torch.device("cpu"))
    for seed in range(3):
        sim, refs, contact = _random_state(9, 2, seed)
        points = torch.randn(9, 64, 3, generator=torch.Generator().manual_seed(seed)) * 0.3
        new = builder(builder.frame(sim, contact, points), refs)
        assert torch.equal(new, legacy_observation(sim, contact, points, refs)), seed
        for name in ("rot_error", "contact_label_error", "ig_error"):  # the rows are live, not zero
            assert float(builder.layout.rows(new, 1)[name].abs().amax()) > 0.1, name
        stacked = MotionState(**{f.name: torch.cat([getattr(r, f.name) for r in refs]) for f in fields(MotionState)})
        assert torch.equal(builder(builder.frame(sim, contact, points), stacked), new)  # HOIEnv's stacked form
    with pytest.raises(ValueError, match="needs 18 rows, got 9"):
        builder(builder.frame(sim, contact, points), refs[0])


def test_default_set_equals_the_frozen_builder_on_the_mujoco_env(omomo_clips, objects_dir) -> None:
    """A real clip on the MuJoCo backend (contacts, PD dynamics, resets); skips without ../shared."""
    from hoi_sim.motions.intermimic import from_intermimic

    clip = next(p for p in omomo_clips if p.stem == "sub2_largetable_000")
    cfg = EnvCfg(num_envs=8, backend="mujoco", reward="tr_lr_cr", state_init="random", seed=1,
                 backend_kwargs={"object_collision": "convex_hull", "log_mapping": False, "nthread": 1})
    env = HOIEnv(cfg, MotionLibrary([from_intermimic(clip, objects_dir)]))
    try:
        assert torch.equal(env.reset(), legacy_env_observation(env))
        g = torch.Generator().manual_seed(0)
        contacts = 0
        for _ in range(5):
            obs, *_ = env.step(torch.randn(8, env.num_actions, generator=g) * 0.2)
            contacts += int(env._contact(env.state).sum())
            assert torch.equal(obs, legacy_env_observation(env))
        assert contacts > 0
    finally:
        env.close()


# ------------------------------------------------------------- the layout and the sets

def test_layout_is_built_from_the_terms_and_matches_the_doc() -> None:
    s = load_observation_set("intermimic")
    builder = ObservationBuilder(s, (1, 16), torch.device("cpu"))
    lay = builder.layout
    assert [t.name for t in s.terms] == list(_LEGACY_ORDER) and set(ot.OBS_TERMS) == set(_LEGACY_ORDER)
    assert lay.block_size == 1599 and lay.size == 3198
    assert lay.block["root_height"] == slice(0, 1) and lay.slice("ig_error", 1) == slice(3198 - 63, 3198)
    at = 0
    for t in s.terms:  # contiguous, in order
        assert lay.block[t.name] == slice(at, at + t.width)
        at += t.width
    table = re.findall(r"^\| (\d+) \| `(\w+)` \| (\d+) \| (\w+) \|", DOC.read_text(), flags=re.M)
    assert [(name, int(w), dep == "reference") for _, name, w, dep in table] == [
        (t.name, t.width, t.uses_ref) for t in s.terms]
    with pytest.raises(KeyError, match="nope"):
        lay.slice("nope")


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "obs.yaml"
    p.write_text(text)
    return p


def test_bad_sets_fail_naming_the_term(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown observation term 'root_heigth'"):
        load_observation_set(_write(tmp_path, "name: x\nterms: [root_height, root_heigth]\n"))
    with pytest.raises(InputError, match=r"\['contact'\] listed more than once"):
        load_observation_set(_write(tmp_path, "terms: [contact, ig, contact]\n"))
    with pytest.raises(InputError, match="non-empty list"):
        load_observation_set(_write(tmp_path, "terms: []\n"))
    with pytest.raises(InputError, match="'name' and 'terms' only"):
        load_observation_set(_write(tmp_path, "terms: [ig]\nscale: 2\n"))
    with pytest.raises(InputError, match=r"observation set 'teacher' not found \(known: \['intermimic'"):
        load_observation_set("teacher")
    with pytest.raises(InputError, match="unknown observation term 'foo'"):
        EnvCfg(backend="fake", observation=str(_write(tmp_path, "terms: [foo]\n")))


def test_a_wrong_term_width_is_caught_naming_the_term(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = ot.ObsTerm("root_height", 2, False, ot.root_height)  # declares 2, returns 1
    monkeypatch.setitem(ot.OBS_TERMS, "root_height", bad)
    builder = ObservationBuilder(load_observation_set("intermimic"), (1,), torch.device("cpu"))
    sim, refs, contact = _random_state(3, 1, 0)
    with pytest.raises(RuntimeError, match="'root_height' returned shape \\(3, 1\\), declared width 2"):
        builder(builder.frame(sim, contact, torch.randn(3, 16, 3)), refs)


def test_a_custom_set_reorders_and_skips_terms(lib: MotionLibrary, tmp_path: Path) -> None:
    """A sim-only set needs no reference and no nearest-surface search; its columns equal the default set's."""
    full = _fake_env(lib, state_init="start")
    names = ["contact", "root_height", "body_lin_vel_local"]
    small = _fake_env(lib, state_init="start", observation=str(_write(tmp_path, f"name: s\nterms: {names}\n")))
    a, b = full.reset(), small.reset()
    assert small.num_obs == 2 * (31 + 1 + 156) and not small.obs_builder.uses_ref
    for blk in range(2):
        for name in names:
            assert torch.equal(b[:, small.obs_layout.slice(name, blk)], a[:, full.obs_layout.slice(name, blk)])
    frame = small.obs_builder.frame(small.state, small._contact(small.state), small.lib.obj_points[small.motion_ids])
    small.obs_builder(frame, None)
    assert "ig_enc" not in vars(frame)  # the interaction graph was never searched
