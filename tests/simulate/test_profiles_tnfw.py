"""TNFW helpers against lenstronomy's TNFW and the M200 definition."""

import astropy.units as u
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM
from lenstronomy.LensModel.Profiles.tnfw import TNFW

from darklens.simulate.profiles.subhalo_sizes import (
    concentration_200,
    tnfw_sizes_from_m200,
    tnfw_sizes_from_total_mass,
)
from darklens.simulate.profiles.tnfw import (
    tnfw_convergence_radial,
    tnfw_deflection_exact,
    tnfw_deflection_table,
    tnfw_kwargs_from_mass,
    tnfw_total_mass,
)

CASES = [(0.05, 0.5), (0.01, 0.03), (0.1, 3.0), (0.02, 0.2)]


@pytest.mark.parametrize(("rs", "rt"), CASES)
def test_total_mass_matches_lenstronomy_mass_2d_at_large_radius(rs, rt):
    m_k = 3e-3
    kw = tnfw_kwargs_from_mass(m_k, rs, rt)
    prof = TNFW()
    rho0 = prof.alpha2rho0(float(kw["alpha_Rs"]), rs)
    m_far = prof.mass_2d(np.array([1e4 * rt]), rs, rho0, rt)[0]
    assert m_far == pytest.approx(m_k, rel=1e-4)
    assert float(tnfw_total_mass(**kw)) == pytest.approx(m_k, rel=1e-12)


@pytest.mark.parametrize(("rs", "rt"), CASES)
def test_deflection_and_convergence_match_lenstronomy(rs, rt):
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1, 1, (2, 300))
    x[0], y[0] = 0.01, 0.02  # exactly on the centre
    kw = {k: float(v) for k, v in tnfw_kwargs_from_mass(2e-3, rs, rt).items()}
    lx, ly = TNFW().derivatives(x, y, center_x=0.01, center_y=0.02, **kw)
    ax, ay = tnfw_deflection_exact(x, y, 0.01, 0.02, **kw)
    np.testing.assert_allclose(ax, lx, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(ay, ly, rtol=1e-9, atol=1e-15)
    r = np.hypot(x - 0.01, y - 0.02)
    rho0 = TNFW.alpha2rho0(kw["alpha_Rs"], rs)
    np.testing.assert_allclose(
        tnfw_convergence_radial(r, **kw), TNFW().density_2d(r, 0.0, rs, rho0, rt), rtol=1e-8
    )


def test_many_subhalos_sum_single_calls():
    rng = np.random.default_rng(1)
    n = 5
    kw = tnfw_kwargs_from_mass(rng.uniform(1e-4, 1e-3, n), rng.uniform(0.01, 0.1, n), 0.5)
    xc, yc = rng.uniform(-1, 1, (2, n))
    x, y = np.meshgrid(np.linspace(-1, 1, 7), np.linspace(-1, 1, 5))
    ax, ay = tnfw_deflection_exact(x, y, xc, yc, **kw)
    assert ax.shape == x.shape
    sx = sum(
        TNFW().derivatives(x, y, kw["Rs"][i], kw["alpha_Rs"][i], 0.5, xc[i], yc[i])[0]
        for i in range(n)
    )
    np.testing.assert_allclose(ax, sx, rtol=1e-9)


def test_sizes_follow_m200_definition_and_power_law():
    cosmo = FlatLambdaCDM(H0=70, Om0=0.3)
    m200 = np.array([1e6, 1e8, 1e10])
    z = 0.5
    d_l = cosmo.angular_diameter_distance(z).to_value(u.Mpc)
    rho_c = cosmo.critical_density(z).to_value(u.Msun / u.Mpc**3)
    rs, rt = tnfw_sizes_from_m200(m200, rho_c, d_l)
    np.testing.assert_allclose(rt / rs, 10.0)
    c = concentration_200(m200)
    np.testing.assert_allclose(c, 15.0 * (m200 / 1e8) ** -0.1)
    # Rebuild M200 from r200 = c Rs (arcsec -> Mpc) and 200 rho_crit(z).
    r200 = c * rs / 206264.80624709636 * d_l
    np.testing.assert_allclose(200 * rho_c * 4 / 3 * np.pi * r200**3, m200, rtol=1e-10)
    rs2, _ = tnfw_sizes_from_m200(1e8, rho_c, d_l, c0=30.0, tau=5.0)
    assert rs2 == pytest.approx(rs[1] / 2)


@pytest.mark.parametrize("tau", [10.0, 3.0, 25.0])
def test_tabulated_sum_matches_the_analytic_profile(tau):
    rng = np.random.default_rng(4)
    n = 120
    grid = (np.arange(96) - 47.5) * 0.04
    x, y = np.meshgrid(grid, grid)
    xc, yc = rng.uniform(-2.5, 2.5, n), rng.uniform(-2.5, 2.5, n)
    xc[0], yc[0] = x[10, 20], y[10, 20]  # one centre exactly on a ray
    rs = 10 ** rng.uniform(-2.2, -0.2, n)
    kw = tnfw_kwargs_from_mass(10 ** rng.uniform(-4, -2, n), rs, tau * rs)
    ex, ey = tnfw_deflection_exact(x, y, xc, yc, kw["Rs"], kw["alpha_Rs"], kw["r_trunc"])
    tx, ty = tnfw_deflection_table(x, y, xc, yc, kw["Rs"], kw["alpha_Rs"], kw["r_trunc"])
    err = np.hypot(tx - ex, ty - ey)
    norm = np.hypot(ex, ey)
    assert err.max() < 3e-5 * norm.max()
    assert np.all(err < 3e-4 * norm + 1e-9 * norm.max())
    assert tx.shape == x.shape and np.isfinite(tx).all()


def test_subhalo_mass_is_the_truncated_total_and_rs_follows_its_nfw_m200():
    cosmo = FlatLambdaCDM(H0=70, Om0=0.3)
    z = 0.5
    d_l = cosmo.angular_diameter_distance(z).to_value(u.Mpc)
    rho_c = cosmo.critical_density(z).to_value(u.Msun / u.Mpc**3)
    m = np.array([1e6, 1e8, 1e10])
    rs, rt, m200 = tnfw_sizes_from_total_mass(m, rho_c, d_l)
    c = concentration_200(m200)
    # Rs is r200 / c(M200) of that M200 ...
    rs_200, _ = tnfw_sizes_from_m200(m200, rho_c, d_l)
    np.testing.assert_allclose(rs, rs_200, rtol=1e-12)
    # ... and the NFW with the truncated profile's rho0 and Rs has exactly that M200
    sigma = 1e10  # any kappa-mass unit: M_sun per arcsec^2
    kw = tnfw_kwargs_from_mass(m / sigma, rs, rt)
    rho0 = TNFW.alpha2rho0(kw["alpha_Rs"], rs)  # kappa units, lengths in arcsec
    nfw_m200 = 4 * np.pi * rho0 * rs**3 * (np.log1p(c) - c / (1 + c)) * sigma
    np.testing.assert_allclose(nfw_m200, m200, rtol=1e-9)
    np.testing.assert_allclose(tnfw_total_mass(**kw) * sigma, m, rtol=1e-12)
    assert m200[1] / m[1] == pytest.approx(1.17, abs=0.01)  # c(1e8) ~ 15, tau = 10
