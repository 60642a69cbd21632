"""Gravity feed-forward for the PD targets (``env.action.feedforward: gravity``).

A PD actuator produces torque only from a joint error, so a humanoid reset onto a reference pose sags until the
error carries its weight (the 9–15 mm "reset drop", docs/motion_format.md §8), and every control step it tracks
from below. This module computes, per reference frame, the joint torques that hold that pose still on its stance
feet, and turns them into PD-target offsets Δq = τ / kp, so that the PD force at the reference pose is τ.

Per frame (quasi-static: q̇ = q̈ = 0, the frame's pose, contacts and joint limits off):

1. ``mj_inverse`` gives the generalized gravity force g(q) [nv] that actuators and contacts must supply.
2. Stance points: the bottom corners of the foot geoms (``skeleton.FEET``) within ``band`` of the lowest foot point,
   when that point is within ``max_height`` of the floor (none: the frame is airborne and gets no offset).
3. The floor's forces f at those points carry the root's six rows: min ‖J_rootᵀ f − g_root‖² + ``reg``‖f‖² (a
   regularised least squares; the pose decides how the weight splits between the feet).
4. τ = g_dofs − J_dofsᵀ f, the hinge torques (N·m), and Δq = τ / kp (rad).

The object is not part of it: its weight on the hands (0.5 kg under Table 7) is left to the policy.
"""

from __future__ import annotations

import mujoco
import numpy as np

from hoi_sim.sim.scene import SceneIndex
from hoi_sim.skeleton import FEET, body_ids

STANCE_BAND = 0.02
"""Foot-geom corners within this height (m) of the lowest foot point count as standing on the floor."""
STANCE_MAX_HEIGHT = 0.10
"""A frame whose lowest foot point is higher than this (m) is airborne: no offset."""
FORCE_REG = 1e-4
"""Tikhonov weight of the contact-force least squares (N⁻² · (N·m)², small: it only picks among exact splits)."""


def _foot_corners(m: mujoco.MjModel, d: mujoco.MjData, bodies: list[int]) -> list[tuple[int, np.ndarray]]:
    """(body, world point) of every box corner / sphere or capsule bottom of the geoms of ``bodies``."""
    out: list[tuple[int, np.ndarray]] = []
    signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], dtype=float)
    for g in np.flatnonzero(np.isin(m.geom_bodyid, bodies)):
        b = int(m.geom_bodyid[g])
        centre, rot = d.geom_xpos[g], d.geom_xmat[g].reshape(3, 3)
        if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX:
            out += [(b, centre + rot @ (s * m.geom_size[g])) for s in signs]
        else:
            out.append((b, centre - np.array([0.0, 0.0, m.geom_size[g][0]])))
    return out


def _stance_jacobian(m: mujoco.MjModel, d: mujoco.MjData, feet: list[int]) -> np.ndarray | None:
    """[3k, nv] translational Jacobians of the k stance points, or None when the frame is airborne."""
    corners = _foot_corners(m, d, feet)
    zmin = min(p[2] for _, p in corners)
    if zmin > STANCE_MAX_HEIGHT:
        return None
    rows = []
    for b, p in corners:
        if p[2] <= zmin + STANCE_BAND:
            jac = np.zeros((3, m.nv))
            mujoco.mj_jac(m, d, jac, None, p, b)
            rows.append(jac)
    return np.concatenate(rows, 0)


def gravity_offsets(model: mujoco.MjModel, index: SceneIndex, root_pos: np.ndarray, root_quat: np.ndarray,
                    dof_pos: np.ndarray) -> np.ndarray:
    """PD-target offsets [F, 153] (rad, DOF order) that hold each of F frames on its stance feet (module docstring).

    Args:
        model: the scene's ``MjModel`` (a backend's ``model``: position actuators, one per DOF).
        index: its ``SceneIndex``.
        root_pos: [F, 3] m; root_quat: [F, 4] wxyz; dof_pos: [F, 153] rad — the reference frames.
    """
    m = model
    d = mujoco.MjData(m)
    kp = m.actuator_gainprm[index.ctrl, 0]
    feet = [int(index.body_ids[i]) for i in body_ids(FEET)]
    root_rows = np.arange(index.root_qvel, index.root_qvel + 6)
    out = np.zeros((len(dof_pos), len(index.dof_qvel)))
    saved = m.opt.disableflags
    m.opt.disableflags = saved | int(mujoco.mjtDisableBit.mjDSBL_CONSTRAINT)
    try:
        for f in range(len(dof_pos)):
            d.qpos[:] = m.qpos0
            d.qpos[index.root_qpos:index.root_qpos + 3] = root_pos[f]
            d.qpos[index.root_qpos + 3:index.root_qpos + 7] = root_quat[f] / np.linalg.norm(root_quat[f])
            d.qpos[index.dof_qpos] = dof_pos[f]
            d.qvel[:] = 0.0
            d.qacc[:] = 0.0
            mujoco.mj_inverse(m, d)  # kinematics included; constraints off: g(q) alone
            g = d.qfrc_inverse.copy()
            jac = _stance_jacobian(m, d, feet)
            if jac is None:
                continue
            a = jac[:, root_rows].T  # [6, 3k]
            force = np.linalg.solve(a.T @ a + FORCE_REG * np.eye(a.shape[1]), a.T @ g[root_rows])
            out[f] = (g[index.dof_qvel] - jac[:, index.dof_qvel].T @ force) / kp
    finally:
        m.opt.disableflags = saved
    return out
