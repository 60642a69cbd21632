"""Motions: the ``HOIMotion`` record and its ``.npz`` file, velocities, validation, InterMimic converters, and clip
selection (``hoi_sim.motions.manifest``: manifests, action subsets, ``load_clip``)."""

from hoi_sim.motions.intermimic import from_intermimic, read_intermimic, to_intermimic
from hoi_sim.motions.io import load_motion, read_meta, save_motion
from hoi_sim.motions.schema import ARRAY_NAMES, ARRAY_SPECS, KIND, SCHEMA_VERSION, HOIMotion, make_motion
from hoi_sim.motions.validate import ValidationError, assert_valid, validate_motion
from hoi_sim.motions.velocity import compute_velocities

__all__ = [
    "ARRAY_NAMES", "ARRAY_SPECS", "KIND", "SCHEMA_VERSION", "HOIMotion", "ValidationError", "assert_valid",
    "compute_velocities", "from_intermimic", "load_motion", "make_motion", "read_intermimic", "read_meta",
    "save_motion", "to_intermimic", "validate_motion",
]
