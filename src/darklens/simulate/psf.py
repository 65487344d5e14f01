"""PSFs: one registered kind each, built into lenstronomy's PSF at the supersampled resolution.

An instrument's ``psf`` mapping names the kind:

    psf: {kind: gaussian}                                 # of psf_fwhm (default)
    psf: {kind: pixel, file: f160w_psf.fits, pixel_scale: 0.04}   # an empirical kernel
    psf: {kind: lenstronomy, survey: Roman, band: F106}   # lenstronomy's own kernel file

A pixel kernel has its own sampling (a drizzled or Tiny Tim PSF is often finer than the image);
it is rebinned, conserving flux, onto the grid the convolution runs on (the image pixel divided
by the supersampling factor), so rays and PSF share one resolution. The rebinned kernel has an
odd side and is centred on its middle pixel: lenstronomy convolves with it as it is on the
supersampled grid, and degrades it to image pixels itself (an even side would be re-centred
by interpolation, which blurs it).

Of lenstronomy 1.14.2's ObservationConfig surveys only Roman reads a pixel PSF, from
``PSF_models/<band>.fits`` inside the lenstronomy package, which the PyPI release does not
include (a source checkout does); HST and JWST accept ``psf_type='PIXEL'`` but leave the kernel
to the user. ``kind: lenstronomy`` therefore fails with a one-line error where the file is absent.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
from lenstronomy.Data.psf import PSF

from darklens.errors import DarklensError
from darklens.registry import Registry

__all__ = ["PSF_KINDS", "build_psf", "read_fits_image", "read_kernel", "rebin_kernel"]

#: ``psf.kind`` -> ``make(spec, pixel_scale, supersampling, fwhm, truncation, where) -> PSF``
PSF_KINDS: Registry = Registry("psf kind")

SURVEYS = ("DES", "Euclid", "HST", "JWST", "LSST", "Roman", "ZTF")


def build_psf(spec: dict, pixel_scale: float, supersampling: int, fwhm: float,
              truncation: float, where: str) -> PSF:
    """The lenstronomy PSF of an instrument's ``psf`` mapping.

    Parameters
    ----------
    spec : dict
        ``{kind: ..., **options}``.
    pixel_scale : float
        Image pixel, arcsec.
    supersampling : int
        Rays per pixel side; pixel kernels are returned at this resolution.
    fwhm : float
        Gaussian FWHM, arcsec (``gaussian`` only; 0 = no PSF).
    truncation : float
        Gaussian cut, in standard deviations.
    where : str
        Config path for error messages.
    """
    spec = dict(spec or {"kind": "gaussian"})
    kind = spec.pop("kind", "gaussian")
    return PSF_KINDS.get(kind, f"{where}.kind")(spec, pixel_scale, supersampling, fwhm,
                                               truncation, where)


def _no_options(spec: dict, allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise DarklensError(f"{where}.{unknown[0]}: unknown option; expected one of "
                            f"{', '.join(allowed) or '(none)'}")


@PSF_KINDS.register("gaussian")
def _gaussian(spec, pixel_scale, supersampling, fwhm, truncation, where) -> PSF:
    _no_options(spec, (), where)
    if fwhm > 0:
        return PSF(psf_type="GAUSSIAN", fwhm=fwhm, truncation=truncation)
    return PSF(psf_type="NONE")


def _header_scale(header) -> float | None:
    """Pixel scale (arcsec) from PIXSCALE/PIXSCAL1 (arcsec) or CD1_1/CDELT1 (degrees)."""
    for key in ("PIXSCALE", "PIXSCAL1"):
        if key in header:
            return abs(float(header[key]))
    for key in ("CD1_1", "CDELT1"):
        if key in header:
            return abs(float(header[key])) * 3600.0
    return None


def _stamp(path: str) -> tuple[int, int]:
    """What a cached read is keyed on besides the path: a rewritten file is read again."""
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_size


def read_fits_image(path: str, what: str = "PSF",
                    field: str = "") -> tuple[np.ndarray, float | None]:
    """The first 2-D image of a FITS file (float64, read-only) and its header's pixel scale.

    Parameters
    ----------
    path : str
        FITS file.
    what : str
        What the image is, for messages (``"PSF"``, ``"galaxy stamp"``).
    field : str
        Config field that named the file, for messages.
    """
    at = f" ({field})" if field else ""
    if not Path(path).is_file():
        raise DarklensError(f"{path}: {what} file not found{at}")
    return _read_fits(str(path), _stamp(path), what, at)


@lru_cache(maxsize=64)
def _read_fits(path: str, stamp, what: str, at: str):
    from astropy.io import fits

    try:
        with fits.open(path) as hdus:
            for hdu in hdus:
                if hdu.is_image and hdu.data is not None and np.ndim(hdu.data) == 2:
                    data = np.array(hdu.data, float)
                    scale = _header_scale(hdu.header)
                    break
            else:
                raise DarklensError(f"{path}: no 2-D image in this FITS file (a {what}){at}")
    except OSError as err:
        raise DarklensError(f"{path}: not a readable FITS file ({err}){at}") from None
    data.setflags(write=False)  # shared by every caller of the cache
    return data, scale


def read_kernel(path: str, field: str = "") -> tuple[np.ndarray, float | None]:
    """A PSF kernel of a FITS file and its header's pixel scale (see :func:`read_fits_image`)."""
    data, scale = read_fits_image(path, "PSF", field)
    if not np.all(np.isfinite(data)) or data.sum() <= 0:
        at = f" ({field})" if field else ""
        raise DarklensError(f"{path}: PSF kernel must be finite with a positive sum{at}")
    return data, scale


