"""The humanoid's collision geoms on any skeleton (:func:`scaled_geoms`), as tensors, and the closed-form nearest
point on them (engine-free).

Every body of the 52-body humanoid owns one collision geom (sphere, capsule or box; ``skeleton.neutral().geoms``).
A **geom table** holds one row of ``TABLE_WIDTH`` floats per body, in the body's frame (m):

======== ===== =====================================================================================
columns  name  meaning
======== ===== =====================================================================================
0:3      c     centre (sphere and box centre, capsule mid-point)
3:6      u     half axis of a capsule (its segment is c ± u); 0 for spheres and boxes
6:9      h     half extents of a box along its own axes; 0 for spheres and capsules
9        r     radius of a sphere or capsule; 0 for boxes
10:19    R     row-major 3×3 rotation geom → body frame of a box (identity for the others)
======== ===== =====================================================================================

so every primitive is the set ``{c + t·u + R·y + z : |t| ≤ 1, |y_i| ≤ h_i, ‖z‖ ≤ r}`` with either u or h zero.
The nearest point of that solid to a point x (:func:`nearest_on_geoms`) is closed-form: the nearest point of the
inner segment or box (a clamp), then a step of r towards x; x itself when x lies inside.

Skeletons. The humanoid the simulator builds for a motion (``hoi_sim.sim.humanoid_spec``) scales its geoms with
the motion's bones (:func:`scaled_geoms`, ``geom_scale="bone"``): bodies sit at the given bone offsets; each geom
anchor point (capsule ``fromto`` end, box or sphere centre) of a body with children lies, in the neutral humanoid, at
a fraction α of one child bone (the child whose bone passes closest to the point; within 4 mm for every geom) and
keeps that fraction, p' = p + α (o'_child − o_child), so capsules stretch and turn with their bone and the foot box
stays centred on the ankle–toe bone. Capsules of leaf bodies (fingertips) scale with their own bone's length ratio;
other leaf geoms (head sphere, toe boxes) are kept. Radii and box half sizes are kept, so the mass changes with bone
lengths only. That rule is linear in the bone offsets, so :func:`geom_table` evaluates it batched on torch from
offsets [..., 52, 3] (a test checks it against :func:`scaled_geoms`). :func:`offsets_from_pose` recovers a
skeleton's bone offsets from any world pose of it (exact for rigid bodies), so the geometry of a simulated or
reference humanoid can be derived from its pose alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from hoi_sim import rotations as rot
from hoi_sim.errors import InputError
from hoi_sim.skeleton import NUM_BODIES, PARENTS, GeomSpec, neutral

TABLE_WIDTH = 19
"""Floats per body in a geom table (module docstring)."""
COL_C, COL_U, COL_H, COL_R, COL_ROT = slice(0, 3), slice(3, 6), slice(6, 9), 9, slice(10, 19)
"""Geom-table columns: centre, capsule half axis, box half extents, radius, row-major box rotation."""
COL_REST = slice(COL_H.start, TABLE_WIDTH)
"""h, r and R: the columns that do not move with the bones (everything after c and u)."""


def _in_rest(col: slice | int) -> slice | int:
    """A geom-table column as an index into the ``COL_REST`` part of a row."""
    k = COL_REST.start
    return col - k if isinstance(col, int) else slice(col.start - k, col.stop - k)


_H, _R, _ROT = _in_rest(COL_H), _in_rest(COL_R), _in_rest(COL_ROT)
GEOM_TYPES = ("sphere", "capsule", "box")
ANCHOR_TOL = 0.005
"""m: largest distance of a geom anchor from a child bone for it to follow that bone."""
GEOM_SCALE_MODES = ("bone", "none")
"""How geoms follow a non-neutral skeleton: ``bone`` (the rule of the module docstring) or ``none`` (neutral)."""
_EPS = 1e-12


def check_offsets(offsets: np.ndarray | Sequence | None) -> np.ndarray:
    """Validated bone offsets [52, 3] float64 (m); ``None`` gives the neutral ones. Row 0 (Pelvis) is ignored."""
    if offsets is None:
        return neutral().offsets.copy()
    arr = np.asarray(offsets, dtype=np.float64)
    if arr.shape != (NUM_BODIES, 3):
        raise InputError(f"skeleton offsets must have shape ({NUM_BODIES}, 3), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise InputError("skeleton offsets contain NaN or inf")
    return arr


def _children(body: int) -> list[int]:
    return [c for c in range(NUM_BODIES) if PARENTS[c] == body]


def _follow_bone(point: np.ndarray, body: int, ref: np.ndarray, new: np.ndarray) -> np.ndarray | None:
    """Move a body-frame point lying on one of ``body``'s child bones with that bone; None if it lies on none."""
    best: tuple[float, float, int] | None = None
    for c in _children(body):
        o = ref[c]
        alpha = float(point @ o / max(o @ o, 1e-12))
        resid = float(np.linalg.norm(point - alpha * o))
        if best is None or resid < best[0]:
            best = (resid, alpha, c)
    if best is None or best[0] > ANCHOR_TOL:
        return None
    _, alpha, c = best
    return point + alpha * (new[c] - ref[c])


