"""Contact forces decoded from a MuJoCo ``MjData``'s active contacts (the reference the backend's contact sensors
are checked against, ``tests/integration/test_mujoco_backend.py``)."""

from __future__ import annotations

import mujoco
import numpy as np

from hoi_sim.sim.scene import SceneIndex
from hoi_sim.skeleton import NUM_BODIES


def contact_world_forces(m: mujoco.MjModel, d: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
    """Active contacts of ``d``: ``(geom [C,2], force [C,3])``, force in world coordinates exerted by geom1 on geom2.

    Decodes the pyramidal cone (condim 1 or 3) the way ``mj_contactForce`` does; elliptic cones are read directly.
    """
    ncon = d.ncon
    if ncon == 0:
        return np.zeros((0, 2), np.int64), np.zeros((0, 3))
    con = d.contact
    adr = np.asarray(con.efc_address[:ncon])
    keep = adr >= 0
    geom, adr = np.asarray(con.geom[:ncon])[keep], adr[keep]
    dim, frame, mu = np.asarray(con.dim[:ncon])[keep], np.asarray(con.frame[:ncon])[keep], \
        np.asarray(con.friction[:ncon])[keep]
    f = np.zeros((len(adr), 3))
    efc = d.efc_force
    if m.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC:
        f[:, 0] = efc[adr]
        d3 = dim >= 3
        f[d3, 1] = efc[adr[d3] + 1]
        f[d3, 2] = efc[adr[d3] + 2]
    else:
        d1 = dim == 1
        f[d1, 0] = efc[adr[d1]]
        d3 = dim == 3
        if d3.any():
            p = efc[adr[d3][:, None] + np.arange(4)]
            f[d3, 0] = p.sum(1)
            f[d3, 1] = (p[:, 0] - p[:, 1]) * mu[d3, 0]
            f[d3, 2] = (p[:, 2] - p[:, 3]) * mu[d3, 1]
        if (~(d1 | d3)).any():
            for k in np.flatnonzero(~(d1 | d3)):  # rare: condim 4/6, use the engine's decoder
                out = np.zeros(6)
                mujoco.mj_contactForce(m, d, int(np.flatnonzero(keep)[k]), out)
                f[k] = out[:3]
    world = np.einsum("ci,cij->cj", f, frame.reshape(-1, 3, 3))
    return geom, world


def contact_forces(m: mujoco.MjModel, d: mujoco.MjData, ix: SceneIndex) -> tuple[np.ndarray, np.ndarray]:
    """Net contact force [52,3] (N, world) on each humanoid body from the object and from anything."""
    f_obj = np.zeros((NUM_BODIES, 3))
    f_any = np.zeros((NUM_BODIES, 3))
    geom, fw = contact_world_forces(m, d)
    if len(geom) == 0:
        return f_obj, f_any
    h = ix.body_to_humanoid[m.geom_bodyid[geom]]  # [C,2] humanoid index or -1
    is_obj = ix.geom_is_object[geom]  # [C,2]
    for side, sign in ((0, -1.0), (1, 1.0)):  # geom1 receives -f, geom2 receives +f
        sel = h[:, side] >= 0
        np.add.at(f_any, h[sel, side], sign * fw[sel])
        so = sel & is_obj[:, 1 - side]
        np.add.at(f_obj, h[so, side], sign * fw[so])
    return f_obj, f_any


__all__ = ["contact_forces", "contact_world_forces"]
