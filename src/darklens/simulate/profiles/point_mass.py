"""Vectorised deflection of many point masses.

A point of kappa-mass ``m_k = M / (Sigma_crit D_l^2)`` (arcsec^2) has Einstein radius
``theta_E = sqrt(m_k / pi)`` and deflects a ray at offset ``r`` by ``alpha = (m_k / pi) r / |r|^2``
(arcsec), identical to lenstronomy's ``POINT_MASS``.
"""

from __future__ import annotations

import numpy as np

from darklens.simulate.profiles._chunking import as_components, summed_over_components

__all__ = ["point_mass_deflection"]


def _kernel(x, y, xc, yc, m_k):
    dx, dy = x - xc, y - yc
    r2 = dx**2 + dy**2
    # A ray exactly on a point mass gets zero (the symmetric limit) rather than inf/NaN;
    # every other ray is unsoftened.
    inv = np.where(r2 > 0.0, m_k / (np.pi * np.where(r2 > 0.0, r2, 1.0)), 0.0)
    return dx * inv, dy * inv


def point_mass_deflection(x, y, xc, yc, m_k):
    """Summed reduced deflection of N point masses.

    Parameters
    ----------
    x, y : array_like
        Ray positions (arcsec), any common shape.
    xc, yc : float or array_like, shape (N,)
        Point-mass positions (arcsec).
    m_k : float or array_like, shape (N,)
        Kappa-masses (arcsec^2); ``theta_E^2 = m_k / pi``.

    Returns
    -------
    alpha_x, alpha_y : ndarray
        Deflection (arcsec) with the rays' shape, computed in chunks of at most ~4M
        (ray, mass) pairs.
    """
    return summed_over_components(_kernel, x, y, as_components(xc, yc, m_k), 2)
