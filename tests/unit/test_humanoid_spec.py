"""The MjSpec humanoid (``hoi_sim.sim.humanoid_spec``): structure, gains, mass, standing, subject skeletons,
SMPL-X betas (synthetic file)."""

import re

import mujoco
import numpy as np
import pytest

from hoi_sim import keypoints as kp
from hoi_sim import skeleton as sk
from hoi_sim.errors import InputError
from hoi_sim.humanoid import smplx_shape as shape
from hoi_sim.sim import humanoid_spec
from hoi_sim.testing.smplx_fixture import write_smplx_fixture

INTERMIMIC_MASS_KG = 74.1  # research notes §2: volume × density of omomo.xml's geoms

GAINS = [  # (body-name pattern, kp, kd): InterMimic's Isaac Gym PD table
    (r"[LR]_(Hip|Knee|Ankle)", 800, 80), (r"[LR]_Toe", 500, 50), (r"Torso|Spine|Chest", 1000, 100),
    (r"Neck|Head|[LR]_(Thorax|Shoulder|Elbow)", 500, 50), (r"[LR]_Wrist", 300, 30),
    (r"[LR]_(Index|Middle|Pinky|Ring|Thumb)\d", 100, 10),
]


@pytest.fixture(scope="module")
def neutral_model() -> mujoco.MjModel:
    return humanoid_spec.humanoid_model()


def _subject_offsets(seed: int = 7, amp: float = 0.06) -> np.ndarray:
    offs = sk.neutral_offsets()
    offs[1:] += np.random.default_rng(seed).uniform(-amp, amp, (sk.NUM_BODIES - 1, 3))
    return offs


def _rest_positions(offsets: np.ndarray) -> np.ndarray:
    pos = np.zeros((sk.NUM_BODIES, 3))
    for b in range(1, sk.NUM_BODIES):
        pos[b] = pos[sk.PARENTS[b]] + offsets[b]
    return pos


def _names(model, obj, n) -> list[str]:
    return [mujoco.mj_id2name(model, obj, i) for i in range(n)]


def test_neutral_structure(neutral_model):
    m = neutral_model
    assert (m.nbody, m.nq, m.nv, m.nu) == (53, 160, 159, 153)
    assert tuple(_names(m, mujoco.mjtObj.mjOBJ_BODY, m.nbody)[1:]) == sk.BODY_NAMES
    joints = _names(m, mujoco.mjtObj.mjOBJ_JOINT, m.njnt)
    assert joints[0] == humanoid_spec.ROOT_JOINT and m.jnt_type[0] == mujoco.mjtJoint.mjJNT_FREE
    assert tuple(joints[1:]) == sk.DOF_NAMES
    assert tuple(_names(m, mujoco.mjtObj.mjOBJ_ACTUATOR, m.nu)) == sk.DOF_NAMES
    np.testing.assert_array_equal(m.actuator_trnid[:, 0], np.arange(1, 154))  # actuator i drives hinge i
    np.testing.assert_array_equal(m.jnt_qposadr[1:], np.arange(7, 160))
    axes = np.tile(np.eye(3), (sk.NUM_BODIES - 1, 1))
    np.testing.assert_array_equal(m.jnt_axis[1:], axes)
    assert m.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    assert m.opt.timestep == pytest.approx(1 / 240)
    assert humanoid_spec.humanoid_model(ground=False, timestep=0.002).opt.timestep == pytest.approx(0.002)


def test_gains_ranges_and_no_springs(neutral_model):
    m = neutral_model
    for i, dof in enumerate(sk.DOF_NAMES):
        body = dof[:-2]
        kp_kd = [(kp_, kd) for pat, kp_, kd in GAINS if re.fullmatch(pat, body)]
        assert len(kp_kd) == 1, body
        kp_, kd = kp_kd[0]
        assert m.actuator_gainprm[i, 0] == kp_ and tuple(m.actuator_biasprm[i, :3]) == (0, -kp_, -kd), dof
    assert not m.actuator_ctrllimited.any() and not m.actuator_forcelimited.any()
    assert np.all(m.jnt_stiffness == 0) and np.all(m.dof_damping == 0)
    np.testing.assert_allclose(m.dof_armature[6:], 0.02)
    assert m.jnt_limited[1:].all()
    ref = [j.range for js in sk.neutral().joints for j in js]
    np.testing.assert_allclose(m.jnt_range[1:], ref)
    np.testing.assert_allclose(m.jnt_range[sk.DOF_NAMES.index("L_Index3_x") + 1], np.deg2rad([-90, 5.625]))


