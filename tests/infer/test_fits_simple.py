"""The fast FITS path reads exactly what astropy reads, and hands anything else to astropy."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from darklens.infer.fits_simple import read_simple_fits


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.int32, np.uint8])
def test_primary_images_match_astropy(tmp_path, dtype):
    rng = np.random.default_rng(1)
    data = (rng.normal(size=(17, 23)) * 50).astype(dtype)
    hdu = fits.PrimaryHDU(data)
    hdu.header["Z_LENS"] = (0.35, "lens redshift")
    hdu.header["OBJECT"] = "it's a lens / test"
    hdu.header["FLAG"] = True
    path = tmp_path / "a.fits"
    hdu.writeto(path)
    image, header = read_simple_fits(path)
    np.testing.assert_array_equal(image, fits.getdata(path).astype(np.float32))
    assert header["Z_LENS"] == 0.35 and header["OBJECT"] == "it's a lens / test"
    assert header["FLAG"] is True and header["NAXIS1"] == 23


def test_scaled_integers_are_applied(tmp_path):
    path = tmp_path / "s.fits"
    hdu = fits.PrimaryHDU(np.arange(12, dtype=np.int16).reshape(3, 4))
    hdu.scale("int16", bzero=1000, bscale=0.5)
    hdu.writeto(path)
    image, _ = read_simple_fits(path)
    np.testing.assert_allclose(image, fits.getdata(path).astype(np.float32))


def test_other_layouts_go_to_astropy_and_truncation_is_reported(tmp_path):
    ext = tmp_path / "ext.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.ones((4, 4)))]).writeto(ext)
    assert read_simple_fits(ext) is None
    cube = tmp_path / "cube.fits"
    fits.PrimaryHDU(np.ones((2, 4, 4), np.float32)).writeto(cube)
    assert read_simple_fits(cube) is None
    short = tmp_path / "short.fits"
    fits.PrimaryHDU(np.ones((64, 64), np.float32)).writeto(short)
    short.write_bytes(short.read_bytes()[:5000])
    with pytest.raises(EOFError):
        read_simple_fits(short)
