"""One module per ``hoi-sim`` command; see ``hoi_sim.cli``."""