def test_geoms_and_mass(neutral_model):
    m = neutral_model
    hum = m.geom_bodyid > 0
    assert hum.sum() == 52
    assert np.all(m.geom_condim[hum] == 3) and np.allclose(m.geom_margin[hum], 0.001)
    total = m.body_subtreemass[1]
    assert total == pytest.approx(INTERMIMIC_MASS_KG, rel=0.01)


def test_mass_matches_intermimic_mjcf(neutral_model, reference_dir):
    ref = mujoco.MjModel.from_xml_path(str(reference_dir / "intermimic" / "omomo.xml"))
    ref_mass = ref.body_subtreemass[1]
    assert neutral_model.body_subtreemass[1] == pytest.approx(ref_mass, rel=0.02)
    np.testing.assert_allclose(neutral_model.body_mass, ref.body_mass, rtol=1e-6)


def test_collision_bits():
    assert humanoid_spec.HUMANOID_CONTYPE & humanoid_spec.HUMANOID_CONAFFINITY == 0  # no self-collision
    for ct, ca in ((humanoid_spec.GROUND_CONTYPE, humanoid_spec.GROUND_CONAFFINITY),
                   (humanoid_spec.OBJECT_CONTYPE, humanoid_spec.OBJECT_CONAFFINITY)):
        assert humanoid_spec.HUMANOID_CONTYPE & ca and ct & humanoid_spec.HUMANOID_CONAFFINITY

    def contacts(self_collision: bool, crossed: bool) -> set[tuple[str, str]]:
        spec = humanoid_spec.build_humanoid_spec(self_collision=self_collision)
        box = spec.worldbody.add_body(name="box", pos=[0.0, 0.0, 0.3])
        box.add_freejoint()
        box.add_geom(name="box", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.1, 0.1, 0.32],
                     contype=humanoid_spec.OBJECT_CONTYPE, conaffinity=humanoid_spec.OBJECT_CONAFFINITY)
        m = spec.compile()
        d = mujoco.MjData(m)
        d.qpos[2] = humanoid_spec.HUMANOID_ROOT_HEIGHT + 0.0005  # feet within the margin of the floor
        d.qpos[3] = 1.0
        if crossed:  # thighs and shins overlap (the feet leave the floor)
            d.qpos[7 + sk.DOF_NAMES.index("L_Hip_x")] = -0.6
            d.qpos[7 + sk.DOF_NAMES.index("R_Hip_x")] = 0.6
        d.qpos[160:163] = [0.1, 0.0, 0.3]  # the box pokes into the pelvis sphere and the floor
        mujoco.mj_forward(m, d)
        name = lambda g: mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_GEOM, g)  # noqa: E731
        return {tuple(sorted((name(c.geom1), name(c.geom2)))) for c in d.contact[:d.ncon]}

    body_names = set(sk.BODY_NAMES)
    off = contacts(False, crossed=False)
    assert not [p for p in off if set(p) <= body_names]
    assert ("box", "floor") in off and any(p[0] in body_names and p[1] == "box" for p in off)
    assert any("floor" in p and set(p) & set(sk.FEET) for p in off)
    assert not [p for p in contacts(False, crossed=True) if set(p) <= body_names]
    assert [p for p in contacts(True, crossed=True) if set(p) <= body_names]


def test_root_height_constant():
    assert humanoid_spec.standing_root_height() == pytest.approx(humanoid_spec.HUMANOID_ROOT_HEIGHT, abs=1e-6)


def test_stands_under_pd(neutral_model):
    m, d = neutral_model, mujoco.MjData(neutral_model)
    z0 = humanoid_spec.HUMANOID_ROOT_HEIGHT + 0.002
    d.qpos[2], d.qpos[3] = z0, 1.0
    zs = []
    for _ in range(int(round(5.0 / m.opt.timestep))):
        mujoco.mj_step(m, d)  # ctrl = 0: PD towards the zero pose
        zs.append(d.qpos[2])
    assert np.all(np.isfinite(d.qpos))
    assert np.max(np.abs(np.array(zs) - z0)) < 0.03
    assert d.qpos[6] ** 2 + d.qpos[5] ** 2 < 1e-3  # still upright (small tilt)


