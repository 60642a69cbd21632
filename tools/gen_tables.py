"""Generate the package's reference tables from the reference files in ``../shared/reference``.

Run from the repository root (needs the read-only reference folder beside the checkout)::

    python tools/gen_tables.py [--reference ../shared/reference]

It writes two JSON files that ship inside the wheel (``hoi_sim/data``):

* ``humanoid_neutral.json`` — the 52-body humanoid of InterMimic's ``omomo.xml``: body names in depth-first order,
  parents, body offsets, hinge ranges, PD gains (the MJCF ``stiffness``/``damping`` attributes, which Isaac Gym
  reads as drive gains), armature and the collision geoms with their densities. Nothing else of the XML is kept.
* ``keypoints.json`` — the 87 Open4DHOI keypoints (``part_kp.json``) with their part (``joint_tree.json``), SMPL-X
  vertex index, rest point, humanoid body (from ``joint_sim.json``: SMPL-X joint name → humanoid body) and a
  body-local offset in the humanoid's frame.

Frame change SMPL-X rest (y up, z forward, x left) → humanoid (z up, x forward, y left): (x, y, z)_h = (z, x, y)_s.
The humanoid's rest skeleton is placed in the SMPL-X template frame by a translation fitted so that the keypoints lie
on the surfaces of their bodies' geoms (least squares over all 87); the script prints the fit residuals.
"""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "hoi_sim" / "data"

# joint_sim.json joint name -> humanoid body (PHC naming: Torso/Spine/Chest = spine1/2/3, Thorax = collar, Toe = foot).
SMPLX_JOINT_TO_BODY = {
    "pelvis": "Pelvis", "left_hip": "L_Hip", "right_hip": "R_Hip", "spine1": "Torso", "left_knee": "L_Knee",
    "right_knee": "R_Knee", "spine2": "Spine", "left_ankle": "L_Ankle", "right_ankle": "R_Ankle", "spine3": "Chest",
    "left_foot": "L_Toe", "right_foot": "R_Toe", "neck": "Neck", "left_collar": "L_Thorax",
    "right_collar": "R_Thorax", "head": "Head", "left_shoulder": "L_Shoulder", "right_shoulder": "R_Shoulder",
    "left_elbow": "L_Elbow", "right_elbow": "R_Elbow", "left_wrist": "L_Wrist", "right_wrist": "R_Wrist",
    # the heel is a landmark slot in SMPL-X (62/65), not a joint: the sole belongs to the foot (ankle) body
    "left_heel": "L_Ankle", "right_heel": "R_Ankle",
    "left_index1": "L_Index1", "right_index1": "R_Index1", "left_middle1": "L_Middle1", "right_middle1": "R_Middle1",
    "left_ring1": "L_Ring1", "right_ring1": "R_Ring1", "left_pinky1": "L_Pinky1", "right_pinky1": "R_Pinky1",
    "left_thumb1": "L_Thumb1", "right_thumb1": "R_Thumb1",
}


def _floats(s: str | None) -> list[float] | None:
    return None if s is None else [float(v) for v in s.split()]


def parse_humanoid(xml_path: Path) -> dict:
    root = ET.parse(xml_path).getroot()
    pelvis = root.find("worldbody").find("body")
    bodies: list[dict] = []

    def walk(el: ET.Element, parent: int) -> None:
        idx = len(bodies)
        joints = []
        for j in el.findall("joint"):
            joints.append({
                "name": j.get("name"),
                "axis": _floats(j.get("axis")),
                "range_deg": _floats(j.get("range")),
                "kp": float(j.get("stiffness", 0.0)),
                "kd": float(j.get("damping", 0.0)),
                "armature": float(j.get("armature", 0.0)),
            })
        geoms = []
        for g in el.findall("geom"):
            geom = {"type": g.get("type"), "size": _floats(g.get("size")), "density": float(g.get("density", 1000))}
            for key in ("pos", "quat", "fromto"):
                if g.get(key) is not None:
                    geom[key] = _floats(g.get(key))
            geoms.append(geom)
        bodies.append({"name": el.get("name"), "parent": parent, "pos": _floats(el.get("pos")),
                       "joints": joints, "geoms": geoms})
        for child in el.findall("body"):
            walk(child, idx)

    walk(pelvis, -1)
    return {"source": "InterMimic omomo.xml (isaacgym/src/intermimic/data/assets/smplx/omomo.xml)", "bodies": bodies}


def rest_positions(bodies: list[dict]) -> np.ndarray:
    pos = np.zeros((len(bodies), 3))
    for i, b in enumerate(bodies):
        if b["parent"] >= 0:
            pos[i] = pos[b["parent"]] + np.asarray(b["pos"])
    return pos


