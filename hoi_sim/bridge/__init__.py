"""Where reconstruction meets motions: the one package that imports both ``hoi_sim.recon`` and ``hoi_sim.motions``
(which never import each other; docs/architecture.md).

* ``hoi_sim.bridge.solver_motion``: solver outputs (a ``HOISequence`` file, Open4DHOI ``all_parameters_*.json``)
  retargeted to ``HOIMotion`` (``hoi-sim convert``).
* ``hoi_sim.bridge.synth``: a ``HOIMotion`` → a synthetic annotation session with ground truth (``hoi-sim synth``,
  solver tests and benchmarks).
* ``hoi_sim.bridge.toy``: ``toy_hoi_motion``, a tiny clip of a hand holding an egg-shaped object (tests, demos).
"""