def test_subject_skeleton_bodies_and_geoms():
    offs = _subject_offsets()
    m = humanoid_spec.humanoid_model(offs, ground=False)
    d = mujoco.MjData(m)
    d.qpos[3] = 1.0
    mujoco.mj_kinematics(m, d)
    np.testing.assert_allclose(d.xpos[1:], _rest_positions(offs), atol=1e-12)

    # the thigh capsule still spans 0.2..0.8 of the (new) knee bone: its centre is half way
    hip, knee = sk.BODY_INDEX["L_Hip"], sk.BODY_INDEX["L_Knee"]
    np.testing.assert_allclose(d.geom_xpos[hip] - d.xpos[hip + 1], 0.5 * offs[knee], atol=1e-4)
    half_len = 0.5 * 0.6 * np.linalg.norm(offs[knee])
    assert m.geom_size[hip, 1] == pytest.approx(half_len, abs=1e-4)
    # the foot box stays centred on the ankle-toe bone; radii and box sizes are kept
    ankle, toe = sk.BODY_INDEX["L_Ankle"], sk.BODY_INDEX["L_Toe"]
    np.testing.assert_allclose(d.geom_xpos[ankle] - d.xpos[ankle + 1], 0.5 * offs[toe], atol=1e-3)
    neutral_m = humanoid_spec.humanoid_model(ground=False)
    np.testing.assert_allclose(m.geom_size[:, 0], neutral_m.geom_size[:, 0])
    assert m.body_subtreemass[1] == pytest.approx(INTERMIMIC_MASS_KG, rel=0.1)

    # geom_scale="none": geoms exactly as in the neutral model, bodies still moved
    kept = humanoid_spec.humanoid_model(offs, ground=False, geom_scale="none")
    np.testing.assert_allclose(kept.geom_size, neutral_m.geom_size)
    np.testing.assert_allclose(kept.geom_pos, neutral_m.geom_pos)
    np.testing.assert_allclose(kept.body_pos, m.body_pos)
    h = humanoid_spec.standing_root_height(offs)
    assert abs(h - humanoid_spec.HUMANOID_ROOT_HEIGHT) < 0.25


def test_subject_stands():
    """A plausible subject (5 % taller, bones jittered by up to 5 mm) stands like the neutral one."""
    offs = 1.05 * _subject_offsets(seed=11, amp=0.005)
    m = humanoid_spec.humanoid_model(offs)
    d = mujoco.MjData(m)
    z0 = humanoid_spec.standing_root_height(offs) + 0.002
    d.qpos[2], d.qpos[3] = z0, 1.0
    for _ in range(480):
        mujoco.mj_step(m, d)
    assert abs(d.qpos[2] - z0) < 0.03


def test_bad_input():
    with pytest.raises(InputError, match="shape"):
        humanoid_spec.build_humanoid_spec(np.zeros((51, 3)))
    with pytest.raises(InputError, match="NaN"):
        humanoid_spec.build_humanoid_spec(np.full((52, 3), np.nan))
    with pytest.raises(InputError, match="geom_scale"):
        humanoid_spec.build_humanoid_spec(geom_scale="stretch")
    with pytest.raises(InputError, match="friction"):
        humanoid_spec.build_humanoid_spec(ground_friction=(1.0, 0.1))
    m = humanoid_spec.humanoid_model(ground_friction=0.7)
    assert m.geom_friction[0, 0] == pytest.approx(0.7)


@pytest.fixture(scope="module")
def smplx_dir(tmp_path_factory):
    return write_smplx_fixture(tmp_path_factory.mktemp("smplx_model"))


def test_fixture_contents(smplx_dir):
    data = np.load(smplx_dir / "smplx" / "SMPLX_NEUTRAL.npz", allow_pickle=False)
    assert data["v_template"].shape == (10475, 3) and data["shapedirs"].shape == (10475, 3, 20)
    assert data["posedirs"].shape == (10475, 3, 486) and data["J_regressor"].shape == (55, 10475)
    assert data["weights"].shape == (10475, 55) and data["kintree_table"].shape == (2, 55)
    np.testing.assert_allclose(data["weights"].sum(1), 1.0)
    faces = data["f"]
    assert faces.min() >= 0 and faces.max() < 10475 and len(faces) > 10000
    rest = np.array([k.rest_point for k in kp.keypoints()])
    np.testing.assert_allclose(data["v_template"][kp.smplx_vertices()], rest, atol=1e-6)
    np.testing.assert_allclose(data["v_template"][kp.smplx_vertices(legacy=True)], rest, atol=1e-6)


