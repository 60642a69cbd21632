"""Action modes (absolute / residual, fingers on the policy or the reference), the termination set of each reward
setting, and PSI, on the kinematic fake backend."""

from __future__ import annotations

import pytest
import torch

from hoi_sim import skeleton as sk
from hoi_sim.envs import EnvCfg, HOIEnv
from hoi_sim.envs.actions import FINGER_DOFS, ActionCfg, ActionMap, action_offset_scale
from hoi_sim.envs.psi import PhysicalStateBuffer, PsiCfg, flatten_state, unflatten_state
from hoi_sim.envs.terminations import load_termination_set, termination_set_for_reward
from hoi_sim.envs.toy import toy_motion
from hoi_sim.errors import InputError
from hoi_sim.motions.library import MotionLibrary
from hoi_sim.sim.base import ResetState
from hoi_sim.sim.fake import FakeBackend

pytestmark = pytest.mark.usefixtures("one_torch_thread")
N = 4


@pytest.fixture(scope="module")
def lib() -> MotionLibrary:
    return MotionLibrary([toy_motion(60, seed=0, name="a"), toy_motion(45, seed=1, name="b")])


def make_env(lib: MotionLibrary, **kw) -> HOIEnv:
    cfg = EnvCfg(num_envs=N, backend="fake", **kw)
    return HOIEnv(cfg, lib, FakeBackend(N))


def test_absolute_mode_is_intermimics_rule() -> None:
    lim = FakeBackend(1).dof_limits
    amap = ActionMap(ActionCfg(mode="absolute"), lim)
    off, scale = action_offset_scale(lim, 5.0)
    a = torch.rand(3, 153, generator=torch.Generator().manual_seed(0)) * 2.4 - 1.2
    assert amap.num_actions == 153 and not amap.needs_reference
    assert torch.allclose(amap.targets(a), off + scale * a.clamp(-1, 1))


def test_residual_mode_adds_scaled_action_to_next_reference() -> None:
    lim = FakeBackend(1).dof_limits
    amap = ActionMap(ActionCfg(mode="residual", residual_scale=0.25), lim)
    g = torch.Generator().manual_seed(1)
    ref = torch.rand(2, 153, generator=g)
    a = torch.rand(2, 153, generator=g) * 3 - 1.5
    assert torch.allclose(amap.targets(a, ref), ref + 0.25 * a.clamp(-1, 1))
    assert torch.allclose(amap.targets(torch.zeros(2, 153), ref), ref)
    with pytest.raises(ValueError):
        amap.targets(a)


@pytest.mark.parametrize("mode", ["absolute", "residual"])
def test_fingers_on_reference_leave_the_action_space(mode: str) -> None:
    lim = FakeBackend(1).dof_limits
    amap = ActionMap(ActionCfg(mode=mode, fingers="reference", residual_scale=0.5), lim)
    assert amap.num_actions == 63 and amap.needs_reference
    body_dofs = [i for i in range(153) if i not in FINGER_DOFS]
    assert amap.controlled.tolist() == body_dofs
    names = {sk.DOF_NAMES[i][:-2] for i in FINGER_DOFS}
    assert names == {b for b in sk.BODY_NAMES if any(f in b for f in ("Index", "Middle", "Ring", "Pinky", "Thumb"))}
    ref = torch.rand(2, 153, generator=torch.Generator().manual_seed(2))
    a = torch.full((2, 63), 0.5)
    t = amap.targets(a, ref)
    assert torch.equal(t[:, list(FINGER_DOFS)], ref[:, list(FINGER_DOFS)])  # fingers follow the reference
    full = ActionMap(ActionCfg(mode=mode, residual_scale=0.5), lim).targets(torch.full((2, 153), 0.5), ref)
    assert torch.allclose(t[:, body_dofs], full[:, body_dofs])
    with pytest.raises(InputError):
        amap.targets(torch.zeros(2, 153), ref)


def test_env_residual_zero_action_tracks_reference(lib: MotionLibrary) -> None:
    env = make_env(lib, state_init="start", action={"mode": "residual", "fingers": "reference"})
    env.reset()
    assert env.num_actions == 63
    for _ in range(5):
        nxt = env.reference(1).dof_pos
        env.step(torch.zeros(N, 63))
        assert torch.allclose(env.state.dof_pos, nxt, atol=1e-5)  # the fake backend reaches its targets


