"""hoi_sim: physics-based imitation of human-object interaction (Open4DHOI + InterMimic-style simulation)."""

__version__ = "0.1.0"
