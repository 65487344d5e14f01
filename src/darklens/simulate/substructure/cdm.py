"""CDM subhalos: a Poisson number of point-mass or truncated-NFW subhalos around the lens."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np

from darklens.config import bounded
from darklens.errors import DarklensError
from darklens.registry import Registry
from darklens.simulate.substructure.base import SUBSTRUCTURE, Context, Deflector

__all__ = ["SUBHALO_PROFILES", "CDM", "power_law_masses", "uniform_annulus"]

#: subhalo profile name -> ``make(masses, xc, yc, ctx, opts) -> Deflector``
SUBHALO_PROFILES: Registry = Registry("subhalo profile")


def power_law_masses(rng: np.random.Generator, n: int, beta: float, m_min: float,
                     m_max: float) -> np.ndarray:
    """Draw ``n`` masses from dN/dm ∝ m^beta on [m_min, m_max] (M_sun) by inverse CDF."""
    u = rng.uniform(size=n)
    if abs(beta + 1.0) < 1e-12:
        return m_min * (m_max / m_min) ** u
    a = beta + 1.0
    return (m_min**a + u * (m_max**a - m_min**a)) ** (1.0 / a)


def uniform_annulus(rng: np.random.Generator, n: int, r_min: float, r_max: float):
    """``n`` points uniform in area in the annulus r_min <= r <= r_max (arcsec)."""
    r = np.sqrt(rng.uniform(r_min**2, r_max**2, size=n))
    phi = rng.uniform(0.0, 2.0 * math.pi, size=n)
    return r * np.cos(phi), r * np.sin(phi)


@SUBHALO_PROFILES.register("point_mass")
def _point_masses(masses, xc, yc, ctx: Context, opts) -> Deflector:
    from darklens.simulate.profiles.point_mass import point_mass_deflection

    return partial(point_mass_deflection, xc=xc, yc=yc, m_k=masses / ctx.sigma_crit)


@SUBHALO_PROFILES.register("tnfw")
def _tnfw(masses, xc, yc, ctx: Context, opts) -> Deflector:
    from darklens.simulate.cosmology import lens_plane
    from darklens.simulate.profiles import tnfw

    d_l, rho_crit = lens_plane(ctx.z_lens, ctx.H0, ctx.Om0)
    rs, r_trunc = tnfw.tnfw_sizes_from_m200(
        masses, rho_crit, d_l, c0=opts.concentration_c0,
        beta=opts.concentration_slope, tau=opts.truncation_tau,
    )
    alpha_rs = tnfw.tnfw_alpha_rs_from_mass(masses / ctx.sigma_crit, rs, r_trunc)
    return _TNFWField(xc, yc, rs, alpha_rs, r_trunc, opts.method)


@dataclass
class _TNFWField:
    """TNFW subhalos in lenstronomy parameters, summed by ``method`` (table or exact)."""

    xc: np.ndarray
    yc: np.ndarray
    rs: np.ndarray
    alpha_rs: np.ndarray
    r_trunc: np.ndarray
    method: str

    def __call__(self, x, y):
        from darklens.simulate.profiles import tnfw

        fn = tnfw.tnfw_deflection_table if self.method == "table" else tnfw.tnfw_deflection_exact
        return fn(x, y, self.xc, self.yc, self.rs, self.alpha_rs, self.r_trunc)


@SUBSTRUCTURE.register("cdm")
class CDM:
    """CDM subhalos (DeepLense-compatible defaults).

    N ~ Poisson(n_subhalos_mean) (at least one when f_sub > 0, so the total is exact); masses
    from dN/dm ∝ m^beta on [m_min, m_max] M_sun, then rescaled so that their sum is exactly
    f_sub x the halo mass inside the Einstein radius; positions uniform in area in the annulus
    [r_min, r_max] arcsec around the halo centre. ``profile: point_mass`` (as DeepLense) or
    ``tnfw`` (truncated NFW whose *total* mass is the subhalo mass; scale radius from the
    mass–concentration relation and truncation radius in
    :mod:`darklens.simulate.profiles.tnfw`). ``method: table`` sums TNFW subhalos from a
    tabulated profile in a compiled loop (~1e-6 of the analytic deflection, 5-10x faster than
    lenstronomy's per-profile loop); ``exact`` evaluates the analytic profile.
    """

    params = ("f_sub", "n_subhalos_mean")
    derived = ("n_subhalos",)

    @dataclass
    class Options:
        profile: str = bounded("point_mass", choices=SUBHALO_PROFILES)
        method: str = bounded("table", choices=("table", "exact"))
        m_min: float = bounded(1e6, gt=0)
        m_max: float = bounded(1e10, gt=0)
        beta: float = -0.9
        r_min: float = bounded(0.0, ge=0)
        r_max: float = bounded(2.0, gt=0)
        concentration_c0: float = bounded(15.0, gt=0)
        concentration_slope: float = -0.1
        truncation_tau: float = bounded(10.0, gt=1)

        def validate(self, where):
            if self.m_min > self.m_max:
                raise DarklensError(f"{where}.m_min: must not exceed m_max ({self.m_max:g})")
            if self.r_min >= self.r_max:
                raise DarklensError(f"{where}.r_min: must be below r_max ({self.r_max:g})")

    @staticmethod
    def realise(rng, values, ctx, opts):
        f_sub = values["f_sub"]
        n = int(rng.poisson(values["n_subhalos_mean"]))
        if f_sub > 0:
            n = max(n, 1)
        masses = power_law_masses(rng, n, opts.beta, opts.m_min, opts.m_max)
        if n:
            masses *= f_sub * ctx.halo_mass / masses.sum()
        dx, dy = uniform_annulus(rng, n, opts.r_min, opts.r_max)
        if n == 0:
            return {"n_subhalos": 0}, None
        xc, yc = ctx.center[0] + dx, ctx.center[1] + dy
        return {"n_subhalos": n}, SUBHALO_PROFILES.get(opts.profile)(masses, xc, yc, ctx, opts)
