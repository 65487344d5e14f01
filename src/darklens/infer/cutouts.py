"""Observed cutouts brought to what a model was trained on: units, pixel scale, noise.

A FITS cutout says what it is in its header: the pixel scale (celestial WCS with CD or
CDELT/PC, else ``PIXSCALE``-like keywords, arcsec), the units (``BUNIT``) and the exposure
(``EXPTIME``, s); an optional extension holds its noise (``ERR``/``SIGMA``/``RMS``/``NOISE``:
sigma, ``VAR``: variance, ``WHT``/``WEIGHT``/``IVAR``: inverse variance). A model export says
what it was trained on (:class:`darklens.artifact.ModelMeta`: ``pixel_scale``,
``image_units``, ``exposure_range``). :func:`adapt` converts what can be converted exactly
(counts <-> counts/s with EXPTIME; another pixel scale, resampled flux-conserving with
reproject when asked) and refuses the rest with the reason; :func:`noise_flags` says when the
noise differs from the training images'. Images without these keywords (NPY, PNG, HDF5) are
taken to be in the model's units and pixel scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from darklens.infer.readers import BadInput

__all__ = ["NOISE_EXTENSIONS", "TrainedOn", "adapt", "noise_flags", "noise_sigma",
           "pixel_scale"]

#: pixel scales that differ by less than this fraction are the same
SCALE_TOLERANCE = 0.01
#: extension name -> how to turn it into a per-pixel sigma
NOISE_EXTENSIONS = {
    "ERR": lambda a: a, "SIGMA": lambda a: a, "RMS": lambda a: a, "NOISE": lambda a: a,
    "VAR": np.sqrt,
    "WHT": lambda a: 1 / np.sqrt(a), "WEIGHT": lambda a: 1 / np.sqrt(a),
    "IVAR": lambda a: 1 / np.sqrt(a),
}
_SCALE_KEYS = ("PIXSCALE", "PIXSCAL1", "PIXSCAL", "PIXELSCL", "SECPIX")
_UNITS = {  # BUNIT spellings -> "counts" or "counts/s" (electrons counted as counts)
    **dict.fromkeys(("counts/s", "count/s", "cts/s", "cps", "electrons/s", "electron/s",
                     "e-/s", "e/s", "adu/s", "dn/s"), "counts/s"),
    **dict.fromkeys(("counts", "count", "cts", "electrons", "electron", "e-", "adu", "dn"),
                    "counts"),
}


@dataclass
class TrainedOn:
    """What a model's training images were (from its export).

    Attributes
    ----------
    pixel_scale : float or None
        arcsec per pixel.
    units : str
        ``"counts/s"`` or ``"counts"``.
    shape : (H, W)
        Image size, pixels.
    exposure_range : (lo, hi) or None
        Total exposure of the training images, s; None for noiseless training.
    noise_range : (lo, hi) or None
        The range of the training images' pixel noise (the out-of-distribution statistics).
    """

    pixel_scale: float | None
    units: str
    shape: tuple[int, int]
    exposure_range: tuple[float, float] | None = None
    noise_range: tuple[float, float] | None = None


def pixel_scale(header: Mapping | None) -> float | None:
    """arcsec per pixel from a FITS header: its celestial WCS, else a ``PIXSCALE``-like keyword;
    None when the header says nothing. Non-square pixels are refused (BadInput)."""
    if not header:
        return None
    if any(k in header for k in ("CD1_1", "CDELT1")) and str(header.get("CTYPE1", "")).strip():
        import warnings

        from astropy.wcs import WCS, FITSFixedWarning
        from astropy.wcs.utils import proj_plane_pixel_scales

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(dict(header), naxis=2)
        if wcs.has_celestial:
            sx, sy = proj_plane_pixel_scales(wcs.celestial) * 3600.0
            if abs(sx - sy) > SCALE_TOLERANCE * max(sx, sy):
                raise BadInput(f"non-square pixels in the WCS ({sx:.4g}\" x {sy:.4g}\")")
            return float(sx)
    for key in _SCALE_KEYS:
        if isinstance(header.get(key), int | float) and header[key] > 0:
            return float(header[key])
    return None


def _units(header: Mapping | None) -> str | None:
    unit = str((header or {}).get("BUNIT", "")).strip()
    if not unit:
        return None
    key = unit.lower().replace(" ", "").replace("sec", "s").replace("**-1", "/s")
    key = key.replace("s-1", "/s").replace("//", "/")
    if key not in _UNITS:
        raise BadInput(f"BUNIT {unit!r} is not counts or counts/s (electrons or ADU); convert "
                       "the image to the model's units first")
    return _UNITS[key]


def _exposure(header: Mapping | None) -> float | None:
    value = (header or {}).get("EXPTIME", (header or {}).get("TEXPTIME"))
    return float(value) if isinstance(value, int | float) and value > 0 else None


def adapt(image: np.ndarray, header: Mapping | None, noise: np.ndarray | None,
          model: TrainedOn, resample: bool = False):
    """A cutout (and its noise sigma map) in the model's units and pixel scale.

    Parameters
    ----------
    image : ndarray (H, W) or (C, H, W)
    header : Mapping or None
        Its FITS header (None: taken as the model's units and scale).
    noise : ndarray or None
        Per-pixel sigma, same shape, in the image's units.
    model : TrainedOn
    resample : bool
        Resample another pixel scale onto the model's (flux conserved, the model's field of
        view around the cutout's centre); without it such a cutout is refused.

    Returns
    -------
    image, noise : ndarray
        Converted; ``noise`` None when there is none, or when the image was resampled (a
        resampled sigma map is correlated and not comparable pixel by pixel).

    Raises
    ------
    BadInput
        Unknown units, counts without EXPTIME, another pixel scale without ``resample``, or a
        cutout smaller than the model's field of view.
    """
    units = _units(header)
    if units is not None and units != model.units:
        exptime = _exposure(header)
        if exptime is None:
            raise BadInput(f"BUNIT {header['BUNIT']!r} but the model expects {model.units}, "
                           "and the header has no EXPTIME to convert with")
        factor = 1 / exptime if model.units == "counts/s" else exptime
        image = image * np.float32(factor)
        noise = None if noise is None else noise * np.float32(factor)
    scale = pixel_scale(header)
    if scale is None or model.pixel_scale is None:
        return image, noise
    if abs(scale / model.pixel_scale - 1) <= SCALE_TOLERANCE:
        return image, noise
    if not resample:
        raise BadInput(f"pixel scale {scale:.4g}\" differs from the model's "
                       f"{model.pixel_scale:.4g}\" (use --resample)")
    return _resample(image, scale, model), None


def _resample(image: np.ndarray, scale: float, model: TrainedOn) -> np.ndarray:
    """Flux-conserving resampling onto the model's grid, centred on the cutout's centre."""
    from astropy.wcs import WCS
    from reproject import reproject_exact

    x = image[None] if image.ndim == 2 else image
    h, w = model.shape
    need = (h * model.pixel_scale, w * model.pixel_scale)
    have = (x.shape[1] * scale, x.shape[2] * scale)
    if have[0] < need[0] * (1 - SCALE_TOLERANCE) or have[1] < need[1] * (1 - SCALE_TOLERANCE):
        raise BadInput(f"cutout covers {have[0]:.3g}\" x {have[1]:.3g}\", the model needs "
                       f"{need[0]:.3g}\" x {need[1]:.3g}\"")

    def grid(ny, nx, s):  # a tangent plane around (0, 0), north up, s arcsec per pixel
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.crval = [0.0, 0.0]
        wcs.wcs.crpix = [(nx + 1) / 2, (ny + 1) / 2]
        wcs.wcs.cdelt = [-s / 3600.0, s / 3600.0]
        return wcs

    source, target = grid(*x.shape[1:], scale), grid(h, w, model.pixel_scale)
    # reproject_exact conserves surface brightness; per-pixel flux scales with pixel area
    area = (model.pixel_scale / scale) ** 2
    out = np.stack([reproject_exact((band, source), target, shape_out=(h, w),
                                    return_footprint=False) for band in x]) * area
    if not np.all(np.isfinite(out)):
        raise BadInput("resampled cutout does not cover the model's field of view")
    out = out.astype(np.float32)
    return out[0] if image.ndim == 2 else out


def noise_flags(header: Mapping | None, noise: np.ndarray | None, model: TrainedOn) -> list:
    """Why the cutout's noise is unlike the training images' (empty when it is alike or
    unknown): its noise map's median sigma against the training pixel noise, and EXPTIME
    against the training exposures (a factor 2 outside them)."""
    reasons = []
    if noise is not None and model.noise_range is not None:
        sigma = float(np.median(noise[np.isfinite(noise)])) if np.isfinite(noise).any() else None
        lo, hi = model.noise_range
        if sigma is not None and not lo <= sigma <= hi:
            reasons.append(f"noise map sigma {sigma:.3g} outside the training noise "
                           f"[{lo:.3g}, {hi:.3g}]")
    exptime = _exposure(header)
    if exptime is not None and model.exposure_range is not None:
        lo, hi = model.exposure_range
        if not lo / 2 <= exptime <= 2 * hi:
            reasons.append(f"EXPTIME {exptime:.4g} s far from the training exposures "
                           f"{lo:.4g}-{hi:.4g} s")
    return reasons


def noise_sigma(extname: str, data: np.ndarray) -> np.ndarray:
    """Per-pixel sigma from a noise extension's data (see :data:`NOISE_EXTENSIONS`); pixels
    without a valid value are NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = NOISE_EXTENSIONS[extname](np.asarray(data, dtype=np.float64))
    return np.where(np.isfinite(sigma) & (sigma > 0), sigma, np.nan).astype(np.float32)
