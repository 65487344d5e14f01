"""Halo mass <-> Einstein radius against an independent computation and lenstronomy."""

from __future__ import annotations

import math

import pytest
from astropy import constants as const
from astropy import units as u
from astropy.cosmology import FlatLambdaCDM
from lenstronomy.Cosmo.lens_cosmo import LensCosmo

from darklens.simulate.cosmology import mass_to_theta_E, sigma_crit_angle, theta_E_to_mass


@pytest.mark.parametrize(("z_l", "z_s"), [(0.5, 2.0), (0.3, 3.0), (0.7, 1.5), (0.2, 0.6)])
def test_theta_E_from_mass_matches_point_mass_formula(z_l, z_s):
    # theta_E^2 = 4 G M D_ls / (c^2 D_l D_s): a point mass's Einstein radius, whose mean
    # convergence inside theta_E is one, computed with astropy quantities end to end.
    cosmo = FlatLambdaCDM(H0=70, Om0=0.3)
    mass = 10**11.3 * u.M_sun
    d_l = cosmo.angular_diameter_distance(z_l)
    d_s = cosmo.angular_diameter_distance(z_s)
    d_ls = cosmo.angular_diameter_distance(z_l, z_s)
    theta = (4 * const.G * mass * d_ls / (const.c**2 * d_l * d_s)).decompose() ** 0.5
    expected = (theta.value * u.rad).to_value(u.arcsec)
    assert mass_to_theta_E(10**11.3, z_l, z_s) == pytest.approx(expected, rel=1e-6)


def test_sigma_crit_matches_lenstronomy():
    lc = LensCosmo(0.5, 2.0, cosmo=FlatLambdaCDM(H0=70, Om0=0.3))
    # lenstronomy carries its own (older) G, c and M_sun: they differ from astropy's by 3e-4
    assert sigma_crit_angle(0.5, 2.0) == pytest.approx(lc.sigma_crit_angle, rel=1e-3)


def test_mass_round_trip_and_preset_range():
    assert theta_E_to_mass(mass_to_theta_E(3e11, 0.5, 2.0), 0.5, 2.0) == pytest.approx(3e11)
    # the hst_halo_mass preset's promise: log10 M in [10.7, 11.9] -> 0.45"-1.8"
    assert mass_to_theta_E(10**10.7, 0.5, 2.0) == pytest.approx(0.45, abs=0.01)
    assert mass_to_theta_E(10**11.9, 0.5, 2.0) == pytest.approx(1.8, abs=0.02)
    with pytest.raises(ValueError):
        sigma_crit_angle(1.0, 0.5)
    assert math.isfinite(sigma_crit_angle(0.01, 0.02))
