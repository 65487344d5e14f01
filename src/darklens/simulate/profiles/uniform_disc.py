"""A disc of uniform convergence: the mass sheet that compensates added substructure.

A disc of radius ``R`` and convergence ``kappa`` (kappa-mass ``pi R^2 kappa``) deflects a ray at
offset ``r`` by ``kappa r`` inside the disc and ``kappa R^2 r / |r|^2`` outside it (all of the mass
enclosed, as a point). A negative ``kappa`` removes mass.
"""

from __future__ import annotations

import numpy as np

__all__ = ["disc_deflection"]


def disc_deflection(x, y, xc: float, yc: float, radius: float, kappa: float):
    """Reduced deflection (arcsec) of a uniform disc.

    Parameters
    ----------
    x, y : array_like
        Ray positions (arcsec), any common shape.
    xc, yc, radius : float
        Disc centre and radius (arcsec), ``radius > 0``.
    kappa : float
        Convergence of the disc (dimensionless; negative for a compensating sheet).

    Returns
    -------
    alpha_x, alpha_y : ndarray
    """
    dx, dy = np.asarray(x, dtype=float) - xc, np.asarray(y, dtype=float) - yc
    r2 = dx * dx + dy * dy
    factor = kappa * np.minimum(1.0, radius**2 / np.maximum(r2, 1e-300))
    return factor * dx, factor * dy
