"""The DeepLense-exact presets equal DeepLenseSim's recipe, written with plain lenstronomy.

tests/simulate/deeplense_reference.py reproduces DeepLenseSim (mwt5345/DeepLenseSim,
deeplense/lens.py) bit for bit under lenstronomy 1.9.2; here each preset's image of a scene is
compared with the reference image of the same scene (the same drawn values: source centre,
axion mass and vortex angle, subhalo masses and positions, exposure time, noise draws).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from darklens.simulate import load_sim_config
from darklens.simulate.cosmology import sigma_crit_angle
from darklens.simulate.render import Renderer
from darklens.simulate.scene import build_scene, sample_values, streams
from tests.simulate import deeplense_reference as ref

PRESETS = Path(__file__).parents[2] / "configs" / "sim" / "deeplense"
CASES = [(m, k) for m in (1, 2, 3) for k in ("no_sub", "cdm", "axion")]


def _reference_params(model, kind, cfg, scene):
    """The reference's drawn values for a darklens scene."""
    v = scene.values
    params = {"source_x": v["source_x"], "source_y": v["source_y"]}
    if model == 1:
        params["exp_time"] = v["exposure_time"]
    if kind == "axion":
        params["axion_mass"] = 10.0 ** v["log10_m_axion"]
        params["vortex_angle"] = v["vortex_angle"]
    if kind == "cdm":
        kw = scene.deflector.keywords
        # darklens' subhalo masses are DeepLense's times (the preset's m_min / 1e6)
        mass = kw["m_k"] * sigma_crit_angle(v["z_lens"], v["z_source"])
        params["sub_masses"] = mass / (cfg.sub_options.m_min / 1e6)
        params["sub_r"] = np.hypot(kw["xc"], kw["yc"])
        params["sub_theta"] = np.arctan2(kw["xc"], kw["yc"])  # DeepLense: x = r sin(theta)
    return params


@pytest.mark.parametrize(("model", "kind"), CASES)
def test_preset_images_equal_the_deeplense_recipe(model, kind):
    cfg = load_sim_config(PRESETS / f"model{model}_{kind}.yaml")
    renderer = Renderer(cfg)
    for index in range(2):
        rng_params, rng_sub, rng_noise = streams(cfg.seed, index)
        scene = build_scene(cfg, sample_values(cfg, rng_params), rng_sub)
        params = _reference_params(model, kind, cfg, scene)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # astropy deprecations inside lenstronomy
            if model == 1:
                noise_rng = np.random.Generator(np.random.PCG64([cfg.seed, index, 2]))
                expected = ref.model1_image(kind, params, rng=noise_rng)
                model_image = ref.model1_image(kind, params, noise="none")
            else:
                extra = {"band": "WFC3_F160W"} if model == 3 else {}
                expected = ref.deeplense_image(model, kind, params, **extra)
                model_image = expected / 2
        ours = renderer.render(scene, rng_noise)
        # measured: the models agree to ~1e-14 of the peak, the Model I counts exactly
        np.testing.assert_allclose(renderer.model_image(scene), model_image, rtol=1e-9,
                                   atol=1e-11 * model_image.max())
        if model == 1:  # the same noise draws give the same counts
            np.testing.assert_array_equal(ours, expected)
        else:
            np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-7 * expected.max())


def test_deeplense_model1_noise_has_the_doubled_variance_and_clipped_floor():
    from darklens.simulate.noise import deeplense_model1_noise

    rng = np.random.default_rng(0)
    t, rms, level = 2000.0, 0.01, 0.2
    counts = deeplense_model1_noise(np.full((400, 400), level), t, rms, rng)
    assert np.all(counts == np.round(counts)) and counts.min() >= 0
    # Gaussian approximation of Poisson, then Poisson: variance 2 t I + t^2 sigma_b^2 counts
    assert counts.var() == pytest.approx(2 * t * level + (t * rms) ** 2, rel=0.03)
    empty = deeplense_model1_noise(np.zeros((400, 400)), t, rms, rng)
    assert empty.mean() == pytest.approx(t * rms / np.sqrt(2 * np.pi), rel=0.03)  # clip at 0
