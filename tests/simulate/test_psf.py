"""PSF kinds: kernel files with their own sampling, resampled onto the supersampled grid."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from lenstronomy.Util import kernel_util

from darklens.errors import DarklensError
from darklens.simulate import psf as P
from darklens.simulate.config import load_sim_config
from darklens.simulate.psf import build_psf, rebin_kernel
from darklens.simulate.samples import render_image
from tests.conftest import tiny

PIXEL = 0.08  # arcsec, hst-wfc3-f160w
FWHM = 0.15  # arcsec
INST = {"base": "hst-wfc3-f160w", "num_pix": 32, "psf_fwhm": FWHM, "psf_truncation": 6.0}


def _write(path, kernel, scale=None, **header):
    hdu = fits.PrimaryHDU(np.asarray(kernel, float))
    if scale is not None:
        hdu.header["PIXSCALE"] = scale
    for key, value in header.items():
        hdu.header[key] = value
    hdu.writeto(path, overwrite=True)
    return str(path)


def _sampled_gaussian(scale, fwhm=FWHM, cut=6.0):
    """A Gaussian sampled at pixel centres, as lenstronomy's analytic PSF is."""
    n = 2 * round(cut * fwhm / 2.3548 / scale) + 1
    return kernel_util.kernel_gaussian(n, scale, fwhm)


def _integrated_gaussian(scale, n, fwhm=FWHM):
    """A Gaussian integrated over each of n x n pixels (a real PSF file's values)."""
    from scipy.special import erf

    edges = (np.arange(n + 1) - n / 2) * scale / (fwhm / 2.3548 * np.sqrt(2))
    side = np.diff(erf(edges)) / 2
    return np.outer(side, side)


def _render(supersampling, psf=None, **inst):
    instrument = dict(INST, **inst) if psf is None else dict(INST, psf=psf, **inst)
    cfg = tiny("none", noise=False, instrument=instrument, supersampling=supersampling)
    return render_image(cfg, index=2)[0]


@pytest.mark.parametrize("supersampling", [2, 3, 4])
def test_a_gaussian_file_at_the_ray_sampling_renders_like_the_analytic_gaussian(
        tmp_path, supersampling):
    # even supersampling is the case an even-sided kernel would get wrong (re-centred by
    # lenstronomy's interpolation: ~3 % of the peak); scipy's Gaussian filter reflects at the
    # image edge where the FFT pads zeros, so the border is left out
    path = _write(tmp_path / "g.fits", _sampled_gaussian(PIXEL / supersampling),
                  PIXEL / supersampling)
    analytic = _render(supersampling)
    kernel = _render(supersampling, {"kind": "pixel", "file": path})
    inner = (slice(4, -4),) * 2
    assert np.abs(kernel - analytic)[inner].max() < 1e-3 * analytic.max()
    assert kernel.sum() == pytest.approx(analytic.sum(), rel=1e-3)


@pytest.mark.parametrize("supersampling", [2, 3])
def test_a_three_times_finer_file_renders_like_the_same_psf_at_the_ray_sampling(
        tmp_path, supersampling):
    sub = PIXEL / supersampling
    fine = _write(tmp_path / "fine.fits", _integrated_gaussian(sub / 3, 93), sub / 3)
    coarse = _write(tmp_path / "coarse.fits", _integrated_gaussian(sub, 31), sub)
    a = _render(supersampling, {"kind": "pixel", "file": fine})
    b = _render(supersampling, {"kind": "pixel", "file": coarse})
    assert np.abs(a - b).max() < 1e-6 * b.max()


@pytest.mark.parametrize("supersampling", [1, 2, 4])
def test_a_delta_kernel_file_leaves_the_image_unconvolved(tmp_path, supersampling):
    delta = np.zeros((15, 15))
    delta[7, 7] = 1.0  # one pixel, 3x finer than the rays: all of it lands on the centre ray
    path = _write(tmp_path / "d.fits", delta, PIXEL / supersampling / 3)
    none = _render(supersampling, psf_fwhm=0.0)
    kernel = _render(supersampling, {"kind": "pixel", "file": path})
    np.testing.assert_allclose(kernel, none, rtol=0, atol=1e-6 * none.max())


@pytest.mark.parametrize("supersampling", [1, 2, 3])
def test_pixel_kernels_are_odd_centred_and_normalised(tmp_path, supersampling):
    path = _write(tmp_path / "g.fits", _integrated_gaussian(0.01, 60), 0.01)
    psf = build_psf({"kind": "pixel", "file": path}, PIXEL, supersampling, FWHM, 5.0, "psf")
    for k in (psf.kernel_point_source_supersampled(supersampling), psf.kernel_point_source):
        assert k.shape[0] % 2 == 1 and k.sum() == pytest.approx(1.0) and k.min() >= 0
        y, x = np.indices(k.shape) - k.shape[0] // 2
        assert abs((k * x).sum()) < 1e-9 and abs((k * y).sum()) < 1e-9
        np.testing.assert_allclose(k, k.T, atol=1e-12)


