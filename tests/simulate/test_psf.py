"""PSF kinds: an empirical kernel file with its own sampling renders like the analytic PSF."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from darklens.errors import DarklensError
from darklens.simulate.psf import rebin_kernel
from darklens.simulate.samples import render_image
from tests.conftest import tiny


def _integrated_gaussian(fwhm, scale, n):
    """A Gaussian integrated over each of n x n pixels of ``scale`` arcsec, centred."""
    from scipy.special import erf

    edges = (np.arange(n + 1) - n / 2) * scale / (fwhm / 2.3548 * np.sqrt(2))
    side = np.diff(erf(edges)) / 2
    return np.outer(side, side)


def _gaussian_file(path, fwhm, scale, n=60, header=True):
    hdu = fits.PrimaryHDU(_integrated_gaussian(fwhm, scale, n))
    if header:
        hdu.header["PIXSCALE"] = scale
    hdu.writeto(path)
    return path


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
    fine = _integrated_gaussian(0.15, 0.08 / 6, 60)
    out = rebin_kernel(fine, 0.08 / 6, 0.08 / factor, factor)
    expected = _integrated_gaussian(0.15, 0.08 / factor, out.shape[0])
    np.testing.assert_allclose(out, expected / expected.sum(), atol=1e-9)


def test_a_finer_sampled_gaussian_file_renders_like_the_gaussian_psf(tmp_path):
    # lenstronomy's Gaussian kernel is sampled at sub-pixel centres, the file is integrated
    # over them: at 3 x 3 rays per pixel of half the FWHM they differ by < 1 % of the peak
    fwhm, supersampling = 0.15, 3
    path = _gaussian_file(tmp_path / "psf.fits", fwhm, 0.08 / 6)
    inst = {"base": "hst-wfc3-f160w", "num_pix": 32, "psf_fwhm": fwhm, "psf_truncation": 6.0}
    analytic, values = render_image(tiny("none", noise=False, instrument=inst,
                                         supersampling=supersampling), index=2)
    kernel, _ = render_image(tiny("none", noise=False, supersampling=supersampling,
                                  instrument=dict(inst, psf={"kind": "pixel", "file": str(path)})),
                             index=2)
    assert np.abs(kernel - analytic).max() < 1e-2 * analytic.max()
    assert kernel.sum() == pytest.approx(analytic.sum(), rel=1e-3)


@pytest.mark.parametrize("psf, message", [
    ({"kind": "pixel"}, "psf.file: a pixel PSF needs a FITS file"),
    ({"kind": "pixel", "file": "/nonexistent/psf.fits"}, "PSF file not found"),
    ({"kind": "pixel", "file": "NOHEADER"}, "psf.pixel_scale: .* has no PIXSCALE"),
    ({"kind": "pixel", "file": "NOHEADER", "scale": 0.1}, "psf.scale: unknown option"),
    ({"kind": "airy"}, "psf.kind"),
    ({"kind": "lenstronomy", "survey": "Roman", "band": "F106"}, "pixel PSF|kernel"),
])
def test_bad_psf_specs_give_one_line(tmp_path, psf, message):
    if psf.get("file") == "NOHEADER":
        psf = dict(psf, file=str(_gaussian_file(tmp_path / "p.fits", 0.1, 0.02, header=False)))
    cfg = tiny("none", instrument={"base": "hst-wfc3-f160w", "num_pix": 16, "psf": psf})
    with pytest.raises(DarklensError, match=message):
        render_image(cfg)
