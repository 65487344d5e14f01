"""PSFs: one registered kind each, built into lenstronomy's PSF at the supersampled resolution.

An instrument's ``psf`` mapping names the kind:

    psf: {kind: gaussian}                                 # of psf_fwhm (default)
    psf: {kind: pixel, file: f160w_psf.fits, pixel_scale: 0.04}   # an empirical kernel
    psf: {kind: lenstronomy, survey: Roman, band: F106}   # lenstronomy's own kernel file

A pixel kernel has its own sampling (a drizzled or Tiny Tim PSF is often finer than the image);
it is rebinned, conserving flux, onto the grid the convolution runs on (the image pixel divided
by the supersampling factor), so rays and PSF share one resolution.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from lenstronomy.Data.psf import PSF

from darklens.errors import DarklensError
from darklens.registry import Registry

__all__ = ["PSF_KINDS", "build_psf", "read_kernel", "rebin_kernel"]

#: ``psf.kind`` -> ``make(spec, pixel_scale, supersampling, fwhm, truncation, where) -> PSF``
PSF_KINDS: Registry = Registry("psf kind")


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
    """Pixel scale (arcsec) from PIXSCALE/PIXSCAL1 (arcsec) or CDELT1/CD1_1 (degrees)."""
    for key in ("PIXSCALE", "PIXSCAL1"):
        if key in header:
            return abs(float(header[key]))
    for key in ("CD1_1", "CDELT1"):
        if key in header:
            return abs(float(header[key])) * 3600.0
    return None


@lru_cache(maxsize=16)
def read_kernel(path: str) -> tuple[np.ndarray, float | None]:
    """The first 2-D image of a FITS file, as float64, and its header's pixel scale."""
    from astropy.io import fits

    if not Path(path).is_file():
        raise DarklensError(f"{path}: PSF file not found")
    try:
        with fits.open(path) as hdus:
            for hdu in hdus:
                if hdu.is_image and hdu.data is not None and np.ndim(hdu.data) == 2:
                    data = np.asarray(hdu.data, float)
                    scale = _header_scale(hdu.header)
                    break
            else:
                raise DarklensError(f"{path}: no 2-D image in this FITS file (a PSF kernel)")
    except OSError as err:
        raise DarklensError(f"{path}: not a readable FITS file ({err})") from None
    if not np.all(np.isfinite(data)) or data.sum() <= 0:
        raise DarklensError(f"{path}: PSF kernel must be finite with a positive sum")
    return data, scale


def rebin_kernel(kernel: np.ndarray, scale_in: float, scale_out: float,
                 factor: int = 1) -> np.ndarray:
    """Flux-conserving rebinning of a kernel onto pixels of ``scale_out`` (arcsec).

    The kernel is taken as constant over each of its pixels (of ``scale_in`` arcsec) and centred
    on its middle; each output pixel receives the exact integral over its area (the cumulative
    integral is interpolated bilinearly, which is exact for piecewise-constant pixels). The
    output side is ``factor`` times an odd number, normalised to sum 1.
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
    return out / out.sum()


def _pixel_psf(kernel, scale, pixel_scale, supersampling) -> PSF:
    fine = rebin_kernel(kernel, scale, pixel_scale / supersampling, supersampling)
    if supersampling == 1:
        return PSF(psf_type="PIXEL", kernel_point_source=fine)
    return PSF(psf_type="PIXEL", kernel_point_source=fine,
               point_source_supersampling_factor=supersampling)


@PSF_KINDS.register("pixel")
def _pixel(spec, pixel_scale, supersampling, fwhm, truncation, where) -> PSF:
    _no_options(spec, ("file", "pixel_scale"), where)
    if "file" not in spec:
        raise DarklensError(f"{where}.file: a pixel PSF needs a FITS file")
    kernel, header_scale = read_kernel(str(spec["file"]))
    scale = spec.get("pixel_scale", header_scale)
    if scale is None or not float(scale) > 0:
        raise DarklensError(
            f"{where}.pixel_scale: {spec['file']} has no PIXSCALE/CDELT1/CD1_1 header; give "
            f"the kernel's pixel scale in arcsec"
        )
    return _pixel_psf(kernel, float(scale), pixel_scale, supersampling)


@PSF_KINDS.register("lenstronomy")
def _lenstronomy(spec, pixel_scale, supersampling, fwhm, truncation, where) -> PSF:
    """lenstronomy's ObservationConfig kernel of a band (``psf_type='PIXEL'``)."""
    import importlib

    _no_options(spec, ("survey", "band", "pixel_scale"), where)
    survey, band = spec.get("survey"), spec.get("band")
    try:
        module = importlib.import_module(f"lenstronomy.SimulationAPI.ObservationConfig.{survey}")
        obs = getattr(module, survey)(band=band, psf_type="PIXEL")
        kw = obs.kwargs_single_band()
    except (ImportError, AttributeError, ValueError, KeyError, TypeError, OSError) as err:
        raise DarklensError(
            f"{where}: lenstronomy has no pixel PSF for survey {survey!r} band {band!r} "
            f"({str(err).splitlines()[0][:120]}); give the kernel as {{kind: pixel, file: ...}}"
        ) from None
    kernel = kw.get("kernel_point_source")
    if kernel is None:
        raise DarklensError(f"{where}: lenstronomy's {survey} {band} ships no kernel file")
    scale = float(spec.get("pixel_scale", kw["pixel_scale"]))
    return _pixel_psf(np.asarray(kernel, float), scale, pixel_scale, supersampling)