def test_header_scales_and_an_explicit_pixel_scale(tmp_path):
    kernel = _integrated_gaussian(0.02, 41)
    cdelt = _write(tmp_path / "cdelt.fits", kernel, CDELT1=-0.02 / 3600, CDELT2=0.02 / 3600)
    cd = _write(tmp_path / "cd.fits", kernel, CD1_1=0.02 / 3600)
    plain = _write(tmp_path / "plain.fits", kernel)
    ref = build_psf({"kind": "pixel", "file": _write(tmp_path / "p.fits", kernel, 0.02)},
                    PIXEL, 2, 0.0, 5.0, "psf").kernel_point_source_supersampled(2)
    for spec in ({"file": cdelt}, {"file": cd}, {"file": plain, "pixel_scale": 0.02}):
        got = build_psf({"kind": "pixel", **spec}, PIXEL, 2, 0.0, 5.0, "psf")
        np.testing.assert_allclose(got.kernel_point_source_supersampled(2), ref, atol=1e-12)


def test_the_resampled_kernel_is_cached_and_a_rewritten_file_is_read_again(tmp_path):
    path = _write(tmp_path / "g.fits", _integrated_gaussian(0.02, 41), 0.02)
    spec = {"kind": "pixel", "file": path}
    first = build_psf(spec, PIXEL, 2, 0.0, 5.0, "psf").kernel_point_source_supersampled(2)
    hits = P._fine_kernel.cache_info().hits
    build_psf(spec, PIXEL, 2, 0.1, 5.0, "psf")  # a new per-image FWHM: same kernel
    assert P._fine_kernel.cache_info().hits == hits + 1
    _write(path, _integrated_gaussian(0.02, 81, fwhm=0.4), 0.02)
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    wider = build_psf(spec, PIXEL, 2, 0.0, 5.0, "psf").kernel_point_source_supersampled(2)
    assert wider.shape[0] > first.shape[0]


def _bad_psf_file(tmp_path, name):
    if name == "nan":
        kernel = _integrated_gaussian(0.02, 11)
        kernel[0, 0] = np.nan
        return _write(tmp_path / "nan.fits", kernel, 0.02)
    if name == "text":
        (tmp_path / "psf.fits").write_text("not a FITS file")
        return str(tmp_path / "psf.fits")
    if name == "cube":
        return _write(tmp_path / "cube.fits", np.ones((2, 3, 3)), 0.02)
    return _write(tmp_path / "noheader.fits", _integrated_gaussian(0.02, 11))


@pytest.mark.parametrize("spec, message", [
    ({"kind": "pixel"}, r"inst\.psf\.file: a pixel PSF needs a FITS file"),
    ({"kind": "pixel", "file": "/nonexistent/psf.fits"},
     r"PSF file not found \(inst\.psf\.file\)"),
    ({"kind": "pixel", "file": "noheader"}, r"inst\.psf\.pixel_scale: .* has no PIXSCALE"),
    ({"kind": "pixel", "file": "noheader", "pixel_scale": -1},
     r"inst\.psf\.pixel_scale: expected a number > 0"),
    ({"kind": "pixel", "file": "nan"}, r"finite with a positive sum \(inst\.psf\.file\)"),
    ({"kind": "pixel", "file": "text"}, r"not a readable FITS file"),
    ({"kind": "pixel", "file": "cube"}, r"no 2-D image in this FITS file"),
    ({"kind": "gaussian", "fwhm": 0.1}, r"inst\.psf\.fwhm: unknown option"),
    ({"kind": "airy"}, r"inst\.psf\.kind: expected one of gaussian, pixel, lenstronomy"),
    ({"kind": "lenstronomy", "survey": "Hubble", "band": "F160W"},
     r"inst\.psf\.survey: expected one of DES, Euclid, HST"),
    ({"kind": "lenstronomy", "survey": "HST"}, r"inst\.psf\.band: expected a band name"),
    ({"kind": "lenstronomy", "survey": "HST", "band": "TDLMC_F160W"},
     r"leaves the pixel PSF kernel to the user; give the kernel as \{kind: pixel"),
    ({"kind": "lenstronomy", "survey": "JWST", "band": "F200W"}, r"to the user"),
    ({"kind": "lenstronomy", "survey": "LSST", "band": "g"}, r"no pixel PSF for survey 'LSST'"),
])
def test_bad_psf_specs_give_one_line_naming_the_field(tmp_path, spec, message):
    if spec.get("file") in ("noheader", "nan", "text", "cube"):
        spec = dict(spec, file=_bad_psf_file(tmp_path, spec["file"]))
    with pytest.raises(DarklensError, match=message) as err:
        build_psf(spec, PIXEL, 2, FWHM, 5.0, "inst.psf")
    assert "\n" not in str(err.value)


