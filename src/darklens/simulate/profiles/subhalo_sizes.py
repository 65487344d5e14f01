"""Physical sizes of truncated-NFW subhalos: mass definition, concentration and truncation.

Mass definition: a subhalo's mass ``m`` is the *total* mass of its truncated profile, so the
subhalo masses sum to the substructure mass of the scene. Its scale radius comes from the
concentration of the untruncated NFW halo with the same ``rho0`` and ``Rs``, whose M200 is
therefore ``m * mu(c) / g_tot(tau)`` (about 1.18 m at c = 15, tau = 10), solved
self-consistently by :func:`tnfw_sizes_from_total_mass`. The mass-concentration relation is a
simple power law (see :func:`concentration_200`).
"""

from __future__ import annotations

import numpy as np

from darklens.simulate.profiles.tnfw import _g_total

__all__ = ["concentration_200", "tnfw_sizes_from_m200", "tnfw_sizes_from_total_mass"]

#: Default concentration-mass relation and truncation (see :func:`tnfw_sizes_from_m200`).
C0_DEFAULT = 15.0
BETA_DEFAULT = -0.1
M_PIVOT_DEFAULT = 1e8
TAU_DEFAULT = 10.0
_ARCSEC_PER_RAD = 180.0 / np.pi * 3600.0


def concentration_200(m200, c0=C0_DEFAULT, beta=BETA_DEFAULT, m_pivot=M_PIVOT_DEFAULT):
    """Power-law concentration ``c200 = c0 * (M200 / m_pivot)^beta``.

    Defaults ``c0 = 15``, ``beta = -0.1``, ``m_pivot = 1e8 M_sun``: a simple redshift-independent
    stand-in of the right size for 1e6-1e10 M_sun haloes, not a fit to simulations.
    """
    return c0 * (np.asarray(m200, dtype=float) / m_pivot) ** beta


def tnfw_sizes_from_m200(
    m200,
    rho_crit,
    d_l,
    c0=C0_DEFAULT,
    beta=BETA_DEFAULT,
    m_pivot=M_PIVOT_DEFAULT,
    tau=TAU_DEFAULT,
):
    """Scale and truncation radii (arcsec) of subhalos of physical mass ``m200``.

    Choices (cite these):

    * the subhalo mass is treated as ``M200`` with respect to the critical density at the
      lens redshift, ``M200 = 200 rho_crit(z_lens) 4/3 pi r200^3``;
    * concentration ``c200 = c0 (M200 / m_pivot)^beta`` with ``c0 = 15``, ``beta = -0.1``,
      ``m_pivot = 1e8 M_sun`` by default, ``Rs = r200 / c200``;
    * truncation ``r_trunc = tau * Rs`` with ``tau = 10`` by default;
    * physical lengths become angles with the angular-diameter distance ``D_l`` of ``z_lens``.

    Parameters
    ----------
    m200 : float or array_like
        Subhalo masses (M_sun).
    rho_crit : float
        Critical density at the lens redshift, M_sun / Mpc^3.
    d_l : float
        Angular-diameter distance to the lens, Mpc.
    c0, beta, m_pivot, tau : float
        Mass-concentration parameters and truncation ratio, overridable.

    Returns
    -------
    Rs, r_trunc : ndarray
        Scale and truncation radii (arcsec).
    """
    m200 = np.asarray(m200, dtype=float)
    r200 = (3.0 * m200 / (800.0 * np.pi * rho_crit)) ** (1.0 / 3.0)  # Mpc
    rs_mpc = r200 / concentration_200(m200, c0, beta, m_pivot)
    rs = rs_mpc / d_l * _ARCSEC_PER_RAD
    return rs, tau * rs


def _nfw_mu(c):
    """NFW mass inside r200 in units of 4 pi rho0 Rs^3: ln(1 + c) - c / (1 + c)."""
    return np.log1p(c) - c / (1.0 + c)


def tnfw_sizes_from_total_mass(
    m_total,
    rho_crit,
    d_l,
    c0=C0_DEFAULT,
    beta=BETA_DEFAULT,
    m_pivot=M_PIVOT_DEFAULT,
    tau=TAU_DEFAULT,
):
    """Scale and truncation radii (arcsec) of subhalos whose truncated total mass is ``m_total``.

    The truncated profile keeps the ``rho0`` and ``Rs`` of an NFW halo of mass M200 and
    concentration c(M200); its total mass is ``4 pi rho0 Rs^3 g_tot(tau)`` while
    ``M200 = 4 pi rho0 Rs^3 mu(c)``, so ``M200 = m_total mu(c) / g_tot(tau)``. c depends on
    M200 only weakly (power ``beta``), and the fixed-point iteration converges to 1e-12 in a few
    steps. Parameters as in :func:`tnfw_sizes_from_m200`, with ``m_total`` in M_sun.

    Returns
    -------
    Rs, r_trunc : ndarray
        Scale and truncation radii (arcsec).
    m200 : ndarray
        M200 of the untruncated NFW halo (M_sun), >= m_total for tau > ~2.
    """
    m_total = np.asarray(m_total, dtype=float)
    ratio = 1.0 / float(_g_total(tau))
    m200 = m_total.copy()
    for _ in range(50):
        new = m_total * _nfw_mu(concentration_200(m200, c0, beta, m_pivot)) * ratio
        done = np.allclose(new, m200, rtol=1e-13, atol=0.0)
        m200 = new
        if done:
            break
    rs, r_trunc = tnfw_sizes_from_m200(m200, rho_crit, d_l, c0, beta, m_pivot, tau)
    return rs, r_trunc, m200
