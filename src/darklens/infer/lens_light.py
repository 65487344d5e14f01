"""Fit and subtract the lens galaxy's light before prediction (``darklens infer
--subtract-lens-light``).

The lens galaxy is modelled as one elliptical Sersic (lenstronomy's ``SERSIC_ELLIPSE``),
integrated over pixels (``SUPERSAMPLE`` x ``SUPERSAMPLE`` points each) and, when its width is
given, convolved with a Gaussian PSF; without it the model is not convolved (an unresolved
PSF of about one pixel, as HST F160W's, changes the fitted size and index by a few per cent).
There is no sky term: images are taken to be sky-subtracted, as the training images are.

The lensed arcs are positive light on top of the galaxy, so the fit is iterated: start, mask
the pixels whose residual exceeds ``+CLIP`` sigma (grown by ``GROW`` pixels; the central
``CORE`` pixels are never masked), refit, ``ROUNDS`` times. Sigma combines the pixel noise with
a fractional model error, so bright residuals are judged against the galaxy and faint ones
against the noise. The start: the centre by mean shift from the image centre (a bright arc
nearby does not capture it), size and index from the radial profile's annuli that are fainter
than every annulus inside them (the galaxy falls monotonically; an Einstein ring does not),
round. The amplitude is solved linearly at every step, the other six parameters by
:func:`scipy.optimize.least_squares` within bounds (centre within ``CENTRE_RANGE`` of the image
side from its centre, ``n`` in ``N_RANGE``).

Coordinates are lenstronomy's and darklens's: ``x`` along columns, ``y`` along rows, in arcsec
from the image centre.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from darklens.infer.lens_light_start import CENTRE_RANGE, N_RANGE, detected, initial, noise_map
from darklens.infer.readers import BadInput

__all__ = ["COLUMN", "fit_lens_light", "lens_light_warnings", "subtract_lens_light"]

#: predictions-table column that says the lens light was subtracted (only with the option)
COLUMN = "lens_light_subtracted"
#: fit rounds: fit, mask the arcs, refit
ROUNDS = 3
#: a pixel whose residual is above this many sigma is masked as arc light
CLIP = 3.0
#: fractional model error added to the pixel noise (a Sersic is not the galaxy exactly)
MODEL_ERROR = 0.02
#: floor of sigma, as a fraction of the image's peak (noiseless images)
FLOOR = 1e-3
#: pixels within this radius of the fitted centre are never masked
CORE = 2.0
#: arc masks grow by this many pixels (their faint edges)
GROW = 2
#: points per pixel side at which the profile is evaluated before binning
SUPERSAMPLE = 2
#: largest |e1|, |e2| (axis ratio down to about 0.25)
E_MAX = 0.6
_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


@lru_cache(maxsize=1)
def _light_model():
    from lenstronomy.LightModel.light_model import LightModel

    return LightModel(["SERSIC_ELLIPSE"])


def _grid(shape, pixel_scale: float, sub: int):
    """Supersampled point coordinates (arcsec), flattened, for an image of ``shape``."""
    h, w = shape
    offsets = (np.arange(sub) + 0.5) / sub - 0.5
    y = ((np.arange(h)[:, None] + offsets[None]).ravel() - (h - 1) / 2) * pixel_scale
    x = ((np.arange(w)[:, None] + offsets[None]).ravel() - (w - 1) / 2) * pixel_scale
    xx, yy = np.meshgrid(x, y)
    return xx.ravel(), yy.ravel()


def _profile(p, grid, shape, pixel_scale, psf_sigma_pix):
    """Unit-amplitude Sersic image (flux per pixel for surface brightness 1 at R_sersic)."""
    from scipy.ndimage import gaussian_filter

    cx, cy, log_r, n, e1, e2 = p
    kw = {"amp": 1.0, "R_sersic": float(np.exp(log_r)), "n_sersic": n, "e1": e1, "e2": e2,
          "center_x": cx, "center_y": cy}
    sub = SUPERSAMPLE
    sb = _light_model().surface_brightness(*grid, [kw]).reshape(shape[0], sub, shape[1], sub)
    image = sb.mean(axis=(1, 3)) * pixel_scale**2
    if psf_sigma_pix:
        image = gaussian_filter(image, psf_sigma_pix, mode="constant", truncate=4.0)
    return image


def _bounds(shape, pixel_scale):
    h, w = shape
    c = max(3.0, CENTRE_RANGE * min(h, w)) * pixel_scale
    r_lo, r_hi = np.log(0.3 * pixel_scale), np.log(0.5 * max(h, w) * pixel_scale)
    lo = [-c, -c, r_lo, N_RANGE[0], -E_MAX, -E_MAX]
    hi = [c, c, r_hi, N_RANGE[1], E_MAX, E_MAX]
    return np.array(lo), np.array(hi)


def _solve(image, weight, p0, bounds, model_args, fit: bool = True):
    """Best parameters for the pixels of non-zero ``weight`` and their model image; the
    amplitude is solved linearly (``fit=False``: only the amplitude, at ``p0``)."""
    from scipy.optimize import least_squares

    keep = weight > 0
    d, wt = image[keep], weight[keep]

    def amp_of(s):
        den = float(np.sum((wt * s) ** 2))
        return max(float(np.sum(wt**2 * d * s)) / den, 0.0) if den > 0 else 0.0

    def residuals(p):
        s = _profile(p, *model_args)[keep]
        return wt * (d - amp_of(s) * s)

    p = np.clip(p0, bounds[0] + 1e-9, bounds[1] - 1e-9)
    if fit:
        p = least_squares(residuals, p, bounds=bounds, x_scale="jac", method="trf",
                          xtol=1e-6, ftol=1e-6, max_nfev=200).x
    s = _profile(p, *model_args)
    return p, amp_of(s[keep]) * s


def fit_lens_light(image: np.ndarray, pixel_scale: float, noise_sigma=None,
                   psf_fwhm: float | None = None) -> tuple[np.ndarray, dict]:
    """Fit one elliptical Sersic to the lens galaxy of a 2-D image, masking the arcs.

    Parameters
    ----------
    image : ndarray, shape (H, W)
        Sky-subtracted image, any flux units (counts/s per pixel for darklens images). NaN/inf
        pixels are left out of the fit.
    pixel_scale : float
        arcsec per pixel; sets the units of the fitted radius and centre.
    noise_sigma : float or ndarray (H, W), optional
        Per-pixel noise, image units (a FITS noise extension); estimated from the image's
        adjacent-pixel differences when None.
    psf_fwhm : float, optional
        Gaussian PSF FWHM, arcsec; the model is not convolved when None.

    Returns
    -------
    model : ndarray of float32, shape (H, W)
        The fitted lens light, image units per pixel; all zeros when the image has no central
        light above ``DETECTION`` sigma (nothing to subtract).
    params : dict
        lenstronomy ``SERSIC_ELLIPSE`` keywords: ``amp`` (image units per arcsec² at
        ``R_sersic``), ``R_sersic`` (arcsec), ``n_sersic``, ``e1``, ``e2``, ``center_x``,
        ``center_y`` (arcsec); and ``flux`` (total model flux, image units),
        ``masked_fraction`` (pixels masked as arcs) and ``fitted`` (False for the zero model).

    Raises
    ------
    BadInput
        Not a 2-D image, no finite pixels, or a pixel scale that is not a positive number.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or min(image.shape) < 8:
        raise BadInput(f"lens light fit: expected a 2-D image of at least 8x8 pixels, got shape "
                       f"{image.shape}")
    if not (isinstance(pixel_scale, int | float) and np.isfinite(pixel_scale) and pixel_scale > 0):
        raise BadInput(f"lens light fit: pixel scale {pixel_scale!r}, expected arcsec > 0")
    finite = np.isfinite(image)
    if not finite.any():
        raise BadInput("lens light fit: the image has no finite pixels")
    sigma_n = noise_map(image, finite, noise_sigma)
    if not detected(image, finite, sigma_n):
        zero = {"amp": 0.0, "R_sersic": np.nan, "n_sersic": np.nan, "e1": np.nan, "e2": np.nan,
                "center_x": np.nan, "center_y": np.nan, "flux": 0.0, "masked_fraction": 0.0,
                "fitted": False}
        return np.zeros(image.shape, np.float32), zero
    data = np.where(finite, image, 0.0)
    psf = psf_fwhm * _FWHM_TO_SIGMA / pixel_scale if psf_fwhm else 0.0
    model_args = (_grid(image.shape, pixel_scale, SUPERSAMPLE), image.shape, pixel_scale, psf)
    bounds = _bounds(image.shape, pixel_scale)
    floor = FLOOR * float(data.max())
    p = initial(data, finite, pixel_scale)
    model = _solve(data, finite.astype(float), p, bounds, model_args, fit=False)[1]
    for _ in range(ROUNDS):
        # mask the arcs against the current model, refit the rest; sigma from the model, so
        # bright pixels are judged by the fractional model error and faint ones by the noise
        sigma = np.sqrt(sigma_n**2 + (MODEL_ERROR * model) ** 2 + floor**2)
        arcs = (data - model) > CLIP * sigma
        # the galaxy's centre is its best-measured part: never masked
        mask = finite & (~_grow(arcs) | _core(p, image.shape, pixel_scale))
        p, model = _solve(data, np.where(mask, 1.0 / sigma, 0.0), p, bounds, model_args)
    cx, cy, log_r, n, e1, e2 = (float(v) for v in p)
    amp = float(model.sum() / max(_profile(p, *model_args).sum(), 1e-300))
    params = {"amp": amp, "R_sersic": float(np.exp(log_r)), "n_sersic": n, "e1": e1, "e2": e2,
              "center_x": cx, "center_y": cy,
              "flux": float(model.sum()), "masked_fraction": float(1 - mask.mean()),
              "fitted": True}
    return model.astype(np.float32), params


