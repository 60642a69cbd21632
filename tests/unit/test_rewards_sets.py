"""Reward sets: composition rules, named sets, and the identities at sim == reference."""

from __future__ import annotations

import inspect
import math
from types import SimpleNamespace

import pytest
import torch

from hoi_sim import rotations as rot
from hoi_sim import skeleton as sk
from hoi_sim.envs.toy import toy_motion
from hoi_sim.errors import InputError
from hoi_sim.motions.library import MotionLibrary
from hoi_sim.rewards import (
    NAMED_SETS,
    TERMS,
    RewardContext,
    RewardSet,
    load_reward_set,
    reward_set_from_dict,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")



@pytest.fixture(scope="module")
def lib() -> MotionLibrary:
    return MotionLibrary([toy_motion(30, seed=3)])


def make_ctx(lib: MotionLibrary, frames=(5, 12), full_hand_contact: bool = False) -> RewardContext:
    """A context whose simulated state equals the reference (contacts = annotated labels)."""
    ids = torch.zeros(len(frames), dtype=torch.long)
    ref = lib.frame_state(ids, torch.tensor(frames))
    touch = ref.contact_label > 0
    if full_hand_contact:
        for hand in (sk.LEFT_HAND, sk.RIGHT_HAND):
            hid = torch.tensor(sk.body_ids(hand))
            touch[:, hid] |= touch[:, hid].any(-1, keepdim=True)
    sim = SimpleNamespace(**{k: v.clone() for k, v in vars(ref).items()}, contact_obj=touch.clone(),
                          contact_any=touch.clone(), force_any=torch.zeros(len(frames), 52, 3))
    return RewardContext(sim=sim, ref=ref, obj_points=lib.obj_points[ids], prev_dof_vel=ref.dof_vel.clone(),
                         prev_obj_lin_vel=ref.obj_lin_vel.clone(), prev_obj_ang_vel=ref.obj_ang_vel.clone(),
                         steps_since_reset=torch.full((len(frames),), 5), control_dt=1 / 30)


@pytest.mark.parametrize("name", ["tr", "tr_lr", "tr_lr_cr"])
def test_paper_sets_at_reference(lib: MotionLibrary, name: str) -> None:
    r, info = RewardSet(load_reward_set(name))(make_ctx(lib))
    assert torch.allclose(r, torch.ones(2), atol=1e-5)  # TR = 1, LR = CR = 0
    assert torch.allclose(info["group/tr"], torch.ones(2), atol=1e-5)
    if name != "tr":
        assert torch.all(info["raw/keypoint_label"] == 0)
    if name == "tr_lr_cr":
        # the toy's graph point is the L_Wrist joint centre, 1.2 mm beside and 0.8 mm above its collision box
        assert torch.all(info["raw/keypoint_contact"] < 0.002 ** 2)


def test_shipped_contact_default_is_the_body_surface() -> None:
    assert load_reward_set("tr_lr_cr").terms["keypoint_contact"].params["form"] == "surface"
    assert inspect.signature(TERMS["keypoint_contact"]).parameters["form"].default == "surface"


def test_intermimic_set_at_reference(lib: MotionLibrary) -> None:
    r, info = RewardSet(load_reward_set("intermimic"))(make_ctx(lib, full_hand_contact=True))
    assert torch.allclose(r, torch.ones(2), atol=1e-4)
    # only the wrists touch: each hand's factor is 0.5·(1 + exp(−5·15/16))
    r2, info2 = RewardSet(load_reward_set("intermimic"))(make_ctx(lib))
    hand = 0.5 * (1 + math.exp(-5 * 15 / 16))
    assert torch.allclose(info2["raw/cg_hand"], torch.full((2,), hand * hand), atol=1e-6)
    assert torch.allclose(r2, info2["raw/cg_hand"], atol=1e-4)


def test_tracking_group_is_exp_of_weighted_sum(lib: MotionLibrary) -> None:
    ctx = make_ctx(lib)
    ctx.sim.body_pos = ctx.sim.body_pos + torch.tensor([0.1, 0.0, 0.0])  # every body 10 cm off
    ctx.sim.obj_pos = ctx.sim.obj_pos + torch.tensor([0.0, 0.2, 0.0])
    cfg = load_reward_set("tr")
    r, info = RewardSet(cfg)(ctx)
    assert torch.allclose(info["raw/body_pos"], torch.full((2,), 0.01), atol=1e-6)
    assert torch.allclose(info["raw/obj_pos"], torch.full((2,), 0.04), atol=1e-6)
    w = {n: t.weight for n, t in cfg.active_terms().items()}
    expected = math.exp(-(w["body_pos"] * 0.01 + w["obj_pos"] * 0.04))
    assert torch.allclose(r, torch.full((2,), expected), atol=1e-5)
    assert torch.allclose(info["weighted/body_pos"], torch.full((2,), math.exp(-w["body_pos"] * 0.01)), atol=1e-6)


def test_lr_and_cr_penalties_enter_the_exponent(lib: MotionLibrary) -> None:
    ctx = make_ctx(lib)
    ctx.sim.contact_obj[:, sk.BODY_INDEX["L_Wrist"]] = False  # one missed annotated contact
    ctx.sim.obj_pos = ctx.sim.obj_pos + torch.tensor([0.0, 0.0, 0.3])  # graph gap 0.3 m
    cfg = load_reward_set("tr_lr_cr")
    r, info = RewardSet(cfg)(ctx)
    assert torch.all(info["raw/keypoint_label"] == 1)
    cr = info["raw/keypoint_contact"]  # the surface of the wrist box is a few cm nearer than the joint centre
    assert torch.all((cr > 0.2 ** 2) & (cr < 0.3 ** 2))
    w_lr, w_cr = cfg.terms["keypoint_label"].weight, cfg.terms["keypoint_contact"].weight
    tr_only = RewardSet(load_reward_set("tr"))(ctx)[0]
    assert torch.allclose(r, tr_only * torch.exp(-(w_lr * 1 + w_cr * cr)), atol=1e-6)
    assert torch.all(r > 0)  # penalties never make the reward negative (falling is never worth more)
    # the paper's additive form is still available: linear terms with negative weights
    lin = {"name": "lin", "terms": {"tr": {"kernel": "body_pos", "weight": 30.0, "form": "exp", "group": "tr"},
                                    "lr": {"kernel": "keypoint_label", "weight": -0.02, "form": "linear",
                                           "params": {"contact": "obj"}}}}
    r_lin, info_lin = RewardSet(reward_set_from_dict(lin))(ctx)
    assert torch.allclose(r_lin, info_lin["group/tr"] - 0.02, atol=1e-6)


def _cr(ctx: RewardContext, **params) -> torch.Tensor:
    d = {"name": "x", "terms": {"cr": {"kernel": "keypoint_contact", "weight": 1.0, "params": params}}}
    return RewardSet(reward_set_from_dict(d))(ctx)[0]


def test_keypoint_contact_forms(lib: MotionLibrary) -> None:
    ctx = make_ctx(lib)
    ctx.ref.ig_body_offset = torch.full_like(ctx.ref.ig_body_offset, 0.05)
    ctx.sim.ig_body_offset = ctx.ref.ig_body_offset
    joint, keypoint = _cr(ctx, form="joint"), _cr(ctx, form="keypoint")
    rel = _cr(ctx, form="keypoint", target="reference")
    assert torch.allclose(joint, torch.zeros(2), atol=1e-9)  # the toy's object point is the wrist joint
    assert torch.allclose(keypoint, torch.full((2,), 3 * 0.05 ** 2), atol=1e-6)  # 5 cm·√3 off the object point
    assert torch.allclose(rel, torch.zeros(2), atol=1e-9)  # the reference's own gap is not penalised
    assert torch.allclose(_cr(ctx, form="surface", target="reference"), torch.zeros(2), atol=1e-9)
    with pytest.raises(ValueError):
        _cr(ctx, form="surface", target="bogus")


def test_surface_contact_measures_to_the_collision_geom(lib: MotionLibrary) -> None:
    """Moving the object 10 cm along the wrist's −z (through the box's large face) costs the squared distance to
    that face in the surface form and (10 cm)² in the joint form; geom tables given by an env give the same value
    as tables derived from the pose."""
    from hoi_sim.humanoid import geoms as hg

    ctx = make_ctx(lib)
    lw = sk.BODY_INDEX["L_Wrist"]
    down = rot.quat_rotate(ctx.sim.body_quat[:, lw], torch.tensor([0.0, 0.0, -0.1]).expand(2, 3))
    ctx.sim.obj_pos = ctx.sim.obj_pos + down
    row = hg.geom_table(lib.skeleton_offsets[0])[lw]
    face = -(row[2] - row[8]).item()  # the box's −z face lies 0.0008 + 2·0.0076 m below the joint
    side = (row[1] - row[7]).item()  # and its −y face 1.2 mm beside it: the nearest point is on that edge
    assert face == pytest.approx(0.016, abs=1e-4) and side == pytest.approx(0.0012, abs=1e-4)
    assert torch.allclose(_cr(ctx, form="joint"), torch.full((2,), 0.01), atol=1e-6)
    want = torch.full((2,), (0.1 - face) ** 2 + side ** 2)
    assert torch.allclose(_cr(ctx), want, atol=1e-6)  # the default form is surface
    ctx_t = make_ctx(lib)
    ctx_t.sim.obj_pos, ctx_t.sim_geoms = ctx.sim.obj_pos, hg.geom_table(lib.skeleton_offsets[0])
    assert torch.allclose(_cr(ctx_t), want, atol=1e-6)


def test_none_disables_and_product_rule(lib: MotionLibrary) -> None:
    ctx = make_ctx(lib)
    ctx.sim.body_pos = ctx.sim.body_pos + torch.tensor([0.1, 0.0, 0.0])
    d = {"name": "p", "combine": "product", "terms": {
        "a": {"kernel": "body_pos", "weight": 10.0, "form": "exp"},
        "b": {"kernel": "body_pos", "weight": 2.0, "form": "linear"},
        "c": None,
        "d": {"kernel": "obj_pos", "enabled": False}}}
    cfg = reward_set_from_dict(d)
    assert list(cfg.active_terms()) == ["a", "b"]
    r, info = RewardSet(cfg)(ctx)
    assert torch.allclose(r, torch.full((2,), math.exp(-0.1) * 0.02), atol=1e-6)
    assert "raw/c" not in info and "raw/d" not in info
    d["combine"] = "sum"
    r_sum = RewardSet(reward_set_from_dict(d))(ctx)[0]
    assert torch.allclose(r_sum, torch.full((2,), math.exp(-0.1) + 0.02), atol=1e-6)


def test_config_errors() -> None:
    with pytest.raises(InputError):
        reward_set_from_dict({"terms": {"x": {"kernel": "no_such_kernel"}}})
    with pytest.raises(InputError):
        reward_set_from_dict({"combine": "max", "terms": {}})
    with pytest.raises(InputError):
        reward_set_from_dict({"terms": {"x": {"kernel": "body_pos", "wieght": 1.0}}})
    with pytest.raises(InputError):
        load_reward_set("no_such_set")
    with pytest.raises(InputError):
        RewardSet(reward_set_from_dict({"terms": {"x": None}}))


def test_named_sets_load() -> None:
    for name in NAMED_SETS:
        assert load_reward_set(name).name == name
    im = load_reward_set("intermimic")
    assert im.combine == "product"
    assert im.terms["pv"] is None and im.terms["p"].weight == 30.0 and im.terms["r"].weight == 1.5


def test_proximity_from_library_ig_vectors_matches_brute_force(lib: MotionLibrary) -> None:
    from hoi_sim.rewards import intermimic as im

    ctx = make_ctx(lib)
    brute = im.proximity_weight(ctx.ref.body_pos, ctx.obj_points_world("ref"))
    assert torch.allclose(ctx.ref_proximity(5.0), brute, atol=1e-4)  # cdist (matmul form) is ~1e-5 m off
