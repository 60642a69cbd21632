"""Reconstruction: annotation-session ingest, 4DHOISolver (stage 1, stage 2, post), outputs, synthetic sessions.

The typed solver input lives in :mod:`hoi_sim.recon.types`; ingest in :mod:`hoi_sim.recon.ingest`; the
reconstructed sequence file in :mod:`hoi_sim.recon.sequence`. Submodules are imported lazily by their users.
"""

from hoi_sim.recon.types import MIN_DOF, ObjectMesh, SmplxParams, SolverInput

__all__ = ["MIN_DOF", "ObjectMesh", "SmplxParams", "SolverInput"]