def _core(p, shape, pixel_scale) -> np.ndarray:
    """Pixels within ``CORE`` pixels of the fitted centre."""
    h, w = shape
    yy, xx = np.mgrid[:h, :w]
    return np.hypot(xx - (w - 1) / 2 - p[0] / pixel_scale,
                    yy - (h - 1) / 2 - p[1] / pixel_scale) <= CORE


def _grow(mask: np.ndarray) -> np.ndarray:
    """``mask`` grown by ``GROW`` pixels, so the faint edges of an arc go with it."""
    from scipy.ndimage import binary_dilation

    return binary_dilation(mask, structure=np.ones((3, 3), bool), iterations=GROW)


def subtract_lens_light(image: np.ndarray, pixel_scale: float, noise_sigma=None,
                        psf_fwhm: float | None = None) -> np.ndarray:
    """The image minus its fitted lens light, each band fitted on its own.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (C, H, W)
        Sky-subtracted image, image units per pixel.
    pixel_scale : float
        arcsec per pixel.
    noise_sigma : float or ndarray of the image's shape, optional
        Per-pixel noise (see :func:`fit_lens_light`).
    psf_fwhm : float, optional
        Gaussian PSF FWHM, arcsec (not convolved when None).

    Returns
    -------
    ndarray of float32, the input's shape
    """
    x = np.asarray(image, dtype=np.float32)
    bands = x[None] if x.ndim == 2 else x
    noise = None if noise_sigma is None else np.broadcast_to(noise_sigma, x.shape)
    out = []
    for c, band in enumerate(bands):
        sigma = None if noise is None else (noise if x.ndim == 2 else noise[c])
        out.append(band - fit_lens_light(band, pixel_scale, sigma, psf_fwhm)[0])
    out = np.stack(out).astype(np.float32)
    return out[0] if x.ndim == 2 else out


def lens_light_warnings(models: dict[str, object], subtract: bool) -> list[str]:
    """What disagrees between the models' training images and ``--subtract-lens-light``: at
    most one line (a warning, not an error: the user may know better).

    Parameters
    ----------
    models : dict of str to ModelMeta
        Model path -> its metadata (``lens_light_subtracted``; False when absent, as in
        exports made before the field existed).
    subtract : bool
        Whether the inputs will have their lens light subtracted.
    """
    trained = [n for n, m in models.items() if getattr(m, "lens_light_subtracted", False)]
    kept = [n for n in models if n not in trained]
    if trained and not subtract:
        return [f"{', '.join(trained)}: trained on images with the lens light subtracted, but "
                "the inputs keep theirs (add --subtract-lens-light)"]
    if subtract and kept:
        return [f"{', '.join(kept)}: trained on images with the lens light, but "
                "--subtract-lens-light takes it out of the inputs"]
    return []
