"""Object assets: mesh loading and centring, surface point clouds (``mesh``); convex hulls live in ``hulls``."""

from hoi_sim.objects.mesh import SURFACE_POINTS, SURFACE_SEED, ObjectMesh, find_mesh, load_mesh, surface_points

__all__ = ["SURFACE_POINTS", "SURFACE_SEED", "ObjectMesh", "find_mesh", "load_mesh", "surface_points"]
