"""The ``HOIMotion`` record (docs/contracts.md): one human-object interaction clip on the 52-body humanoid.

All arrays are numpy, batch (time) first, world frame z-up, metres, seconds, radians, quaternions wxyz.
T = frames, K = interaction-graph edges, V/F = object mesh vertices/faces.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from hoi_sim.errors import InputError
from hoi_sim.skeleton import NUM_BODIES, NUM_DOFS

SCHEMA_VERSION = 1
KIND = "hoi_motion"
"""``meta["kind"]`` of a HOIMotion file (other ``.npz`` formats of the package carry another kind)."""

# name -> (shape with symbolic dims, dtype). Symbols: T frames, K edges, V vertices, F faces.
ARRAY_SPECS: dict[str, tuple[tuple[int | str, ...], type]] = {
    "root_pos": (("T", 3), np.float32),
    "root_quat": (("T", 4), np.float32),
    "root_lin_vel": (("T", 3), np.float32),
    "root_ang_vel": (("T", 3), np.float32),
    "dof_pos": (("T", NUM_DOFS), np.float32),
    "dof_vel": (("T", NUM_DOFS), np.float32),
    "body_pos": (("T", NUM_BODIES, 3), np.float32),
    "body_quat": (("T", NUM_BODIES, 4), np.float32),
    "body_lin_vel": (("T", NUM_BODIES, 3), np.float32),
    "body_ang_vel": (("T", NUM_BODIES, 3), np.float32),
    "obj_pos": (("T", 3), np.float32),
    "obj_quat": (("T", 4), np.float32),
    "obj_lin_vel": (("T", 3), np.float32),
    "obj_ang_vel": (("T", 3), np.float32),
    "contact_label": (("T", NUM_BODIES), np.int8),
    "skeleton_offsets": ((NUM_BODIES, 3), np.float32),
    "ig_body": (("K",), np.int64),
    "ig_body_offset": (("K", 3), np.float32),
    "ig_obj_point": (("K", 3), np.float32),
    "ig_active": (("T", "K"), np.bool_),
    "obj_vertices": (("V", 3), np.float32),
    "obj_faces": (("F", 3), np.int32),
}
ARRAY_NAMES: tuple[str, ...] = tuple(ARRAY_SPECS)
QUAT_ARRAYS: tuple[str, ...] = ("root_quat", "body_quat", "obj_quat")


@dataclass
class HOIMotion:
    """One clip. Field shapes (see ``ARRAY_SPECS``), all float32 unless noted:

    meta: dict with ``fps`` (float, frames/s), ``name``, ``object_name``, ``mass_mode`` ('dynamic'|'static'),
    ``source``, ``action``, ``subject``, ``provenance`` (dict), ``skeleton`` (how ``skeleton_offsets`` was made);
    ``kind``, ``schema_version``, ``body_names``, ``dof_names`` and ``quat_order`` are filled in on save.
    root_pos [T,3] m · root_quat [T,4] wxyz · root_lin_vel [T,3] m/s · root_ang_vel [T,3] rad/s (world frame) ·
    dof_pos [T,153] rad (exact intrinsic x-y-z hinge angles) · dof_vel [T,153] rad/s ·
    body_pos [T,52,3] m · body_quat [T,52,4] wxyz · body_lin_vel [T,52,3] m/s · body_ang_vel [T,52,3] rad/s ·
    obj_pos [T,3] m (mesh vertex centroid) · obj_quat [T,4] wxyz · obj_lin_vel [T,3] · obj_ang_vel [T,3] ·
    contact_label [T,52] int8 in {−1 (must not touch), 0 (unknown), +1 (touches the object)} ·
    skeleton_offsets [52,3] m (body origin in its parent's frame at zero pose; row 0 zero) ·
    ig_body [K] int64 · ig_body_offset [K,3] m (body frame) · ig_obj_point [K,3] m (object frame) ·
    ig_active [T,K] bool · obj_vertices [V,3] m (object frame, origin = vertex centroid) · obj_faces [F,3] int32.
    """

    meta: dict
    root_pos: np.ndarray
    root_quat: np.ndarray
    root_lin_vel: np.ndarray
    root_ang_vel: np.ndarray
    dof_pos: np.ndarray
    dof_vel: np.ndarray
    body_pos: np.ndarray
    body_quat: np.ndarray
    body_lin_vel: np.ndarray
    body_ang_vel: np.ndarray
    obj_pos: np.ndarray
    obj_quat: np.ndarray
    obj_lin_vel: np.ndarray
    obj_ang_vel: np.ndarray
    contact_label: np.ndarray
    skeleton_offsets: np.ndarray
    ig_body: np.ndarray
    ig_body_offset: np.ndarray
    ig_obj_point: np.ndarray
    ig_active: np.ndarray
    obj_vertices: np.ndarray
    obj_faces: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.root_pos.shape[0])

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])

    @property
    def name(self) -> str:
        return str(self.meta.get("name", "<motion>"))

    def arrays(self) -> dict[str, np.ndarray]:
        """The array fields by name, in ``ARRAY_NAMES`` order."""
        return {n: getattr(self, n) for n in ARRAY_NAMES}


def array_fields() -> tuple[str, ...]:
    """Dataclass fields that hold arrays (same as ``ARRAY_NAMES``; kept in sync by a test)."""
    return tuple(f.name for f in fields(HOIMotion) if f.name != "meta")


def empty_graph(num_frames: int) -> dict[str, np.ndarray]:
    """An interaction graph with no edges (K = 0) for ``num_frames`` frames."""
    return {"ig_body": np.zeros(0, np.int64), "ig_body_offset": np.zeros((0, 3), np.float32),
            "ig_obj_point": np.zeros((0, 3), np.float32), "ig_active": np.zeros((num_frames, 0), bool)}


def make_motion(meta: dict, *, root_pos: np.ndarray, root_quat: np.ndarray, dof_pos: np.ndarray,
                body_pos: np.ndarray, body_quat: np.ndarray, obj_pos: np.ndarray, obj_quat: np.ndarray,
                contact_label: np.ndarray, skeleton_offsets: np.ndarray, obj_vertices: np.ndarray,
                obj_faces: np.ndarray, graph: dict[str, np.ndarray] | None = None) -> HOIMotion:
    """Build a ``HOIMotion`` from poses, filling every velocity with :func:`compute_velocities`.

    Shapes as in :class:`HOIMotion`; ``meta`` must hold ``fps``. ``graph`` holds the four ``ig_*`` arrays
    (default: no edges). Arrays are copied and cast to the schema dtypes.
    """
    from hoi_sim.motions.velocity import compute_velocities

    if "fps" not in meta or not float(meta["fps"]) > 0:
        raise InputError("motion meta needs a positive 'fps'")
    poses = {"root_pos": root_pos, "root_quat": root_quat, "dof_pos": dof_pos, "body_pos": body_pos,
             "body_quat": body_quat, "obj_pos": obj_pos, "obj_quat": obj_quat}
    poses = {k: np.asarray(v, np.float32) for k, v in poses.items()}
    vel = compute_velocities(float(meta["fps"]), **poses)
    graph = graph if graph is not None else empty_graph(poses["root_pos"].shape[0])
    arrays = {**poses, **vel, **graph, "contact_label": contact_label, "skeleton_offsets": skeleton_offsets,
              "obj_vertices": obj_vertices, "obj_faces": obj_faces}
    arrays = {k: np.array(arrays[k], dtype=ARRAY_SPECS[k][1], order="C", copy=True) for k in ARRAY_NAMES}
    return HOIMotion(meta=dict(meta), **arrays)


def synthetic_motion(num_frames: int = 40, fps: float = 30.0, seed: int = 0) -> HOIMotion:
    """A small valid motion for tests and demos: smooth sinusoidal hinge angles on the neutral skeleton, a walking
    root, a 0.4 m box carried in front of the pelvis, both hands labelled +1 in the middle third, and the
    interaction graph built from those labels. Deterministic for a seed."""
    import torch
    import trimesh

    from hoi_sim import rotations as rot
    from hoi_sim.humanoid.kinematics import forward_kinematics
    from hoi_sim.motions.graph import graph_from_contacts
    from hoi_sim.skeleton import BODY_INDEX, HANDS, neutral_offsets

    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)[:, None] / fps
    amp, freq, phase = rng.uniform(0.05, 0.4, NUM_DOFS), rng.uniform(0.2, 1.0, NUM_DOFS), rng.uniform(0, 6, NUM_DOFS)
    dof_pos = amp * np.sin(2 * np.pi * freq * t + phase)
    root_pos = np.concatenate([0.8 * t, 0.1 * np.sin(t), 0.9 + 0.02 * np.cos(3 * t)], axis=1)
    yaw = 0.3 * t[:, 0]
    root_quat = np.stack([np.cos(yaw / 2), 0 * yaw, 0 * yaw, np.sin(yaw / 2)], axis=1)
    offsets = neutral_offsets()
    f64 = torch.float64
    bp, bq = forward_kinematics(torch.as_tensor(root_pos, dtype=f64), torch.as_tensor(root_quat, dtype=f64),
                                torch.as_tensor(dof_pos, dtype=f64), offsets)
    obj_quat = torch.as_tensor(root_quat, dtype=f64)
    obj_pos = torch.as_tensor(root_pos, dtype=f64) + rot.quat_rotate(
        obj_quat, torch.tensor([0.45, 0.0, 0.1], dtype=f64).expand(num_frames, 3))
    box = trimesh.creation.box(extents=(0.4, 0.4, 0.4))
    label = np.zeros((num_frames, NUM_BODIES), np.int8)
    label[:, 0] = -1
    third = num_frames // 3
    label[third:2 * third, [BODY_INDEX[n] for n in HANDS]] = 1
    vertices = np.asarray(box.vertices) - np.asarray(box.vertices).mean(axis=0)
    graph = graph_from_contacts(label, bp.numpy(), bq.numpy(), obj_pos.numpy(), obj_quat.numpy(), vertices,
                                np.asarray(box.faces))
    meta = {"fps": float(fps), "name": f"synthetic_{seed}", "object_name": "box", "mass_mode": "dynamic",
            "source": "synthetic", "action": "carry", "subject": "neutral", "provenance": {"seed": seed},
            "skeleton": {"source": "neutral"}}
    return make_motion(meta, root_pos=root_pos, root_quat=root_quat, dof_pos=dof_pos, body_pos=bp.numpy(),
                       body_quat=bq.numpy(), obj_pos=obj_pos.numpy(), obj_quat=obj_quat.numpy(), contact_label=label,
                       skeleton_offsets=offsets, obj_vertices=vertices, obj_faces=np.asarray(box.faces),
                       graph=graph)