def test_betas_offsets(smplx_dir, monkeypatch):
    zero = shape.offsets_from_smplx(smplx_dir, np.zeros(10))
    np.testing.assert_allclose(zero, sk.neutral_offsets(), atol=1e-6)

    taller = shape.offsets_from_smplx(smplx_dir, [1.0])
    np.testing.assert_allclose(taller[1:], 1.04 * sk.neutral_offsets()[1:], atol=1e-6)
    other = shape.offsets_from_smplx(smplx_dir, [0.0, 0.0, 0.0, 2.0, -1.0, 0.0, 0.0, 0.0, 0.0, 1.5])
    assert np.abs(other - zero).max() > 0.005

    monkeypatch.setenv(shape.SMPLX_MODEL_ENV, str(smplx_dir))
    spec = humanoid_spec.humanoid_spec_from_betas([1.0, -0.5], ground=False)
    m = spec.compile()
    assert m.nu == 153 and m.body_subtreemass[1] > humanoid_spec.humanoid_model(ground=False).body_subtreemass[1]
    # the fixture's own folder and the file itself work as model paths too
    np.testing.assert_allclose(shape.offsets_from_smplx(smplx_dir / "smplx", [0.0]), zero)
    with pytest.raises(InputError, match="shape coefficients"):
        shape.offsets_from_smplx(smplx_dir, np.ones(12))

    monkeypatch.delenv(shape.SMPLX_MODEL_ENV)
    with pytest.raises(InputError, match=shape.SMPLX_MODEL_ENV):
        shape.offsets_from_smplx(None, [0.0])
    with pytest.raises(InputError, match="not found"):
        shape.offsets_from_smplx(smplx_dir, [0.0], gender="male")


def test_fixture_moves_like_the_humanoid(smplx_dir):
    """Posing the fixture with the humanoid's joint rotations (frame-changed) puts its joints on the humanoid's FK."""
    import smplx
    import torch

    from hoi_sim import rotations as rot
    from hoi_sim.humanoid.kinematics import dofs_to_local_quat, forward_kinematics

    rng = np.random.default_rng(5)
    n = 4
    dof = torch.as_tensor(rng.uniform(-0.6, 0.6, (n, sk.NUM_DOFS)))
    root_quat = rot.quat_normalize(torch.as_tensor(rng.normal(size=(n, 4))))
    body_pos, body_quat = forward_kinematics(torch.zeros(n, 3, dtype=torch.float64), root_quat, dof)

    c = torch.as_tensor(shape.SMPLX_TO_HUMANOID)
    local = torch.cat([root_quat[:, None], dofs_to_local_quat(dof)], dim=1)  # [n, 52, 4] humanoid frame
    local_s = c.T @ rot.quat_to_matrix(local) @ c  # R_s = Cᵀ R_h C
    aa = torch.zeros(n, 55, 3, dtype=torch.float64)
    aa[:, list(sk.SMPLX_JOINT_IDS)] = rot.quat_to_axis_angle(rot.matrix_to_quat(local_s))
    model = smplx.create(str(smplx_dir), model_type="smplx", ext="npz", flat_hand_mean=True, use_pca=False,
                         batch_size=n)
    aa = aa.float()
    out = model(global_orient=aa[:, 0], body_pose=aa[:, 1:22].reshape(n, -1),
                left_hand_pose=aa[:, 25:40].reshape(n, -1), right_hand_pose=aa[:, 40:55].reshape(n, -1))
    joints = out.joints[:, list(sk.SMPLX_JOINT_IDS)].detach().double()
    joints_h = (joints - joints[:, :1]) @ c.T
    np.testing.assert_allclose(joints_h.numpy(), body_pos.numpy(), atol=1e-5)
    # keypoint vertices ride on their bodies at the keypoint's body-local offset
    verts_h = (out.vertices[:, kp.smplx_vertices()].detach().double() - joints[:, :1]) @ c.T
    bi = torch.as_tensor(kp.body_indices())
    expect = body_pos[:, bi] + rot.quat_rotate(body_quat[:, bi], torch.as_tensor(kp.body_offsets()).expand(n, -1, -1))
    np.testing.assert_allclose(verts_h.numpy(), expect.numpy(), atol=1e-4)