def test_the_lenstronomy_kind_reads_romans_kernel_file_where_lenstronomy_has_it():
    import lenstronomy

    models = Path(lenstronomy.__file__).parent / "SimulationAPI/ObservationConfig/PSF_models"
    spec = {"kind": "lenstronomy", "survey": "Roman", "band": "F106"}
    if not (models / "F106.fits").is_file():  # the PyPI wheel leaves the folder out
        with pytest.raises(DarklensError, match="no pixel PSF for survey 'Roman' band 'F106'"):
            build_psf(spec, 0.11, 2, 0.0, 5.0, "psf")
        return
    kernel = build_psf(spec, 0.11, 2, 0.0, 5.0, "psf").kernel_point_source_supersampled(2)
    assert kernel.shape[0] % 2 == 1 and kernel.sum() == pytest.approx(1.0)


def test_a_config_renders_with_a_pixel_psf_without_supersampled_convolution(tmp_path):
    path = _write(tmp_path / "g.fits", _integrated_gaussian(PIXEL / 6, 60), PIXEL / 6)
    cfg = tiny("none", noise=False, supersampling_convolution=False,
               instrument=dict(INST, psf={"kind": "pixel", "file": path}))
    image, _ = render_image(cfg, index=2)
    none, _ = render_image(tiny("none", noise=False, supersampling_convolution=False,
                                instrument=dict(INST, psf_fwhm=0.0)), index=2)
    assert image.sum() == pytest.approx(none.sum(), rel=0.02)
    assert image.max() < none.max()


def test_rebinning_conserves_flux_and_centre():
    kernel = np.zeros((5, 5))
    kernel[2, 2] = 1.0
    out = rebin_kernel(kernel, 0.1, 0.05, 2)
    assert out.shape[0] % 2 == 0 and (out.shape[0] // 2) % 2 == 1
    assert out.sum() == pytest.approx(1.0)
    c = out.shape[0] // 2
    np.testing.assert_allclose(out[c - 1:c + 1, c - 1:c + 1], 0.25, atol=1e-12)


@pytest.mark.parametrize("factor", [1, 2, 3])
def test_rebinning_a_finer_kernel_is_exact_where_pixel_edges_align(factor):
    fine = _integrated_gaussian(0.08 / 6, 60, fwhm=0.15)
    out = rebin_kernel(fine, 0.08 / 6, 0.08 / factor, factor)
    expected = _integrated_gaussian(0.08 / factor, out.shape[0], fwhm=0.15)
    np.testing.assert_allclose(out, expected / expected.sum(), atol=1e-9)


def test_a_finer_sampled_gaussian_file_renders_like_the_gaussian_psf(tmp_path):
    # lenstronomy's Gaussian kernel is sampled at sub-pixel centres, the file is integrated
    # over them: at 3 x 3 rays per pixel of half the FWHM they differ by < 1 % of the peak
    fwhm, supersampling = 0.15, 3
    path = _write(tmp_path / "psf.fits", _integrated_gaussian(0.08 / 6, 60, fwhm=fwhm), 0.08 / 6)
    inst = {"base": "hst-wfc3-f160w", "num_pix": 32, "psf_fwhm": fwhm, "psf_truncation": 6.0}
    analytic, values = render_image(tiny("none", noise=False, instrument=inst,
                                         supersampling=supersampling), index=2)
    kernel, _ = render_image(tiny("none", noise=False, supersampling=supersampling,
                                  instrument=dict(inst, psf={"kind": "pixel", "file": str(path)})),
                             index=2)
    assert np.abs(kernel - analytic).max() < 1e-2 * analytic.max()
    assert kernel.sum() == pytest.approx(analytic.sum(), rel=1e-3)


def test_a_psf_width_prior_with_a_kernel_psf_is_refused(tmp_path):
    path = _write(tmp_path / "g.fits", _integrated_gaussian(0.02, 41), 0.02)
    cfg = tiny("none", instrument=dict(INST, psf={"kind": "pixel", "file": path}),
               params={"psf_fwhm": {"uniform": [0.1, 0.2]}})
    with pytest.raises(DarklensError, match=r"params\.psf_fwhm: a PSF width prior needs Gaussian"):
        load_sim_config(cfg)