def rebin_kernel(kernel: np.ndarray, scale_in: float, scale_out: float,
                 factor: int = 1) -> np.ndarray:
    """Flux-conserving rebinning of a kernel onto pixels of ``scale_out`` (arcsec).

    The kernel is taken as constant over each of its pixels (of ``scale_in`` arcsec) and centred
    on its middle; each output pixel receives the exact integral over its area (the cumulative
    integral is interpolated bilinearly, which is exact for piecewise-constant pixels). The
    output side is ``factor`` times an odd number (odd for ``factor=1``, what lenstronomy's
    PSF wants), normalised to sum 1.
    """
    from scipy.interpolate import RegularGridInterpolator

    ny, nx = kernel.shape
    cum = np.zeros((ny + 1, nx + 1))
    cum[1:, 1:] = np.cumsum(np.cumsum(kernel, 0), 1)
    ex, ey = [(np.arange(n + 1) - n / 2.0) * scale_in for n in (nx, ny)]
    integral = RegularGridInterpolator((ey, ex), cum, bounds_error=False, fill_value=None)
    half = max(nx, ny) * scale_in / 2.0
    odd = 2 * math.ceil(half / (scale_out * factor) - 0.5) + 1
    side = odd * factor
    edges = (np.arange(side + 1) - side / 2.0) * scale_out
    clipped_x, clipped_y = np.clip(edges, ex[0], ex[-1]), np.clip(edges, ey[0], ey[-1])
    gy, gx = np.meshgrid(clipped_y, clipped_x, indexing="ij")
    values = integral(np.stack([gy.ravel(), gx.ravel()], 1)).reshape(gy.shape)
    out = values[1:, 1:] - values[:-1, 1:] - values[1:, :-1] + values[:-1, :-1]
    # differences of the cumulative sum leave round-off (~1e-17) where the kernel is 0
    out[np.abs(out) < 1e-12 * np.abs(out).max()] = 0.0
    return out / out.sum()


