"""The MuJoCo backend's models: one scene per asset group (skeleton + object), all with one ``MjData`` layout.

Per-env assets on the CPU backend run simulation i on the model of env i's asset group
(``mujoco.batch.Batch.set_models``), which needs every group's model to give ``MjData`` the same sizes. What a
skeleton changes (bone offsets, geom sizes, masses) does not change them; an object does, by its number of hull
geoms and by its meshes' bounding-volume trees (``bvh_active`` has one entry per node, and a mesh of F faces has
2F − 1 nodes). So with two or more groups every object body is padded to the same geom count and node count:

* up to the largest hull count with 1 mm tetrahedra, and then by one **filler** cone whose face count makes up
  the node difference. Padding geoms sit at the centroid of the object's first hull (inside it), collide with
  nothing (``contype = conaffinity = 0``), are invisible and weigh ~1e-12 kg (density 1e-3 kg/m³).
* The number of meshes is then equal, so the groups' node counts have the same parity and one cone always fits.

A single group is built exactly as before (no padding): its results stay bit-identical.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, fields

import mujoco
import numpy as np

from hoi_sim.errors import InputError
from hoi_sim.objects.hulls import ConvexHull
from hoi_sim.objects.mass import ObjectMass
from hoi_sim.sim.config import SimConfig
from hoi_sim.sim.scene import OBJECT_BODY, SceneIndex, build_scene_spec
from hoi_sim.skeleton import BODY_NAMES

PAD_SIZE_M = 1e-3
PAD_DENSITY = 1e-3


@functools.cache
def _netforce_intprm() -> tuple[int, ...]:
    """``sensor_intprm`` of a contact sensor with ``data="force" reduce="netforce" num="1"``, read from MuJoCo's
    own XML compiler (the enum behind ``reduce`` has no Python name)."""
    xml = ('<mujoco><worldbody><body name="a"><freejoint/><geom size=".1"/></body></worldbody><sensor>'
           '<contact body1="a" data="force" reduce="netforce" num="1"/></sensor></mujoco>')
    return tuple(int(x) for x in mujoco.MjModel.from_xml_string(xml).sensor_intprm[0])


def add_contact_sensors(spec: mujoco.MjSpec) -> None:
    """Append two contact sensors per humanoid body (``BODY_NAMES`` order): net force with the object body, then
    net force with anything; each gives 3 numbers (world frame, exerted by the humanoid body on the other side),
    so ``sensordata`` reads as ``[52, 2, 3]``."""
    prm = _netforce_intprm()
    for name in BODY_NAMES:
        for other in (OBJECT_BODY, None):
            s = spec.add_sensor()
            s.name = f"contact_{'object' if other else 'any'}_{name}"
            s.type = mujoco.mjtSensor.mjSENS_CONTACT
            s.objtype = mujoco.mjtObj.mjOBJ_BODY
            s.objname = name
            if other is not None:
                s.reftype = mujoco.mjtObj.mjOBJ_BODY
                s.refname = other
            s.intprm[:len(prm)] = prm


@dataclass(frozen=True)
class SceneAssets:
    """What one asset group simulates: bone offsets [52,3] (None: neutral), object hulls (None: a 30 cm box), the
    motion's mass mode (with ``cfg.mass_mode == "fixed"``) and a label for messages."""

    offsets: np.ndarray | None = None
    hulls: list[ConvexHull] | None = None
    motion_mass_mode: str = "dynamic"
    label: str = "scene"


@dataclass
class GroupModel:
    """One group's compiled scene: ``model`` (no sensors), ``sensed`` (+ the contact sensors: what the batch
    runs), the resolved object ``mass`` and the ``index``."""

    model: mujoco.MjModel
    sensed: mujoco.MjModel
    mass: ObjectMass
    index: SceneIndex


def _add_cone(spec: mujoco.MjSpec, name: str, center: np.ndarray, faces: int) -> None:
    """A padding geom on the object body: an open cone of ``faces`` triangles, PAD_SIZE_M across (module doc)."""
    ang = np.linspace(0.0, 2.0 * np.pi, faces, endpoint=False)
    ring = np.c_[np.cos(ang), np.sin(ang), np.zeros(faces)]
    v = center + PAD_SIZE_M * np.vstack([[0.0, 0.0, 1.0], ring])
    f = np.array([[0, 1 + (i + 1) % faces, 1 + i] for i in range(faces)], np.int32)
    mesh = spec.add_mesh()
    mesh.name = name
    mesh.uservert = v.reshape(-1).tolist()
    mesh.userface = f.reshape(-1).tolist()
    mesh.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_CONVEX
    geom = spec.body(OBJECT_BODY).add_geom()
    geom.name = name
    geom.type = mujoco.mjtGeom.mjGEOM_MESH
    geom.meshname = name
    geom.contype = geom.conaffinity = 0
    geom.density = PAD_DENSITY
    geom.rgba = [0.0, 0.0, 0.0, 0.0]


def _spec(a: SceneAssets, cfg: SimConfig, num_hulls: int, filler_faces: int) -> tuple[mujoco.MjSpec, ObjectMass]:
    spec, mass = build_scene_spec(a.offsets, a.hulls, cfg, motion_mass_mode=a.motion_mass_mode)
    hulls = a.hulls or []
    center = np.asarray(hulls[0].vertices, np.float64).mean(0) if hulls else np.zeros(3)
    for i in range(max(1, len(hulls)), num_hulls):
        _add_cone(spec, f"object_pad_{i}", center, 3)
    if filler_faces:
        _add_cone(spec, "object_pad_fill", center, filler_faces)
    return spec, mass


def _compile(spec: mujoco.MjSpec, label: str) -> mujoco.MjModel:
    try:
        return spec.compile()
    except ValueError as e:
        raise InputError(f"cannot compile the scene of {label}: {e}") from e


def build_group_models(assets: Sequence[SceneAssets], cfg: SimConfig) -> list[GroupModel]:
    """One :class:`GroupModel` per asset group; with two or more, padded to one ``MjData`` layout (module doc)
    and checked to share one :class:`SceneIndex` (else ``InputError`` naming the group and why)."""
    if not assets:
        raise InputError("no asset group to build")
    k = max(max(1, len(a.hulls or [])) for a in assets) if len(assets) > 1 else 0
    nodes = [_compile(_spec(a, cfg, k, 0)[0], a.label).nbvh for a in assets] if len(assets) > 1 else [0]
    out: list[GroupModel] = []
    for a, n in zip(assets, nodes):
        gap = max(nodes) - n
        if gap % 2:
            raise InputError(f"{a.label}: its scene cannot share the batch's data layout (bounding-volume "
                             f"nodes {n} vs {max(nodes)})")
        spec, mass = _spec(a, cfg, k, 3 + gap // 2 if len(assets) > 1 else 0)
        model = _compile(spec, a.label)
        add_contact_sensors(spec)
        out.append(GroupModel(model, _compile(spec, a.label), mass, SceneIndex.from_model(model)))
    for a, g in zip(assets[1:], out[1:]):
        why = _index_difference(out[0].index, g.index)
        if why:
            raise InputError(f"{a.label} cannot be simulated with {assets[0].label}: their scenes differ in {why}")
    return out


def _index_difference(a: SceneIndex, b: SceneIndex) -> str:
    """The first field of two scene indices that differs ('' when equal)."""
    for f in fields(SceneIndex):
        if not np.array_equal(np.asarray(getattr(a, f.name)), np.asarray(getattr(b, f.name))):
            return f.name
    return ""
