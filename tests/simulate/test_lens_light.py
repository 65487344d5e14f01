"""Lens light kinds: unit flux, a halo-tied galaxy, and subtraction at simulation time."""

from __future__ import annotations

import numpy as np
import pytest
from lenstronomy.LightModel.light_model import LightModel

from darklens.simulate.config import load_sim_config
from darklens.simulate.samples import render_image
from darklens.simulate.scene import build_scene, sample_values, streams
from tests.conftest import tiny


def _scene(cfg, index=0):
    rng_params, rng_sub, _ = streams(cfg.seed, index)
    return build_scene(cfg, sample_values(cfg, rng_params), rng_sub)


@pytest.mark.parametrize("kind", ["sersic", "double_sersic"])
def test_lens_light_has_the_flux_of_its_magnitude(kind):
    cfg = load_sim_config(tiny("none", lens_light={"kind": kind}))
    scene = _scene(cfg, 2)
    model = LightModel(cfg.lens_light_kind.profiles(cfg.lens_light_options))
    flux = sum(model.total_flux(scene.kwargs_lens_light))
    expected = 10 ** (-0.4 * (scene.values["lens_light_mag"] - cfg.inst.magnitude_zero_point))
    assert flux == pytest.approx(expected, rel=1e-6)


def test_a_tied_lens_galaxy_is_brighter_and_larger_for_a_heavier_halo():
    cfg = load_sim_config(tiny("none", n=200, lens_light={"kind": "double_sersic", "tied": True},
                               params={"log10_halo_mass": {"uniform": [10.5, 12.0]}}))
    assert "lens_light_mag" not in cfg.sampled_names()
    assert {"lens_light_mag", "lens_light_r_eff"} <= set(cfg.stored_names())
    rows = [_scene(cfg, i).values for i in range(200)]
    mass = np.array([r["log10_halo_mass"] for r in rows])
    mag = np.array([r["lens_light_mag"] for r in rows])
    size = np.array([r["lens_light_r_eff"] for r in rows])
    assert np.corrcoef(mass, mag)[0, 1] < -0.5 and np.corrcoef(mass, size)[0, 1] > 0.3
    # z = 0.5 lens galaxies of sigma ~ 150-350 km/s: V ~ 18-22 mag, R_e ~ 0.2-2 arcsec
    assert 17 < np.median(mag) < 23 and 0.2 < np.median(size) < 2.0


def test_subtracted_lens_light_leaves_the_lensed_source():
    light = {"kind": "double_sersic"}
    with_light = load_sim_config(tiny("none", noise=False, lens_light=dict(light, subtract=True)))
    image, values = render_image(with_light, index=4)
    no_light = load_sim_config(tiny("none", noise=False))
    alone, _ = render_image(no_light, {k: values[k] for k in no_light.sampled_names()}, index=4)
    np.testing.assert_allclose(image, alone, atol=1e-5 * alone.max())
    full, _ = render_image(load_sim_config(tiny("none", noise=False, lens_light=light)), index=4)
    assert (full - image).max() > 0.1 * alone.max()