@lru_cache(maxsize=32)
def _fine_kernel(source: tuple, scale: float, pixel_scale: float,
                 supersampling: int) -> np.ndarray:
    """The kernel of ``source`` (``("file", path, stamp)`` or ``("lenstronomy", survey,
    band)``) rebinned onto supersampled pixels; cached, as a per-image PSF width makes the
    renderer build the PSF again for every image."""
    if source[0] == "file":
        kernel = read_kernel(source[1])[0]
    else:
        kernel = _lenstronomy_band(*source[1:])[0]
    fine = rebin_kernel(kernel, scale, pixel_scale / supersampling)
    fine.setflags(write=False)
    return fine


def _pixel_psf(source: tuple, scale: float, pixel_scale: float, supersampling: int) -> PSF:
    # lenstronomy normalises its kernel in place: give it a copy of the cached one
    fine = np.array(_fine_kernel(source, float(scale), float(pixel_scale), int(supersampling)))
    if supersampling == 1:
        return PSF(psf_type="PIXEL", kernel_point_source=fine)
    return PSF(psf_type="PIXEL", kernel_point_source=fine,
               point_source_supersampling_factor=supersampling)


@PSF_KINDS.register("pixel")
def _pixel(spec, pixel_scale, supersampling, fwhm, truncation, where) -> PSF:
    _no_options(spec, ("file", "pixel_scale"), where)
    if not isinstance(spec.get("file"), str) or not spec["file"]:
        raise DarklensError(f"{where}.file: a pixel PSF needs a FITS file")
    path = spec["file"]
    _, header_scale = read_kernel(path, f"{where}.file")
    scale = spec.get("pixel_scale", header_scale)
    if scale is None:
        raise DarklensError(
            f"{where}.pixel_scale: {path} has no PIXSCALE/CDELT1/CD1_1 header; give "
            f"the kernel's pixel scale in arcsec"
        )
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
        raise DarklensError(f"{where}.pixel_scale: expected a number > 0 (arcsec), got {scale!r}")
    return _pixel_psf(("file", path, _stamp(path)), scale, pixel_scale, supersampling)


@lru_cache(maxsize=16)
def _lenstronomy_band(survey: str, band: str) -> tuple[np.ndarray | None, float]:
    import importlib

    module = importlib.import_module(f"lenstronomy.SimulationAPI.ObservationConfig.{survey}")
    kw = getattr(module, survey)(band=band, psf_type="PIXEL").kwargs_single_band()
    kernel = kw.get("kernel_point_source")
    return (None if kernel is None else np.asarray(kernel, float)), float(kw["pixel_scale"])


@PSF_KINDS.register("lenstronomy")
def _lenstronomy(spec, pixel_scale, supersampling, fwhm, truncation, where) -> PSF:
    """lenstronomy's ObservationConfig kernel of a band (``psf_type='PIXEL'``)."""
    _no_options(spec, ("survey", "band", "pixel_scale"), where)
    survey, band = spec.get("survey"), spec.get("band")
    if survey not in SURVEYS:
        raise DarklensError(f"{where}.survey: expected one of {', '.join(SURVEYS)}, "
                            f"got {survey!r}")
    if not isinstance(band, str):
        raise DarklensError(f"{where}.band: expected a band name of lenstronomy's {survey}")
    hint = "give the kernel as {kind: pixel, file: ..., pixel_scale: ...}"
    try:
        kernel, native = _lenstronomy_band(survey, band)
    except (ImportError, AttributeError, ValueError, KeyError, TypeError, OSError) as err:
        raise DarklensError(
            f"{where}: lenstronomy has no pixel PSF for survey {survey!r} band {band!r} "
            f"({str(err).splitlines()[0][:120]}); {hint}"
        ) from None
    if kernel is None:
        raise DarklensError(f"{where}: lenstronomy's {survey} {band} leaves the pixel PSF "
                            f"kernel to the user; {hint}")
    scale = float(spec.get("pixel_scale", native))
    return _pixel_psf(("lenstronomy", survey, band), scale, pixel_scale, supersampling)
