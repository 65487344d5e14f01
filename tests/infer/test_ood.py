"""Out-of-distribution checks: the stated false-alarm rate, and what they catch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from darklens.data.catalog import read_columns, read_images
from darklens.errors import DarklensError
from darklens.infer.ood import fit_ood, fit_predictor_ood, image_stats
from darklens.infer.paths import predict_paths
from darklens.infer.predict import Predictor
from darklens.simulate import run
from tests.conftest import tiny
from tests.infer.conftest import export

TARGET = "log10_halo_mass"


def test_feature_threshold_gives_the_stated_false_alarm_rate():
    rng = np.random.default_rng(0)
    cov = np.diag(np.linspace(0.5, 3.0, 16))
    train = rng.multivariate_normal(np.zeros(16), cov, 4000)
    fresh = rng.multivariate_normal(np.zeros(16), cov, 20000)
    stats = rng.normal(size=(4000, 3))
    model = fit_ood(train, stats, {TARGET: rng.uniform(11, 12, 4000)}, false_alarm=0.01)
    rate = np.mean(model.distance(fresh) > model.threshold)
    assert 0.005 < rate < 0.02  # 1 % stated; the threshold comes from 2000 held-out images
    shifted = fresh[:1000] + 2.0 * np.sqrt(np.diag(cov))  # 2 sigma in every feature
    assert np.mean(model.distance(shifted) > model.threshold) > 0.99
    with pytest.raises(DarklensError, match="needs >= 100 images, got 50"):
        fit_ood(train[:50], stats[:50], {})


def _images(path):
    x = read_images([path])
    return x[:, None] if x.ndim == 3 else x


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A model (random weights: the checks need no training to be fitted) with checks fitted
    on 1200 simulated lenses (as at export, on a validation set of ~1000), and 300 fresh
    lenses of the same distribution."""
    d = tmp_path_factory.mktemp("ood")
    cfg = tiny(n=1500)
    data = run(cfg, out=d / "in.h5", progress=False)
    images = _images(data)
    predictor = Predictor([export(d / "m", pixel_scale=0.08)])
    truth = {TARGET: read_columns([data], [TARGET])[:1200, 0]}
    predictor.ood = fit_predictor_ood(predictor, images[:1200], truth)
    return predictor, images[1200:], d


def _flagged(predictor, images) -> float:
    reasons = predictor.ood.flags(predictor.features(images), image_stats(images),
                                  {TARGET: np.full(len(images), 11.2)})
    return float(np.mean([bool(r) for r in reasons]))


def test_lenses_of_the_training_distribution_are_rarely_flagged(fitted):
    predictor, fresh, _ = fitted
    assert _flagged(predictor, fresh) <= 0.03  # 1 % per check stated; 300 images


def test_noise_unlensed_galaxies_and_other_instruments_are_flagged(fitted):
    from lenstronomy.LightModel.light_model import LightModel

    predictor, fresh, d = fitted
    rng = np.random.default_rng(1)
    stats = image_stats(fresh)
    background, noise = np.median(stats[:, 0]), np.median(stats[:, 1])
    pure_noise = background + noise * rng.standard_normal((100, 1, 32, 32))
    assert _flagged(predictor, pure_noise.astype(np.float32)) == 1.0
    axis = (np.arange(32) - 15.5) * 0.08
    xx, yy = np.meshgrid(axis, axis)
    galaxies = []
    for flux in rng.choice(stats[:, 2], 100):  # the lenses' own fluxes, background and noise
        g = LightModel(["SERSIC_ELLIPSE"]).surface_brightness(xx.ravel(), yy.ravel(), [{
            "amp": 1.0, "R_sersic": rng.uniform(0.2, 0.5), "n_sersic": rng.uniform(1, 4),
            "e1": rng.uniform(-0.2, 0.2), "e2": rng.uniform(-0.2, 0.2), "center_x": 0.0,
            "center_y": 0.0}]).reshape(32, 32)
        galaxies.append(g * flux / g.sum() + background + noise * rng.standard_normal(g.shape))
    assert _flagged(predictor, np.array(galaxies, np.float32)[:, None]) >= 0.8
    seeing = _images(run(tiny(n=100, seed=8, instrument={"psf_fwhm": 0.6}),
                         out=d / "seeing.h5", progress=False))
    assert _flagged(predictor, seeing) >= 0.3
    # another instrument's cutout says so in its header: refused, not predicted
    euclid = _images(run(tiny(n=2, seed=9, instrument={"base": "euclid-vis", "num_pix": 32}),
                         out=d / "euclid.h5", progress=False))
    folder = d / "euclid"
    folder.mkdir()
    fits.PrimaryHDU(euclid[0, 0], header=fits.Header({"PIXSCALE": 0.101})
                    ).writeto(folder / "e.fits")
    summary = predict_paths(predictor, [folder], d / "e.csv", progress=False)
    assert summary.n_ok == 0 and "pixel scale 0.101\"" in pd.read_csv(d / "e.errors.csv")[
        "reason"][0]
