"""Where the lens-light fit (:mod:`darklens.infer.lens_light`) starts: the pixel noise,
whether there is a galaxy at all, its centre, and a round Sersic from the radial profile."""

from __future__ import annotations

import numpy as np

__all__ = ["CENTRE_RANGE", "DETECTION", "N_RANGE", "detected", "initial", "noise_map"]

#: Sersic index bounds: lens galaxies are early types; a profile flatter than exponential is
#: how a fit goes wrong (it follows an Einstein ring instead of the galaxy)
N_RANGE = (1.0, 8.0)
#: the centre may move at most this fraction of the image side (at least 3 pixels) from the
#: image centre
CENTRE_RANGE = 0.05
#: no light is fitted when the central peak (3x3 mean) is below this many sigma
DETECTION = 5.0


def _noise(image, finite) -> float:
    """Robust pixel rms from horizontally adjacent differences (smooth light cancels)."""
    diff = np.diff(np.where(finite, image, np.nan), axis=-1)
    diff = diff[np.isfinite(diff)]
    if diff.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(diff - np.median(diff))) / np.sqrt(2.0))


def noise_map(image, finite, noise_sigma) -> np.ndarray:
    """Per-pixel noise sigma: given, else estimated; floored so a noiseless image still has
    finite weights."""
    floor = 1e-6 * float(np.nanmax(np.abs(np.where(finite, image, np.nan)))) + 1e-30
    if noise_sigma is None:
        return np.full(image.shape, max(_noise(image, finite), floor))
    sigma = np.broadcast_to(np.asarray(noise_sigma, dtype=np.float64), image.shape)
    ok = np.isfinite(sigma) & (sigma > 0)
    fill = float(np.median(sigma[ok])) if ok.any() else max(_noise(image, finite), floor)
    return np.maximum(np.where(ok, sigma, fill), floor)


def detected(image, finite, sigma_n) -> bool:
    """Whether the central half of the image holds light above ``DETECTION`` sigma (3x3 mean,
    so one hot pixel does not count)."""
    from scipy.ndimage import uniform_filter

    h, w = image.shape
    smooth = uniform_filter(np.where(finite, image, 0.0), 3, mode="constant")
    noise = uniform_filter(sigma_n**2, 3, mode="constant") ** 0.5 / 3.0
    centre = (slice(h // 4, h - h // 4), slice(w // 4, w - w // 4))
    return bool(np.any(smooth[centre] > DETECTION * noise[centre]))


def _centre(image, finite, pixel_scale):
    """Where the light peaks nearest the image centre (arcsec from it): a few mean-shift
    steps (centroid of the 5x5 pixels around the current point) from the centre, so a bright
    arc off-centre does not capture it the way the brightest pixel would."""
    h, w = image.shape
    c = max(3.0, CENTRE_RANGE * min(h, w))
    light = np.clip(np.where(finite, image, 0.0), 0.0, None)
    y, x = (h - 1) / 2, (w - 1) / 2
    for _ in range(5):
        i, j = int(round(y)), int(round(x))
        patch = light[max(i - 2, 0) : i + 3, max(j - 2, 0) : j + 3]
        yy, xx = np.mgrid[max(i - 2, 0) : max(i - 2, 0) + patch.shape[0],
                          max(j - 2, 0) : max(j - 2, 0) + patch.shape[1]]
        total = patch.sum()
        if total <= 0:
            break
        y = float(np.clip((patch * yy).sum() / total, (h - 1) / 2 - c, (h - 1) / 2 + c))
        x = float(np.clip((patch * xx).sum() / total, (w - 1) / 2 - c, (w - 1) / 2 + c))
    return (x - (w - 1) / 2) * pixel_scale, (y - (h - 1) / 2) * pixel_scale


def _radial(image, finite, cx, cy, pixel_scale):
    """Radius (arcsec) and the 25th percentile of the light in 1-pixel circular annuli out to
    the inscribed circle: arcs covering less than 3/4 of an annulus do not move it."""
    h, w = image.shape
    yy, xx = np.mgrid[:h, :w]
    r = np.hypot((xx - (w - 1) / 2) * pixel_scale - cx, (yy - (h - 1) / 2) * pixel_scale - cy)
    k = np.floor(r / pixel_scale).astype(int)
    radii, levels = [], []
    for ring in range(min(h, w) // 2):
        sel = (k == ring) & finite
        if sel.sum() >= 3:
            radii.append(float(r[sel].mean()))
            levels.append(float(np.percentile(image[sel], 25)))
    return np.array(radii), np.array(levels)


def initial(image, finite, pixel_scale):
    """``[cx, cy, log R_sersic, n, e1, e2]`` to start from: the centre (:func:`_centre`) and a
    round Sersic fitted in log space to the annuli that look like pure galaxy light.

    The galaxy's profile falls monotonically and is nowhere above the data, so annuli fainter
    than every annulus inside them are its best witnesses; annuli brighter than one inside
    them hold arc light and are left out.
    """
    from scipy.optimize import least_squares

    cx, cy = _centre(image, finite, pixel_scale)
    r, level = _radial(image, finite, cx, cy, pixel_scale)
    clean = (level > 0) & (level <= np.minimum.accumulate(np.where(level > 0, level, np.inf)))
    r, log_level = r[clean], np.log(level[clean])
    if len(r) < 4:  # too little light for a profile: a small, de Vaucouleurs-like start
        return np.array([cx, cy, np.log(3 * pixel_scale), 4.0, 0.0, 0.0])

    def residuals(q):  # q = log I_e, log R, n; b_n as lenstronomy approximates it
        b = max(1.9992 * q[2] - 0.3271, 1e-3)
        return log_level - (q[0] - b * ((r / np.exp(q[1])) ** (1 / q[2]) - 1))

    lo = [-np.inf, np.log(0.3 * pixel_scale), N_RANGE[0]]
    hi = [np.inf, np.log(2 * r[-1]), N_RANGE[1]]
    best = None
    for n0 in (1.0, 2.5, 4.0, 6.0):  # the profile fit has local minima along n-R
        q0 = [float(np.interp(r[-1] / 4, r, log_level)), np.log(r[-1] / 4), n0]
        fit = least_squares(residuals, q0, bounds=(lo, hi))
        best = fit if best is None or fit.cost < best.cost else best
    return np.array([cx, cy, best.x[1], best.x[2], 0.0, 0.0])
