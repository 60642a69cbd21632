import json

import numpy as np
import pytest

from hoi_sim import keypoints as kp
from hoi_sim import skeleton as sk


def test_body_tree():
    assert len(sk.BODY_NAMES) == sk.NUM_BODIES == 52
    assert len(sk.DOF_NAMES) == sk.NUM_DOFS == 153
    assert sk.PARENTS[0] == -1
    assert all(0 <= p < i for i, p in enumerate(sk.PARENTS) if i > 0)  # depth-first: parents come first
    assert sk.BODY_NAMES[sk.PARENTS[sk.BODY_INDEX["L_Index1"]]] == "L_Wrist"
    assert sk.BODY_NAMES[sk.PARENTS[sk.BODY_INDEX["R_Thorax"]]] == "Chest"
    assert len(set(sk.SMPLX_JOINT_IDS)) == 52 and not {22, 23, 24} & set(sk.SMPLX_JOINT_IDS)
    assert sk.SMPLX_JOINT_IDS[sk.BODY_INDEX["R_Thumb3"]] == 54
    assert len(sk.KEY_BODIES) == 21 and "Pelvis" not in sk.KEY_BODIES
    assert len(sk.CONTACT_BODIES) == 31 and len(sk.BODY_JOINTS_22) == 22
    assert sk.body_ids(sk.LEFT_HAND) == list(range(17, 33))
    assert sk.body_ids(sk.RIGHT_HAND) == list(range(36, 52))
    with pytest.raises(KeyError, match="Nose"):
        sk.body_ids(["Nose"])


def test_named_index_ranges_match_the_reference_numbers():
    """The named body subsets and SMPL-X joint ranges are the index ranges of reference/intermimic-notes.md §2, §4.3."""
    assert sk.body_ids(sk.NO_HAND_BODIES) == list(range(0, 18)) + list(range(33, 37))  # InterMimic's no-hand rows
    assert len(sk.FINGER_BODIES) == 30 and not set(sk.FINGER_BODIES) & set(sk.NO_HAND_BODIES)
    assert sk.body_ids(sk.BODY_NAMES[sk.NON_ROOT]) == list(range(1, 52)) and sk.ROOT_INDEX == sk.BODY_INDEX["Pelvis"]
    joints = range(sk.NUM_SMPLX_JOINTS)
    parts = (joints[sk.SMPLX_ROOT_JOINT:sk.SMPLX_ROOT_JOINT + 1], joints[sk.SMPLX_BODY_POSE], joints[sk.SMPLX_FACE],
             joints[sk.SMPLX_LEFT_HAND], joints[sk.SMPLX_RIGHT_HAND])
    assert [len(p) for p in parts] == [1, 21, 3, 15, 15] and [j for p in parts for j in p] == list(joints)
    by_body = dict(zip(sk.BODY_NAMES, sk.SMPLX_JOINT_IDS))
    assert {by_body[n] for n in sk.FINGER_BODIES} == set(joints[sk.SMPLX_LEFT_HAND]) | set(joints[sk.SMPLX_RIGHT_HAND])
    assert by_body["L_Index1"] == 25 and by_body["R_Index1"] == 40 and by_body["R_Wrist"] == 21


def test_neutral_tables_match_reference(reference_dir):
    import xml.etree.ElementTree as ET

    root = ET.parse(reference_dir / "intermimic" / "omomo.xml").getroot()
    xml_bodies = {b.get("name"): b for b in root.iter("body")}
    n = sk.neutral()
    for i, name in enumerate(sk.BODY_NAMES):
        np.testing.assert_allclose(n.offsets[i], [float(v) for v in xml_bodies[name].get("pos").split()])
        for j, xj in zip(n.joints[i], xml_bodies[name].findall("joint")):
            assert j.kp == float(xj.get("stiffness")) and j.kd == float(xj.get("damping"))


def test_keypoint_table():
    kps = kp.keypoints()
    assert len(kps) == 87 and len(set(kp.names())) == 87
    assert len(kp.parts()) == 26 and {k.part for k in kps} == set(kp.parts())
    assert all(0 <= k.smplx_vertex < 10475 for k in kps)
    assert all(0 <= k.body_index < 52 for k in kps)
    assert kp.get("leftHand_palm").body == "L_Wrist"
    assert kp.get("rightHand_palm").body == "R_Wrist"
    assert kp.get("leftToeBase").body == "L_Toe"
    assert kp.get("Head_top").body == "Head"
    assert kp.get("Index_left").body.startswith("L_Index")
    assert len(kp.legacy_names()) == 74 and kp.legacy_names()[0] == "leftToeBase"
    assert kp.smplx_vertices(legacy=True)[kp.index("leftToeBase")] == 5850
    with pytest.raises(KeyError, match="nose_tip"):
        kp.get("nose_tip")
    # offsets put the palm keypoint a few centimetres from the wrist, on the left (+y) side at rest
    off = np.asarray(kp.get("leftHand_palm").body_offset)
    assert 0.03 < np.linalg.norm(off) < 0.15 and off[1] > 0


def test_keypoint_table_matches_app_files(reference_dir):
    part_kp = json.loads((reference_dir / "open4dhoi" / "part_kp.json").read_text())
    assert list(part_kp) == list(kp.names())
    for k in kp.keypoints():
        assert part_kp[k.name]["index"] == k.smplx_vertex
