"""Convex hull cache (no coacd run) and object mass rules."""

from __future__ import annotations

import numpy as np
import pytest

from hoi_sim.errors import InputError
from hoi_sim.objects import hulls as H
from hoi_sim.objects.mass import hull_volumes, resolve_object_mass


def _l_shape() -> list[H.ConvexHull]:
    return [H.box_hull((0.2, 0.05, 0.05), (0.0, 0.0, 0.0)), H.box_hull((0.05, 0.05, 0.2), (0.15, 0.0, 0.25))]


def test_box_hull_is_closed_and_outward() -> None:
    h = H.box_hull((0.1, 0.2, 0.3), (1.0, 0.0, 0.0))
    v, f = h.vertices, h.faces
    c = v.mean(0)
    normals = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    assert ((normals * (v[f].mean(1) - c)).sum(1) > 0).all()
    # divergence theorem volume
    vol = np.einsum("ij,ij->i", v[f[:, 0]], np.cross(v[f[:, 1]], v[f[:, 2]])).sum() / 6
    assert vol == pytest.approx(0.2 * 0.4 * 0.6)


def test_cache_roundtrip_and_hit(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HOI_SIM_CACHE", str(tmp_path))
    assert H.cache_dir() == tmp_path / "hulls"
    verts, faces = H.hulls_to_mesh(_l_shape())
    calls = []

    def fake_coacd(v, f, *a):
        calls.append(1)
        return _l_shape()

    monkeypatch.setattr(H, "_run_coacd", fake_coacd)
    first = H.convex_hulls(verts, faces)
    second = H.convex_hulls(verts, faces)
    assert len(calls) == 1 and len(second) == 2
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.vertices, b.vertices)
        np.testing.assert_array_equal(a.faces, b.faces)
    assert H.cached_hulls_path(verts, faces).is_file()
    H.convex_hulls(verts, faces, max_hulls=8)  # other parameters → other key
    assert len(calls) == 2


def test_load_rejects_bad_file(tmp_path) -> None:
    p = tmp_path / "x.npz"
    np.savez(p, schema_version=np.int64(99))
    with pytest.raises(InputError):
        H.load_hulls(p)


def test_mass_rules() -> None:
    hl = _l_shape()
    vol = hull_volumes(hl).sum()
    assert vol == pytest.approx(0.4 * 0.1 * 0.1 + 0.1 * 0.1 * 0.4)
    d = resolve_object_mass(hl)
    assert d.mass == pytest.approx(1000 * vol) and d.density == 1000
    s = resolve_object_mass(hl, mass_mode="fixed", motion_mass_mode="static")
    assert s.mass == 10000 and s.density == pytest.approx(10000 / vol)
    y = resolve_object_mass(hl, mass_mode="fixed", motion_mass_mode="dynamic")
    assert y.mass == 0.5
    with pytest.raises(InputError):
        resolve_object_mass(hl, mass_mode="heavy")