def geom_surface_distance(p: np.ndarray, geom: dict, origin: np.ndarray) -> float:
    """Signed distance (m) of point ``p`` to a geom of a body at ``origin`` (rest pose, identity rotations)."""
    if geom["type"] == "sphere":
        c = origin + np.asarray(geom.get("pos", [0, 0, 0]))
        return float(np.linalg.norm(p - c) - geom["size"][0])
    if geom["type"] == "capsule":
        a = origin + np.asarray(geom["fromto"][:3])
        b = origin + np.asarray(geom["fromto"][3:])
        ab = b - a
        t = np.clip(np.dot(p - a, ab) / max(np.dot(ab, ab), 1e-12), 0.0, 1.0)
        return float(np.linalg.norm(p - (a + t * ab)) - geom["size"][0])
    if geom["type"] == "box":  # boxes here are axis aligned (quat = identity)
        c = origin + np.asarray(geom.get("pos", [0, 0, 0]))
        q = np.abs(p - c) - np.asarray(geom["size"])
        return float(np.linalg.norm(np.maximum(q, 0.0)) + min(q.max(), 0.0))
    raise ValueError(f"unsupported geom type {geom['type']}")


def build_keypoints(ref: Path, humanoid: dict) -> dict:
    part_kp = json.loads((ref / "open4dhoi" / "part_kp.json").read_text())
    tree = json.loads((ref / "open4dhoi" / "joint_tree.json").read_text())
    sim = json.loads((ref / "open4dhoi" / "joint_sim.json").read_text())
    bodies = humanoid["bodies"]
    names = [b["name"] for b in bodies]
    kp_to_part = {kp: part for part, kps in tree.items() for kp in kps}
    kp_to_body: dict[str, str] = {}
    for joint, kps in sim.items():
        for kp in kps:
            kp_to_body[kp] = SMPLX_JOINT_TO_BODY[joint]
    missing = [k for k in part_kp if k not in kp_to_body or k not in kp_to_part]
    if missing:
        raise SystemExit(f"keypoints without body or part: {missing}")

    rest = rest_positions(bodies)
    kp_names = list(part_kp)
    pts_h = np.array([[part_kp[k]["point"][2], part_kp[k]["point"][0], part_kp[k]["point"][1]] for k in kp_names])

    # A finger keypoint (a fingertip vertex) moves with the distal segment of its finger, not with segment 1:
    # take the segment of the chain whose capsule is nearest to the point. Elsewhere keep joint_sim's body.
    body_of = {}
    for k in kp_names:
        b = kp_to_body[k]
        if b[2:] in {f"{f}1" for f in ("Index", "Middle", "Ring", "Pinky", "Thumb")}:
            body_of[k] = b  # refined after the anchor fit below
        else:
            body_of[k] = b

    def residuals(t: np.ndarray) -> np.ndarray:
        res = []
        for i, k in enumerate(kp_names):
            bi = names.index(body_of[k])
            res.append(min(geom_surface_distance(pts_h[i] - t, g, rest[bi]) for g in bodies[bi]["geoms"]))
        return np.asarray(res)

    fit = least_squares(residuals, x0=np.array([0.012, 0.003, -0.35]), loss="soft_l1", f_scale=0.02)
    anchor = fit.x
    for k in kp_names:  # refine finger keypoints to the nearest segment of their chain
        b = body_of[k]
        if b[2:-1] in ("Index", "Middle", "Ring", "Pinky", "Thumb"):
            chain = [b[:-1] + str(s) for s in (1, 2, 3)]
            i = kp_names.index(k)
            dists = [min(geom_surface_distance(pts_h[i] - anchor, g, rest[names.index(c)])
                         for g in bodies[names.index(c)]["geoms"]) for c in chain]
            body_of[k] = chain[int(np.argmin(dists))]
    res = residuals(anchor)
    print(f"pelvis anchor in the SMPL-X template frame (humanoid axes): {anchor.round(4).tolist()}")
    print(f"keypoint-to-geom surface distance: mean {np.abs(res).mean() * 1000:.1f} mm, "
          f"max {np.abs(res).max() * 1000:.1f} mm ({kp_names[int(np.abs(res).argmax())]})")

    keypoints = []
    for i, k in enumerate(kp_names):
        bi = names.index(body_of[k])
        offset = pts_h[i] - anchor - rest[bi]
        keypoints.append({
            "name": k, "part": kp_to_part[k], "smplx_vertex": int(part_kp[k]["index"]),
            "rest_point_smplx": [float(v) for v in part_kp[k]["point"]],
            "body": body_of[k], "joint_sim_body": kp_to_body[k],
            "body_offset": [round(float(v), 6) for v in offset],
            "surface_residual_m": round(float(res[i]), 6),
        })
    return {
        "source": "Open4DHOI part_kp.json / joint_tree.json / joint_sim.json (release B, 87 keypoints, 26 parts)",
        "pelvis_anchor_humanoid_axes": [round(float(v), 6) for v in anchor],
        "parts": list(tree),
        "keypoints": keypoints,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reference", type=Path, default=ROOT.parent / "shared" / "reference")
    args = ap.parse_args()
    humanoid = parse_humanoid(args.reference / "intermimic" / "omomo.xml")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "humanoid_neutral.json").write_text(json.dumps(humanoid, indent=1, allow_nan=False) + "\n")
    kps = build_keypoints(args.reference, humanoid)
    (OUT / "keypoints.json").write_text(json.dumps(kps, indent=1, allow_nan=False) + "\n")
    print(f"wrote {OUT / 'humanoid_neutral.json'} ({len(humanoid['bodies'])} bodies) and "
          f"{OUT / 'keypoints.json'} ({len(kps['keypoints'])} keypoints)")


if __name__ == "__main__":
    main()
