"""Observed cutouts: pixel scale from WCS or keywords, units, resampling, noise maps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from darklens.infer.cutouts import TrainedOn, adapt, noise_flags, pixel_scale
from darklens.infer.paths import predict_paths
from darklens.infer.predict import Predictor
from darklens.infer.readers import BadInput, read_image_parts
from tests.infer.conftest import export

MODEL = TrainedOn(0.08, "counts/s", (32, 32), exposure_range=(2000.0, 3000.0),
                  noise_range=(0.01, 0.03))


def _wcs_header(scale: float, angle_deg: float = 0.0, n: int = 64) -> fits.Header:
    """A TAN header with a CD matrix (rotated by ``angle_deg``), as HST pipelines write."""
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    cd = np.array([[-c, s], [s, c]]) * scale / 3600.0
    header = fits.Header({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 150.0,
                          "CRVAL2": 2.0, "CRPIX1": n / 2, "CRPIX2": n / 2})
    for i in range(2):
        for j in range(2):
            header[f"CD{i + 1}_{j + 1}"] = cd[i, j]
    return header


def _blob(n: int, scale: float, sigma_arcsec: float = 0.3, flux: float = 50.0) -> np.ndarray:
    """A round Gaussian of total ``flux`` (counts/s) integrated over pixels of ``scale``."""
    from scipy.special import erf

    edges = (np.arange(n + 1) - n / 2) * scale / (np.sqrt(2) * sigma_arcsec)
    one = np.diff(erf(edges)) / 2
    return (flux * np.outer(one, one)).astype(np.float32)


def test_pixel_scale_from_a_rotated_cd_matrix_cdelt_or_keywords():
    assert pixel_scale(_wcs_header(0.05, angle_deg=30)) == pytest.approx(0.05)
    cdelt = WCS(naxis=2)
    cdelt.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    cdelt.wcs.cdelt = [-0.1 / 3600, 0.1 / 3600]
    assert pixel_scale(cdelt.to_header()) == pytest.approx(0.1)
    assert pixel_scale({"PIXSCALE": 0.08}) == 0.08
    assert pixel_scale({"OBJECT": "lens"}) is None and pixel_scale(None) is None
    stretched = _wcs_header(0.05)
    stretched["CD2_2"] *= 1.5
    with pytest.raises(BadInput, match="non-square pixels"):
        pixel_scale(stretched)


def test_counts_are_divided_by_exptime_and_other_units_refused():
    image = np.full((32, 32), 300.0, np.float32)
    out, noise = adapt(image, {"BUNIT": "ELECTRONS", "EXPTIME": 600.0}, image / 10, MODEL)
    assert np.allclose(out, 0.5) and np.allclose(noise, 0.05)
    same, _ = adapt(image, {"BUNIT": "electrons/s"}, None, MODEL)
    assert same is image
    with pytest.raises(BadInput, match="no EXPTIME"):
        adapt(image, {"BUNIT": "counts"}, None, MODEL)
    with pytest.raises(BadInput, match="BUNIT 'MJy/sr' is not counts"):
        adapt(image, {"BUNIT": "MJy/sr"}, None, MODEL)


def test_another_pixel_scale_is_refused_or_resampled_with_flux_conserved():
    fine = _blob(64, 0.04)  # 2.56" at 0.04", the model wants 32 px at 0.08"
    header = _wcs_header(0.04, angle_deg=20)
    with pytest.raises(BadInput, match=r"pixel scale 0.04\" differs from the model's 0.08\""):
        adapt(fine, header, None, MODEL)
    out, noise = adapt(fine, header, np.ones_like(fine), MODEL, resample=True)
    assert out.shape == (32, 32) and noise is None
    assert out.sum() == pytest.approx(fine.sum(), rel=2e-3)
    # the same blob integrated directly over the model's pixels (a round blob: rotation-free)
    np.testing.assert_allclose(out, _blob(32, 0.08), atol=2e-3 * out.max())
    with pytest.raises(BadInput, match="cutout covers 1.28\" x 1.28\", the model needs 2.56"):
        adapt(_blob(32, 0.04), _wcs_header(0.04, n=32), None, MODEL, resample=True)


def test_noise_extensions_are_read_and_checked(tmp_path):
    image = _blob(32, 0.08) + 0.02
    path = tmp_path / "cutout.fits"
    fits.HDUList([fits.PrimaryHDU(image, header=fits.Header({"EXPTIME": 2400.0})),
                  fits.ImageHDU(np.full((32, 32), 1 / 0.2**2, np.float32), name="WHT")]
                 ).writeto(path)
    read, header, sigma = read_image_parts(path)
    np.testing.assert_allclose(read, image)
    np.testing.assert_allclose(sigma, 0.2, rtol=1e-6)
    assert header["EXPTIME"] == 2400.0
    assert noise_flags(header, sigma, MODEL) == [
        "noise map sigma 0.2 outside the training noise [0.01, 0.03]"]
    assert noise_flags(header, sigma / 10, MODEL) == []
    assert "EXPTIME 300 s far from the training exposures" in noise_flags(
        {"EXPTIME": 300.0}, None, MODEL)[0]
    bad = tmp_path / "bad.fits"
    fits.HDUList([fits.PrimaryHDU(image), fits.ImageHDU(np.ones((8, 8)), name="ERR")]
                 ).writeto(bad)
    with pytest.raises(BadInput, match=r"ERR extension is \(8, 8\), the image \(32, 32\)"):
        read_image_parts(bad)


def test_infer_resamples_only_when_asked(tmp_path):
    model = export(tmp_path / "m", pixel_scale=0.08)
    folder = tmp_path / "cutouts"
    folder.mkdir()
    fits.PrimaryHDU(_blob(64, 0.04) + 0.5, header=_wcs_header(0.04)).writeto(folder / "a.fits")
    fits.PrimaryHDU(_blob(32, 0.08) + 0.5, header=fits.Header({"PIXSCALE": 0.08})
                    ).writeto(folder / "b.fits")
    plain = predict_paths(Predictor([model]), [folder], tmp_path / "p.csv", progress=False)
    assert (plain.n_ok, plain.n_bad) == (1, 1)
    reason = pd.read_csv(tmp_path / "p.errors.csv")["reason"][0]
    assert "differs from the model's 0.08\" (use --resample)" in reason
    both = predict_paths(Predictor([model]), [folder], tmp_path / "q.csv", resample=True,
                         progress=False)
    assert (both.n_ok, both.n_bad) == (2, 0)


@pytest.mark.parametrize(("noise", "expected"), [(True, [1000.0, 1000.0]), ("none", None)])
def test_exports_record_the_training_exposures_of_noisy_data_only(tmp_path, noise, expected):
    from darklens.data.catalog import dataset_attrs
    from darklens.simulate import run
    from darklens.train.checkpoints import _exposure_range
    from tests.conftest import tiny

    path = run(tiny(n=3, noise=noise, instrument={"exposure_time": 500.0, "num_exposures": 2}),
               out=tmp_path / "d.h5", progress=False)
    assert _exposure_range(path, dataset_attrs(path)) == expected
