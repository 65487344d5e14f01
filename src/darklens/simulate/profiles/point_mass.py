"""Vectorised deflection of many point masses.

A point of kappa-mass ``m_k = M / (Sigma_crit D_l^2)`` (arcsec^2) has Einstein radius
``theta_E = sqrt(m_k / pi)`` and deflects a ray at offset ``r`` by ``alpha = (m_k / pi) r / |r|^2``
(arcsec), identical to lenstronomy's ``POINT_MASS``.
"""

from __future__ import annotations

import numpy as np

from darklens.simulate.profiles._chunking import as_components
from darklens.simulate.profiles._kernels import add_point_masses

__all__ = ["point_mass_deflection"]


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
        Deflection (arcsec) with the rays' shape (compiled loop, no (ray, mass) temporaries).
    """
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    xc, yc, m_k = as_components(xc, yc, m_k)
    ax, ay = np.zeros(x.size), np.zeros(x.size)
    add_point_masses(x.ravel(), y.ravel(), xc, yc, m_k / np.pi, ax, ay)
    return ax.reshape(x.shape), ay.reshape(x.shape)
