"""Multi-plane ray tracing against lenstronomy's full MultiPlane on a small case."""

from __future__ import annotations

import numpy as np
from lenstronomy.LensModel.lens_model import LensModel

from darklens.simulate.cosmology import cosmology
from darklens.simulate.multiplane import ray_shoot

Z_SOURCE = 1.5


def _planes():
    """An SIE at z = 0.5, a foreground and a background NFW, and a point mass."""
    models = ["SIE", "NFW", "NFW", "POINT_MASS"]
    z = [0.5, 0.2, 0.9, 0.5]
    kwargs = [
        {"theta_E": 1.1, "e1": 0.1, "e2": -0.05, "center_x": 0.02, "center_y": 0.0},
        {"Rs": 0.3, "alpha_Rs": 0.05, "center_x": 0.6, "center_y": -0.4},
        {"Rs": 0.2, "alpha_Rs": 0.08, "center_x": -0.7, "center_y": 0.5},
        {"theta_E": 0.1, "center_x": 1.0, "center_y": 0.3},
    ]
    return models, z, kwargs


def test_ray_shooting_matches_lenstronomy_multiplane():
    models, z, kwargs = _planes()
    full = LensModel(models, z_source=Z_SOURCE, lens_redshift_list=z, multi_plane=True,
                     z_source_convention=Z_SOURCE, cosmo=cosmology(70.0, 0.3))
    by_z = {}
    for name, zi, kw in zip(models, z, kwargs, strict=True):
        by_z.setdefault(zi, []).append((name, kw))

    def plane(items):
        model = LensModel([name for name, _ in items])
        return lambda x, y: model.alpha(x, y, [kw for _, kw in items])

    planes = [(zi, plane(items)) for zi, items in by_z.items()]
    x, y = np.meshgrid(np.linspace(-2, 2, 41), np.linspace(-2, 2, 41))
    bx, by = ray_shoot(x.ravel(), y.ravel(), planes, Z_SOURCE, 70.0, 0.3)
    ex, ey = full.ray_shooting(x.ravel(), y.ravel(), kwargs)
    assert np.max(np.hypot(bx - ex, by - ey)) < 1e-6


def test_one_plane_is_the_single_plane_lens_equation():
    model = LensModel(["SIE"])
    kw = [{"theta_E": 1.0, "e1": 0.1, "e2": 0.0, "center_x": 0.0, "center_y": 0.0}]
    x, y = np.meshgrid(np.linspace(-2, 2, 11), np.linspace(-2, 2, 11))
    bx, by = ray_shoot(x, y, [(0.5, lambda u, v: model.alpha(u, v, kw))], Z_SOURCE, 70.0, 0.3)
    ex, ey = model.ray_shooting(x, y, kw)
    np.testing.assert_allclose(bx, ex, atol=1e-10)
    np.testing.assert_allclose(by, ey, atol=1e-10)
