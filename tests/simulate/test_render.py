"""Rendering against plain lenstronomy, flux conservation and the noise model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from lenstronomy.Data.imaging_data import ImageData
from lenstronomy.Data.psf import PSF
from lenstronomy.ImSim.image_model import ImageModel
from lenstronomy.LensModel.lens_model import LensModel
from lenstronomy.LightModel.light_model import LightModel

from darklens.simulate.config import load_sim_config
from darklens.simulate.noise import add_noise
from darklens.simulate.render import Renderer
from darklens.simulate.scene import build_scene, sample_values, streams
from tests.conftest import tiny


def _scene(cfg, index=0, **fixed):
    rng_params, rng_sub, _ = streams(cfg.seed, index)
    values = sample_values(cfg, rng_params)
    values.update(fixed)
    return build_scene(cfg, values, rng_sub)


def _reference_image(cfg, lens_models, kwargs_lens, scene):
    """The same scene made by lenstronomy alone, ImageModel built the usual way."""
    inst, n = cfg.inst, cfg.inst.num_pix
    half = (n - 1) / 2 * inst.pixel_scale
    data = ImageData(image_data=np.zeros((n, n)), ra_at_xy_0=-half, dec_at_xy_0=-half,
                     transform_pix2angle=np.eye(2) * inst.pixel_scale)
    model = ImageModel(
        data, PSF(psf_type="GAUSSIAN", fwhm=inst.psf_fwhm, truncation=5),
        lens_model_class=LensModel(lens_models),
        source_model_class=LightModel(["SERSIC_ELLIPSE"]),
        lens_light_model_class=LightModel(cfg.lens_light_kind.profiles(cfg.lens_light_options)),
        kwargs_numerics={"supersampling_factor": cfg.supersampling,
                         "supersampling_convolution": cfg.supersampling_convolution},
    )
    return model.image(kwargs_lens, scene.kwargs_source,
                       kwargs_lens_light=scene.kwargs_lens_light or None,
                       lens_light_add=bool(scene.kwargs_lens_light))


@pytest.mark.parametrize("lens_light", [False, True])
def test_smooth_scene_equals_lenstronomy_image_model(lens_light):
    cfg = load_sim_config(tiny(lens_light=lens_light, params={"shear_gamma": 0.04}))
    renderer = Renderer(cfg)
    for index in range(3):
        scene = _scene(cfg, index)
        ours = renderer.model_image(scene)
        ref = _reference_image(cfg, ["SIE", "SHEAR"], scene.kwargs_lens, scene)
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-12 * ref.max())
        assert ours.max() > 0


def test_point_mass_subhalos_equal_lenstronomy_one_profile_each():
    cfg = load_sim_config(tiny("cdm", substructure={"profile": "point_mass"},
                               params={"f_sub": 0.05}))
    scene = _scene(cfg, 2)
    centres = scene.deflector.keywords
    n = len(centres["m_k"])
    assert n == scene.values["n_subhalos"] > 0
    kwargs_pm = [{"theta_E": np.sqrt(m / np.pi), "center_x": x, "center_y": y}
                 for m, x, y in zip(centres["m_k"], centres["xc"], centres["yc"], strict=True)]
    # the compensating sheet is a disc of radius r_max = 2" around the halo, which covers this
    # 2.56" field: inside it, it is lenstronomy's uniform CONVERGENCE sheet
    sheet = scene.compensation.keywords
    assert sheet["radius"] == 2.0 and np.hypot(1.28, 1.28) < 2.0
    assert sheet["kappa"] * np.pi * 4.0 == pytest.approx(-centres["m_k"].sum(), rel=1e-12)
    kwargs_sheet = {"kappa": sheet["kappa"], "ra_0": sheet["xc"], "dec_0": sheet["yc"]}
    ref = _reference_image(cfg, ["SIE", "SHEAR", "CONVERGENCE"] + ["POINT_MASS"] * n,
                           scene.kwargs_lens + [kwargs_sheet] + kwargs_pm, scene)
    ours = Renderer(cfg).model_image(scene)
    np.testing.assert_allclose(ours, ref, rtol=1e-7, atol=1e-9 * ref.max())
    smooth = Renderer(cfg).model_image(
        dataclasses.replace(scene, deflector=None, compensation=None))
    assert np.abs(ours - smooth).max() > 1e-3 * ours.max()  # the subhalos do change the image


def test_flux_of_unlensed_source_matches_its_magnitude():
    # a negligible halo and no PSF truncation loss: total counts/s = 10^(-0.4 (m - zp))
    cfg = load_sim_config(tiny(
        instrument={"base": "hst-wfc3-f160w", "num_pix": 96},
        params={"log10_halo_mass": 2.0, "source_mag": 22.0, "source_r_eff": 0.2,
                "source_n": 1.0, "source_x": 0.0, "source_y": 0.0, "shear_gamma": 0.0},
        supersampling=4,
    ))
    image = Renderer(cfg).model_image(_scene(cfg))
    expected = 10 ** (-0.4 * (22.0 - cfg.inst.magnitude_zero_point))
    assert image.sum() == pytest.approx(expected, rel=0.01)


def test_lensing_conserves_surface_brightness_not_flux():
    # a strong lens magnifies: more flux than the unlensed source
    cfg = load_sim_config(tiny(params={"source_x": 0.0, "source_y": 0.0}))
    renderer = Renderer(cfg)
    lensed = renderer.model_image(_scene(cfg, log10_halo_mass=11.3)).sum()
    unlensed = renderer.model_image(_scene(cfg, log10_halo_mass=6.0)).sum()
    assert lensed > 2 * unlensed


def test_noise_variance_is_poisson_plus_background():
    rng = np.random.default_rng(3)
    model = np.linspace(0.0, 2.0, 50)[None, :].repeat(4000, axis=0)
    t, rms = 500.0, 0.01
    noisy = add_noise(model, t, rms, rng)
    var = noisy.var(axis=0)
    expected = model[0] / t + rms**2
    # sample variance of 4000 draws is good to ~2.2 % (1 sigma); allow 4 sigma
    np.testing.assert_allclose(var, expected, rtol=0.09)
    assert np.all(np.abs(noisy.mean(axis=0) - model[0]) < 4 * np.sqrt(expected / 4000))


def test_rendered_noise_matches_scene_settings_and_can_be_switched_off():
    cfg = load_sim_config(tiny())
    scene = _scene(cfg)
    clean = Renderer(cfg).model_image(scene)
    quiet = load_sim_config(tiny(noise=False))
    np.testing.assert_allclose(Renderer(quiet).render(scene, np.random.default_rng(0)), clean,
                               rtol=1e-6)
    residual = Renderer(cfg).render(scene, np.random.default_rng(0)) - clean
    corner = residual[:6, :6]  # background-dominated corner
    assert corner.std() == pytest.approx(scene.background_rms, rel=0.35)


def test_the_default_render_is_within_chi2_30_of_16_rays_per_pixel_side():
    # HST depth (the preset's noise), a vortex: sum((image - reference)^2 / sigma^2) over the
    # image; measured on hst_axion: median 0.3, 90th percentile 4.6, max 18.6 over 20 scenes
    # (supersampling 2 without PSF supersampling, the old default: median 3,100)
    base = load_sim_config("configs/sim/hst_axion.yaml")
    assert (base.supersampling, base.supersampling_convolution) == (8, True)
    exact = load_sim_config("configs/sim/hst_axion.yaml", ["supersampling=16"])
    ours, ref = Renderer(base), Renderer(exact)
    for index in range(3):
        scene = _scene(base, index)
        expected = ref.model_image(scene)
        var = np.maximum(expected, 0) / scene.exposure_time + scene.background_rms**2
        assert ((ours.model_image(scene) - expected) ** 2 / var).sum() < 30


@pytest.mark.parametrize("convolution", [True, False])
def test_the_psf_is_applied_at_the_supersampled_resolution(convolution):
    # a point-like source on HST F160W (PSF FWHM = 1 pixel = 0.08"): each pixel must hold the
    # PSF integrated over the pixel, i.e. erf differences of the Gaussian across its edges
    from scipy.special import ndtr

    cfg = load_sim_config(tiny(
        instrument={"base": "hst-wfc3-f160w", "num_pix": 33},
        params={"log10_halo_mass": 2.0, "source_r_eff": 0.002, "source_n": 1.0, "source_q": 1.0,
                "source_x": 0.0, "source_y": 0.0, "shear_gamma": 0.0},
        supersampling=8, supersampling_convolution=convolution))
    image = Renderer(cfg).model_image(_scene(cfg))
    profile = image.sum(axis=0) / image.sum()
    pixel, sigma = 0.08, 0.08 / 2.3548
    edges = (np.arange(34) - 16.5) * pixel
    exact = np.diff(ndtr(edges / sigma))
    x = (np.arange(33) - 16) * pixel

    def fwhm(p):  # Gaussian-equivalent width of a sampled profile
        return 2.3548 * np.sqrt((p * x**2).sum() / p.sum())

    if convolution:
        np.testing.assert_allclose(profile, exact, atol=0.005)  # peak 0.46
        assert fwhm(profile) == pytest.approx(fwhm(exact), rel=0.01)
    else:  # convolving the binned image forgets the pixel's own width: ~20 % too narrow
        assert fwhm(profile) < 0.85 * fwhm(exact)
