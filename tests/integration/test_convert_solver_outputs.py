"""`hoi-sim convert` on solver outputs: HOISequence .npz and Open4DHOI all_parameters_*.json → valid HOIMotion."""

from __future__ import annotations

import numpy as np
import trimesh

from hoi_sim import cli
from hoi_sim import keypoints as kp
from hoi_sim.motions import load_motion, validate_motion
from hoi_sim.recon.sequence import HOISequence, save_sequence, write_all_parameters
from hoi_sim.recon.types import SmplxParams
from hoi_sim.skeleton import BODY_INDEX


def _sequence(T: int = 8) -> HOISequence:
    p = SmplxParams.zeros(T)
    p.global_orient[:] = [np.pi, 0.0, 0.0]
    p.body_pose[:] = np.random.default_rng(0).normal(0, 0.1, (T, 63))
    p.transl[:] = [0.0, 0.2, 3.0]
    box = trimesh.creation.box(extents=(0.3, 0.3, 0.3))
    contact = np.full((T, 87), -1, np.int64)
    contact[2:6, kp.index("rightHand_palm")] = 5
    return HOISequence(human=p, obj_vertices=np.asarray(box.vertices), obj_faces=np.asarray(box.faces),
                       obj_R=np.broadcast_to(np.eye(3), (T, 3, 3)).copy(), obj_t=np.tile([0.3, 0.2, 3.0], (T, 1)),
                       contact_vertex=contact, K=np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]]), fps=30.0)


def test_convert_hoi_sequence_and_all_parameters(tmp_path, capsys):
    seq = _sequence()
    save_sequence(seq, tmp_path / "seq.npz")
    assert cli.main(["convert", str(tmp_path / "seq.npz"), "-o", str(tmp_path / "m1.npz"), "--action", "lift"]) == 0
    m1 = load_motion(tmp_path / "m1.npz")
    assert validate_motion(m1) == [] and m1.meta["action"] == "lift"
    assert (m1.contact_label[2:6, BODY_INDEX["R_Wrist"]] == 1).all()
    assert cli.main(["validate", str(tmp_path / "m1.npz")]) == 0

    session = tmp_path / "session"
    (session / "final_optimized_parameters").mkdir(parents=True)
    trimesh.Trimesh(seq.obj_vertices, seq.obj_faces).export(session / "obj_org.obj")
    kp_records = {f"{i:05d}": {"2D_keypoint": [], "rightHand_palm": 5} for i in range(2, 6)}
    js = write_all_parameters(seq, session / "final_optimized_parameters", kp_records=kp_records, stamp="test")
    assert cli.main(["convert", str(js), "-o", str(tmp_path / "m2.npz")]) == 0
    m2 = load_motion(tmp_path / "m2.npz")
    assert validate_motion(m2) == []
    np.testing.assert_allclose(m2.body_pos, m1.body_pos, atol=1e-4)
    np.testing.assert_array_equal(m2.contact_label, m1.contact_label)


def test_convert_all_parameters_without_mesh_is_one_line(tmp_path, capsys):
    seq = _sequence()
    out = tmp_path / "s" / "final_optimized_parameters"
    out.mkdir(parents=True)
    js = write_all_parameters(seq, out, stamp="x")
    assert cli.main(["convert", str(js), "-o", str(tmp_path / "m.npz")]) == 1
    err = capsys.readouterr().err.strip()
    assert "obj_org.obj" in err and "Traceback" not in err