def test_action_config_errors() -> None:
    with pytest.raises(InputError):
        ActionCfg(mode="delta")
    with pytest.raises(InputError):
        ActionCfg(fingers="none")
    with pytest.raises(InputError):
        EnvCfg.from_dict({"action": {"scale": 1.0}})


def test_each_setting_has_its_documented_termination_set() -> None:
    sets = {r: set(load_termination_set(termination_set_for_reward(r)).terms) for r in
            ("tr", "tr_lr", "tr_lr_cr", "intermimic")}
    base = {"fall", "body_error", "object_error"}
    assert sets["tr"] == base  # TR: no contact-based terminations
    assert sets["tr_lr"] == base | {"hand_contact"}
    assert sets["tr_lr_cr"] == base | {"hand_contact", "interaction_graph"}
    assert sets["intermimic"] == base | {"hand_contact", "interaction_graph"}
    assert termination_set_for_reward("my_custom") == "tr"
    for r in ("tr", "tr_lr_cr"):
        env_terms = EnvCfg(backend="fake", reward=r).termination_terms()
        assert set(env_terms.terms) == sets[r]


def test_termination_overrides_and_errors() -> None:
    ts = load_termination_set("tr", {"body_error": {"threshold": 0.2, "reduce": "max"}, "object_error": None,
                                     "hand_contact": {"max_steps": 3}})
    assert ts.get("body_error").threshold == 0.2 and ts.get("body_error").reduce == "max"
    assert ts.get("object_error") is None and ts.get("hand_contact").max_steps == 3
    for bad in ({"nope": {}}, {"fall": {"heigth": 1.0}}, {"fall": True}, {"body_error": {"reduce": "sum"}}):
        with pytest.raises(InputError):
            load_termination_set("tr", bad)
    with pytest.raises(InputError):
        load_termination_set("no_such_set")


def test_tr_env_never_reports_contact_terminations(lib: MotionLibrary) -> None:
    env = make_env(lib, state_init="start", reward="tr")
    env.reset()
    _, _, _, _, info = env.step(torch.zeros(N, 153))
    assert set(info["terminations"]) == {"fall", "body_error", "object_error"}


def test_psi_state_roundtrip_and_scoring() -> None:
    s = ResetState.zeros(3)
    s.dof_pos = torch.arange(3 * 153, dtype=torch.float32).view(3, 153)
    back = unflatten_state(flatten_state(s))
    assert torch.equal(back.dof_pos, s.dof_pos) and flatten_state(s).shape == (3, 332)
    buf = PhysicalStateBuffer(PsiCfg(slots=3, margin=2, min_episode_steps=5), total_frames=50, num_envs=1,
                              max_steps=40, device="cpu")
    for k in range(1, 21):  # env 0 survives 20 steps from row 10; step k lands on row 10 + k
        st = ResetState.zeros(1)
        st.root_pos[:, 0] = float(k)
        buf.record(torch.tensor([k]), st, torch.tensor([10 + k]))
    buf.episode_end(torch.tensor([0]), torch.tensor([20]), torch.tensor([30]))
    # score (E − k)/(H − k) = (20 − k)/(30 − k) > 0.5 ⇔ k < 10; steps 2..9 qualify (margin 2)
    stored = (buf.weights > 0).any(-1).nonzero().flatten().tolist()
    assert stored == [10 + k for k in range(2, 10)]
    assert buf.weights[12, 0] == pytest.approx(18 / 28)
    got = buf.stored(torch.tensor([15]), torch.tensor([1]))
    assert float(got.root_pos[0, 0]) == 5.0
    g = torch.Generator().manual_seed(0)
    slots = buf.draw(torch.full((2000,), 15), g)
    frac = float((slots > 0).float().mean())  # weights 1 (reference) and 0.625 → 0.385 simulated
    assert frac == pytest.approx(0.625 / 1.625, abs=0.04)
    assert int(buf.draw(torch.full((50,), 40), g).max()) == 0  # nothing stored there: always the reference


def test_env_with_psi_resets_from_stored_states(lib: MotionLibrary) -> None:
    env = make_env(lib, state_init="random", rollout_length=40, action={"mode": "residual"},
                   psi={"slots": 3, "margin": 2, "min_episode_steps": 5}, termination_set="tr",
                   terminations={"body_error": None, "object_error": None, "fall": None})
    env.reset()
    for _ in range(120):
        env.step(torch.zeros(N, 153))
    assert env.psi.writes > 0 and env.psi.draws > 0