def scaled_geoms(offsets: np.ndarray | None = None, geom_scale: str = "bone") -> tuple[tuple[GeomSpec, ...], ...]:
    """Per-body geoms for a skeleton, following the rule of the module docstring ("Skeletons"): the geoms of the
    humanoid the simulator builds on ``offsets`` (``hoi_sim.sim.humanoid_spec``) and of every engine-free use.

    Args:
        offsets: bone offsets [52, 3] (m); None = neutral (geoms returned unchanged).
        geom_scale: ``"bone"`` (geoms follow bones) or ``"none"`` (neutral geoms).

    Returns:
        52 tuples of ``GeomSpec`` in body order (body-frame positions, m).
    """
    if geom_scale not in GEOM_SCALE_MODES:
        raise InputError(f"geom_scale must be one of {GEOM_SCALE_MODES}, got {geom_scale!r}")
    ref = neutral()
    if offsets is None or geom_scale == "none":
        return ref.geoms
    new = check_offsets(offsets)
    out: list[tuple[GeomSpec, ...]] = []
    for b in range(NUM_BODIES):
        leaf = not _children(b)
        ratio = float(np.linalg.norm(new[b]) / max(np.linalg.norm(ref.offsets[b]), 1e-9)) if b else 1.0
        body_geoms = []
        for g in ref.geoms[b]:
            if g.fromto is not None:
                ends = np.asarray(g.fromto, dtype=np.float64).reshape(2, 3)
                if leaf:
                    moved = ends * ratio
                else:
                    moved = np.stack([
                        m if (m := _follow_bone(e, b, ref.offsets, new)) is not None else e for e in ends])
                body_geoms.append(GeomSpec(g.type, g.size, g.density, g.pos, g.quat,
                                           tuple(float(v) for v in moved.reshape(-1))))
            elif g.pos is not None and not leaf:
                p = _follow_bone(np.asarray(g.pos, dtype=np.float64), b, ref.offsets, new)
                pos = g.pos if p is None else tuple(float(v) for v in p)
                body_geoms.append(GeomSpec(g.type, g.size, g.density, pos, g.quat, g.fromto))
            else:
                body_geoms.append(g)
        out.append(tuple(body_geoms))
    return tuple(out)


def _quat_matrix(quat: Sequence[float] | None) -> np.ndarray:
    """wxyz → 3×3 (identity for None)."""
    if quat is None:
        return np.eye(3)
    return rot.quat_to_matrix(torch.as_tensor(quat, dtype=torch.float64)).numpy()


def _anchors(g: GeomSpec) -> np.ndarray:
    """The two anchor points [2, 3] of a geom (capsule ends; the centre twice for spheres and boxes)."""
    if g.type not in GEOM_TYPES:
        raise ValueError(f"unsupported collision geom type {g.type!r} (sphere | capsule | box)")
    if g.type == "capsule":
        if g.fromto is not None:
            return np.asarray(g.fromto, np.float64).reshape(2, 3)
        half = _quat_matrix(g.quat) @ np.array([0.0, 0.0, float(g.size[1])])
        c = np.zeros(3) if g.pos is None else np.asarray(g.pos, np.float64)
        return np.stack([c - half, c + half])
    c = np.zeros(3) if g.pos is None else np.asarray(g.pos, np.float64)
    return np.stack([c, c])


def _one_geom(geoms: Sequence[Sequence[GeomSpec]]) -> list[GeomSpec]:
    if len(geoms) != NUM_BODIES:
        raise ValueError(f"need geoms for {NUM_BODIES} bodies, got {len(geoms)}")
    out = []
    for b, gs in enumerate(geoms):
        if len(gs) != 1:
            raise ValueError(f"body {b} has {len(gs)} collision geoms; the geom table holds exactly one per body")
        out.append(gs[0])
    return out


