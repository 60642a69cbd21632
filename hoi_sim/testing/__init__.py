"""Test helpers shipped with the package (synthetic stand-ins for licensed data, e.g. a fake SMPL-X model file)."""
