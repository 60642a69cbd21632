"""Reconstruction: annotation-session ingest, 4DHOISolver (stage 1, stage 2, post), outputs, and the files of
synthetic sessions (made from a motion by :mod:`hoi_sim.bridge.synth`: recon never imports ``hoi_sim.motions``).

The typed solver input lives in :mod:`hoi_sim.recon.types`; ingest in :mod:`hoi_sim.recon.ingest`; the
reconstructed sequence file in :mod:`hoi_sim.recon.sequence`. Submodules are imported lazily by their users.
"""

from hoi_sim.recon.types import MIN_DOF, ObjectMesh, SmplxParams, SolverInput

__all__ = ["MIN_DOF", "ObjectMesh", "SmplxParams", "SolverInput"]