def table_from_specs(geoms: Sequence[Sequence[GeomSpec]]) -> np.ndarray:
    """Geom table [52, TABLE_WIDTH] (float64, body frames, m) of explicit per-body geoms (one per body), e.g.
    ``skeleton.neutral().geoms`` or ``scaled_geoms(offsets)``."""
    out = np.zeros((NUM_BODIES, TABLE_WIDTH))
    for b, g in enumerate(_one_geom(geoms)):
        a = _anchors(g)
        out[b, COL_C] = a.mean(0)
        out[b, COL_U] = 0.5 * (a[1] - a[0])
        if g.type == "box":
            out[b, COL_H] = np.asarray(g.size[:3], np.float64)
            out[b, COL_ROT] = _quat_matrix(g.quat).reshape(-1)
        else:
            out[b, COL_R] = float(g.size[0])
            out[b, COL_ROT] = np.eye(3).reshape(-1)
    return out


@dataclass(frozen=True)
class GeomRule:
    """How the neutral geoms follow a skeleton (the ``geom_scale="bone"`` rule of :func:`scaled_geoms`), as arrays.

    anchors [52, 2, 3]: neutral anchor points (m, body frame); child [52, 2] long: the child bone an anchor follows
    (0 with alpha 0 when it follows none); alpha [52, 2]: its fraction of that bone; leaf_scale [52] bool: a leaf
    capsule (anchors scale with the body's own bone length ratio); neutral_offsets [52, 3] m; base [52, 19]: the
    neutral table (h, r and R are taken from it unchanged).
    """

    anchors: np.ndarray
    child: np.ndarray
    alpha: np.ndarray
    leaf_scale: np.ndarray
    neutral_offsets: np.ndarray
    base: np.ndarray


@lru_cache(maxsize=1)
def neutral_rule() -> GeomRule:
    """:class:`GeomRule` of the neutral humanoid (``hoi_sim/data/humanoid_neutral.json``)."""
    ref = neutral()
    geoms = _one_geom(ref.geoms)
    children = [[c for c in range(NUM_BODIES) if PARENTS[c] == b] for b in range(NUM_BODIES)]
    anchors = np.zeros((NUM_BODIES, 2, 3))
    child = np.zeros((NUM_BODIES, 2), np.int64)
    alpha = np.zeros((NUM_BODIES, 2))
    leaf_scale = np.zeros(NUM_BODIES, bool)
    for b, g in enumerate(geoms):
        anchors[b] = _anchors(g)
        if not children[b]:
            leaf_scale[b] = g.type == "capsule"
            continue
        for e in range(2):
            p = anchors[b, e]
            best = None
            for c in children[b]:
                o = ref.offsets[c]
                a = float(p @ o / max(o @ o, _EPS))
                resid = float(np.linalg.norm(p - a * o))
                if best is None or resid < best[0]:
                    best = (resid, a, c)
            if best is not None and best[0] <= ANCHOR_TOL:
                alpha[b, e], child[b, e] = best[1], best[2]
    return GeomRule(anchors, child, alpha, leaf_scale, ref.offsets.copy(), table_from_specs(ref.geoms))


# columns of the rule's per-body packed row (``_rule_tensors()["packed"]``, the per-edge nearest-point path)
_PK_ANCHORS, _PK_ALPHA, _PK_CHILD0, _PK_LEAF, _PK_LEN = slice(0, 6), slice(6, 8), slice(8, 14), 14, 15
_PK_REST = slice(16, 16 + TABLE_WIDTH - COL_REST.start)


