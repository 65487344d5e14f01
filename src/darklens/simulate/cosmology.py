"""Distances, critical density and the halo mass <-> Einstein radius relation.

Masses are turned into lensing units once, here. A projected mass M seen at the lens is the
"kappa-mass" ``m_k = M / Sigma_cr`` in arcsec^2 (Sigma_cr per arcsec^2 at the lens), so a point
mass has theta_E^2 = m_k / pi and a halo whose mean convergence inside theta_E is one (the
definition of the Einstein radius) has

    M(<theta_E) = pi * Sigma_cr * (D_L theta_E)^2   <=>   theta_E = sqrt(M / (pi Sigma_cr_angle)).

For lenstronomy's SIE the region inside the critical curve is the ellipse of area pi theta_E^2
and mean convergence one, so the same relation holds for elliptical halos.
"""

from __future__ import annotations

import math
from functools import lru_cache

from astropy import constants as const
from astropy import units as u
from astropy.cosmology import FlatLambdaCDM

__all__ = [
    "ARCSEC",
    "cosmology",
    "kpc_per_arcsec",
    "lens_plane",
    "sigma_crit_angle",
    "mass_to_theta_E",
    "theta_E_to_mass",
]

ARCSEC = math.pi / 180.0 / 3600.0  # radians per arcsec

# G / c^2 in Mpc per solar mass: Sigma_cr = c^2 D_s / (4 pi G D_l D_ls)
_G_OVER_C2 = (const.G * const.M_sun / const.c**2).to_value(u.Mpc)


@lru_cache(maxsize=16)
def cosmology(H0: float = 70.0, Om0: float = 0.3) -> FlatLambdaCDM:
    """Flat LambdaCDM; cached so every caller with the same numbers shares one instance."""
    return FlatLambdaCDM(H0=H0, Om0=Om0)


@lru_cache(maxsize=4096)
def _distances(z_lens: float, z_source: float, H0: float, Om0: float):
    cosmo = cosmology(H0, Om0)
    d_l = cosmo.angular_diameter_distance(z_lens).to_value(u.Mpc)
    d_s = cosmo.angular_diameter_distance(z_source).to_value(u.Mpc)
    d_ls = cosmo.angular_diameter_distance(z_lens, z_source).to_value(u.Mpc)
    return d_l, d_s, d_ls


def sigma_crit_angle(z_lens: float, z_source: float, H0: float = 70.0, Om0: float = 0.3) -> float:
    """Critical surface density per angular area at the lens.

    Parameters
    ----------
    z_lens, z_source : float
        Redshifts; ``z_source > z_lens``.
    H0 : float
        Hubble constant, km/s/Mpc.
    Om0 : float
        Matter density today (flat universe).

    Returns
    -------
    float
        Sigma_cr * D_L^2 * arcsec^2, in M_sun / arcsec^2.
    """
    if not z_source > z_lens:
        raise ValueError(f"z_source ({z_source}) must exceed z_lens ({z_lens})")
    d_l, d_s, d_ls = _distances(float(z_lens), float(z_source), float(H0), float(Om0))
    sigma_cr = d_s / (4.0 * math.pi * _G_OVER_C2 * d_l * d_ls)  # M_sun / Mpc^2
    return sigma_cr * (d_l * ARCSEC) ** 2


@lru_cache(maxsize=4096)
def lens_plane(z_lens: float, H0: float = 70.0, Om0: float = 0.3) -> tuple[float, float]:
    """Angular-diameter distance to the lens (Mpc) and critical density there (M_sun/Mpc^3)."""
    cosmo = cosmology(H0, Om0)
    return (cosmo.angular_diameter_distance(z_lens).to_value(u.Mpc),
            cosmo.critical_density(z_lens).to_value(u.M_sun / u.Mpc**3))


def kpc_per_arcsec(z_lens: float, H0: float = 70.0, Om0: float = 0.3) -> float:
    """Proper transverse size of one arcsec at the lens, kpc."""
    return lens_plane(z_lens, H0, Om0)[0] * 1e3 * ARCSEC


def mass_to_theta_E(mass: float, z_lens: float, z_source: float, H0: float = 70.0,
                    Om0: float = 0.3) -> float:
    """Einstein radius (arcsec) of a halo with projected mass ``mass`` (M_sun) inside it."""
    return math.sqrt(mass / (math.pi * sigma_crit_angle(z_lens, z_source, H0, Om0)))


def theta_E_to_mass(theta_E: float, z_lens: float, z_source: float, H0: float = 70.0,
                    Om0: float = 0.3) -> float:
    """Projected mass (M_sun) inside an Einstein radius ``theta_E`` (arcsec)."""
    return math.pi * sigma_crit_angle(z_lens, z_source, H0, Om0) * theta_E**2
