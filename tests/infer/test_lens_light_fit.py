"""Fitting and subtracting the lens galaxy's light (``darklens infer --subtract-lens-light``)."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from darklens.cli import main
from darklens.infer.lens_light import COLUMN, fit_lens_light, subtract_lens_light
from darklens.infer.paths import predict_paths
from darklens.infer.predict import Predictor
from darklens.infer.readers import BadInput
from darklens.simulate.samples import as_config, render_image
from tests.infer.conftest import TARGET, Fake, export, meta

SCALE = 0.08  # HST WFC3/F160W, arcsec per pixel
BASE = {"n": 8, "seed": 11, "instrument": "hst-wfc3-f160w", "substructure": {"kind": "none"},
        "supersampling": 4, "noise": False,
        "params": {"z_lens": 0.5, "z_source": 2.0, "log10_halo_mass": 11.3}}
LIGHT = {"lens_light_r_eff": 0.8, "lens_light_n": 4.0, "lens_light_mag": 19.5}


def _pair(index: int):
    """The same noiseless lens with and without its lens galaxy (64x64, 0.08")."""
    with_light = dict(BASE, lens_light=True, params={**BASE["params"], **LIGHT})
    without = dict(BASE, lens_light=False)
    image, values = render_image(with_light, index=index)
    shared = {k: values[k] for k in as_config(without).sampled_names()}
    return image, render_image(without, shared, index=index)[0]


@pytest.fixture(scope="module")
def pairs():
    return [_pair(i) for i in (2, 3, 4)]


def test_subtraction_leaves_the_arcs_and_recovers_the_profile(pairs):
    for image, arcs in pairs:
        start = time.perf_counter()
        model, params = fit_lens_light(image, SCALE)
        took = time.perf_counter() - start
        light = image - arcs
        rms = np.sqrt(np.mean((image - model - arcs) ** 2))
        assert rms < 0.02 * light.max()
        assert params["R_sersic"] == pytest.approx(LIGHT["lens_light_r_eff"], rel=0.2)
        assert params["n_sersic"] == pytest.approx(LIGHT["lens_light_n"], rel=0.2)
        assert abs(params["center_x"]) < SCALE and abs(params["center_y"]) < SCALE
        assert params["fitted"] and 0 < params["masked_fraction"] < 0.6  # the arcs, masked
        assert params["flux"] == pytest.approx(light.sum(), rel=0.1)
        np.testing.assert_allclose(subtract_lens_light(image, SCALE), image - model, atol=1e-5)
        assert took < 2.0


def test_a_psf_and_a_noise_map_are_used(pairs):
    image, arcs = pairs[0]
    rng = np.random.default_rng(0)
    sigma = 0.01
    noisy = image + rng.normal(0, sigma, image.shape).astype(np.float32)
    model, params = fit_lens_light(noisy, SCALE, noise_sigma=np.full(image.shape, sigma),
                                   psf_fwhm=0.08)
    assert params["R_sersic"] == pytest.approx(LIGHT["lens_light_r_eff"], rel=0.2)
    assert params["n_sersic"] == pytest.approx(LIGHT["lens_light_n"], rel=0.2)
    assert np.sqrt(np.mean((noisy - model - arcs) ** 2)) < 0.02 * (image - arcs).max()


def test_each_band_is_fitted_on_its_own(pairs):
    image, _ = pairs[0]
    cube = np.stack([image, 0.5 * image])
    out = subtract_lens_light(cube, SCALE)
    assert out.shape == cube.shape and out.dtype == np.float32
    np.testing.assert_allclose(out[1], subtract_lens_light(0.5 * image, SCALE), atol=1e-5)


def test_blank_images_give_a_zero_model_and_unusable_ones_an_error():
    model, params = fit_lens_light(np.zeros((32, 32)), SCALE)
    assert not model.any() and params["fitted"] is False and params["flux"] == 0.0
    noise = np.random.default_rng(0).normal(0, 1, (32, 32))
    assert not fit_lens_light(noise, SCALE)[0].any()  # no galaxy above the noise
    with pytest.raises(BadInput, match="lens light fit: the image has no finite pixels"):
        fit_lens_light(np.full((32, 32), np.nan), SCALE)
    with pytest.raises(BadInput, match=r"expected a 2-D image .*got shape \(2, 32, 32\)"):
        fit_lens_light(np.ones((2, 32, 32)), SCALE)
    with pytest.raises(BadInput, match="pixel scale 0, expected arcsec > 0"):
        fit_lens_light(np.ones((32, 32)), 0)


def test_infer_subtracts_before_predicting_and_says_so(tmp_path, pairs):
    image, _ = pairs[0]
    np.save(tmp_path / "lens.npy", image)
    predictor = Predictor.from_members([(Fake(0.0, 1.0, corner=True),
                                         meta(shape=(1, 64, 64), pixel_scale=SCALE))])
    s = predict_paths(predictor, [tmp_path / "lens.npy"], tmp_path / "p.csv", progress=False,
                      subtract_lens_light=True)
    table = pd.read_csv(s.paths["table"])
    assert s.n_ok == 1 and table[COLUMN].tolist() == [True]
    # the Fake member predicts the top-left pixel of the image it is given
    expected = subtract_lens_light(image, SCALE)[0, 0]
    assert table[f"{TARGET}_mean"][0] == pytest.approx(expected, rel=1e-5)
    assert expected < 0.9 * image[0, 0]
    plain = predict_paths(predictor, [tmp_path / "lens.npy"], tmp_path / "q.csv",
                          progress=False)
    assert COLUMN not in pd.read_csv(plain.paths["table"]).columns


@pytest.mark.parametrize(("trained", "flag", "words"), [
    (True, False, "trained on images with the lens light subtracted, but the inputs keep"),
    (False, True, "trained on images with the lens light, but --subtract-lens-light takes"),
    (True, True, None),
])
def test_a_mismatch_with_the_training_images_is_one_warning(tmp_path, capsys, trained, flag,
                                                             words):
    model = export(tmp_path / "m", lens_light_subtracted=trained)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(1, 10, (32, 32)))
    args = ["infer", str(model), str(tmp_path / "x.npy"), "--out", str(tmp_path / "p.csv"),
            "-q"] + (["--subtract-lens-light"] if flag else [])
    assert main(args) == 0
    warnings = [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln]
    if words is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and warnings[0].startswith("darklens: warning: ")
        assert words in warnings[0]