@lru_cache(maxsize=16)
def _rule_tensors(device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """The neutral rule's arrays as tensors on ``device`` (cached: the per-step reward path reuses them)."""
    rule = neutral_rule()
    t = lambda a: torch.as_tensor(a, dtype=dtype, device=device)  # noqa: E731
    parents = [max(p, 0) for p in PARENTS]
    o0_len = np.maximum(np.linalg.norm(rule.neutral_offsets, axis=-1), 1e-9)
    o0_child = rule.neutral_offsets[rule.child] * (rule.alpha != 0)[..., None]  # [52, 2, 3]
    return {"o0": t(rule.neutral_offsets), "o0_len": t(o0_len),
            "leaf": torch.as_tensor(rule.leaf_scale, device=device),
            "child": torch.as_tensor(rule.child.reshape(-1), device=device),
            "anchors": t(rule.anchors), "alpha": t(rule.alpha)[..., None], "rest": t(rule.base[:, COL_REST]),
            "parents": torch.as_tensor(parents, device=device),
            # per body, for the per-edge path: anchors (6), alpha (2), neutral child offsets (6), leaf flag (1),
            # neutral bone length (1), h r R (13); and the bodies it reads: child of anchor 0, of anchor 1, parent
            "packed": t(np.concatenate([rule.anchors.reshape(-1, 6), rule.alpha,
                                        o0_child.reshape(-1, 6),
                                        rule.leaf_scale[:, None], o0_len[:, None], rule.base[:, COL_REST]], 1)),
            "links": torch.as_tensor(np.concatenate([rule.child, np.asarray(parents)[:, None]], 1), device=device)}


def geom_table(offsets: torch.Tensor | np.ndarray | None = None, *, device: torch.device | str | None = None,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Geom tables of humanoids built on bone ``offsets`` with geoms following their bones (:func:`scaled_geoms`).

    Args:
        offsets: [..., 52, 3] bone offsets (m, body origin in its parent's frame; row 0 ignored); None = neutral.
        device, dtype: of the result (default: those of ``offsets`` when it is a float tensor, else CPU float32).

    Returns:
        [..., 52, TABLE_WIDTH] tables (body frames, m).
    """
    if offsets is None:
        offsets = neutral_rule().neutral_offsets
    if isinstance(offsets, torch.Tensor):
        device = offsets.device if device is None else device
        dtype = offsets.dtype if offsets.is_floating_point() else dtype
    o = torch.as_tensor(offsets, dtype=dtype, device=device)
    r = _rule_tensors(o.device, o.dtype)
    # leaf capsules: anchors × (bone length / neutral bone length); the others × 1
    scale = torch.where(r["leaf"], o.norm(dim=-1) / r["o0_len"], 1.0)  # [..., 52]
    moved = (o - r["o0"]).index_select(-2, r["child"]).unflatten(-2, (NUM_BODIES, 2))  # child-bone displacement
    a = r["anchors"] * scale[..., None, None] + r["alpha"] * moved  # [..., 52, 2, 3]
    a0, a1 = a.unbind(-2)
    rest = r["rest"].expand(o.shape[:-1] + (TABLE_WIDTH - COL_REST.start,))
    return torch.cat([0.5 * (a0 + a1), 0.5 * (a1 - a0), rest], -1)  # COL_C, COL_U, COL_REST


def offsets_from_pose(body_pos: torch.Tensor, body_quat: torch.Tensor) -> torch.Tensor:
    """Bone offsets of the skeleton posed as ``body_pos`` [..., 52, 3] (m) / ``body_quat`` [..., 52, 4] (wxyz):
    o_b = R_parent(b)ᵀ (p_b − p_parent(b)); row 0 is 0. Exact for rigid bodies (sim states, reference frames).

    Returns:
        [..., 52, 3] (m).
    """
    par = _rule_tensors(body_pos.device, body_pos.dtype)["parents"]
    off = rot.quat_rotate(rot.quat_conj(body_quat.index_select(-2, par)), body_pos - body_pos.index_select(-2, par))
    return torch.cat([torch.zeros_like(off[..., :1, :]), off[..., 1:, :]], -2)


def _nearest(x: torch.Tensor, c: torch.Tensor, u: torch.Tensor, rest: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form nearest point of primitives given by c, u [..., 3] and rest = (h, r, R) [..., 13] to x [..., 3]."""
    h, r, R = rest[..., _H], rest[..., _R], rest[..., _ROT].unflatten(-1, (3, 3))
    v = x - c
    s = ((v * u).sum(-1, keepdim=True) / (u * u).sum(-1, keepdim=True).clamp_min(_EPS)).clamp(-1.0, 1.0)
    local = (R * v[..., :, None]).sum(-2)  # Rᵀ v: v in the box's own axes
    inner = c + s * u + (R * torch.maximum(torch.minimum(local, h), -h)[..., None, :]).sum(-1)
    d = x - inner
    n = d.norm(dim=-1)
    dist = (n - r).clamp_min(0.0)
    return x - d * (dist / n.clamp_min(_EPS))[..., None], dist


def nearest_on_geoms(points: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest point of each solid primitive to a point, both in the primitive's body frame.

    Args:
        points: [..., 3] query points (m, body frame).
        rows: [..., TABLE_WIDTH] the geom-table row of each point's body.

    Returns:
        (nearest [..., 3] m: on the surface when the point is outside, the point itself when inside;
        distance [...] m ≥ 0: 0 inside).
    """
    return _nearest(points, rows[..., COL_C], rows[..., COL_U], rows[..., COL_REST])


def _nearest_flat(x: torch.Tensor, env: torch.Tensor, body: torch.Tensor, body_pos: torch.Tensor,
                  body_quat: torch.Tensor, table: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`nearest_on_posed_body` on M flat queries: x [M, 3] world, env [M] and body [M] long → ([M, 3], [M])."""
    nb = body_pos.shape[-2]
    flat = env * nb + body
    pos_flat = body_pos.reshape(-1, 3)
    p = pos_flat.index_select(0, flat)
    R = rot.quat_to_matrix(body_quat.reshape(-1, 4).index_select(0, flat))  # [M, 3, 3] body → world
    if table is not None:
        rows = table.index_select(0, body) if table.dim() == 2 else table.reshape(-1, table.shape[-1]).index_select(
            0, flat)
        local = torch.matmul((x - p)[:, None, :], R)[:, 0]  # Rᵀ (x − p)
        near, dist = _nearest(local, rows[:, COL_C], rows[:, COL_U], rows[:, COL_REST])
    else:
        r = _rule_tensors(body_pos.device, body_pos.dtype)
        links = r["links"].index_select(0, body)  # [M, 3]: child of anchor 0, of anchor 1, parent
        others = pos_flat.index_select(0, (env[:, None] * nb + links).reshape(-1)).reshape(-1, 3, 3)
        loc = torch.matmul(torch.cat([x[:, None], others], 1) - p[:, None], R)  # [M, 4, 3] in the body frame
        pk = r["packed"].index_select(0, body)  # [M, 29]
        scale = 1.0 + pk[:, _PK_LEAF] * (loc[:, 3].norm(dim=-1) / pk[:, _PK_LEN] - 1.0)
        a = (pk[:, _PK_ANCHORS].reshape(-1, 2, 3) * scale[:, None, None]
             + pk[:, _PK_ALPHA, None] * (loc[:, 1:3] - pk[:, _PK_CHILD0].reshape(-1, 2, 3)))
        near, dist = _nearest(loc[:, 0], 0.5 * (a[:, 0] + a[:, 1]), 0.5 * (a[:, 1] - a[:, 0]), pk[:, _PK_REST])
    return p + torch.matmul(R, near[:, :, None])[:, :, 0], dist


def nearest_on_posed_body(points: torch.Tensor, body_pos: torch.Tensor, body_quat: torch.Tensor,
                          body: torch.Tensor, table: torch.Tensor | None = None, mask: torch.Tensor | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest point of body ``body[n, k]``'s solid collision geom to the world point ``points[n, k]``.

    Args:
        points: [N, K, 3] world query points (m).
        body_pos: [N, 52, 3] world body positions (m); body_quat: [N, 52, 4] wxyz.
        body: [N, K] long body index per point (negative padding is read as body 0).
        table: [N, 52, W] or [52, W] geom tables of the posed skeleton; None derives each queried body's geom from
            the pose (its child and parent bones, as :func:`offsets_from_pose`; the same result as
            ``geom_table(offsets_from_pose(...))`` at a fraction of the work).
        mask: optional [N, K] bool: only these queries are computed (the others return the body's origin and
            distance 0), e.g. the interaction-graph edges active at this frame.

    Returns:
        (nearest [N, K, 3] world m: on the geom's surface, or the query point itself inside the geom;
        distance [N, K] m ≥ 0).
    """
    n, k = body.shape
    idx = body.clamp_min(0)
    env = torch.arange(n, device=body.device)[:, None].expand(n, k)
    if mask is None:
        near, dist = _nearest_flat(points.reshape(-1, 3), env.reshape(-1), idx.reshape(-1), body_pos, body_quat,
                                   table)
        return near.reshape(n, k, 3), dist.reshape(n, k)
    sel = mask.nonzero(as_tuple=True)
    near_sel, dist_sel = _nearest_flat(points[sel], env[sel], idx[sel], body_pos, body_quat, table)
    near = torch.gather(body_pos, 1, idx[..., None].expand(n, k, 3)).index_put(sel, near_sel)
    dist = torch.zeros(n, k, dtype=points.dtype, device=points.device).index_put(sel, dist_sel)
    return near, dist
