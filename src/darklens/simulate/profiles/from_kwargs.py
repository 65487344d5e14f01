"""Deflectors from lenstronomy profile lists: one vectorised call per profile type.

A population given as lenstronomy ``(lens_model_list, kwargs_lens)`` (what pyHalo's
``lensing_quantities`` returns) is summed one Python step per profile by lenstronomy's
``LensModel``. :func:`plane_deflector` instead groups the profiles by name and hands each group
to a compiled or vectorised kernel of :data:`FAST_PROFILES`:

- ``TNFW``: :func:`~darklens.simulate.profiles.tnfw.tnfw_deflection_table` (one table per
  truncation ratio, ~1e-5 of the analytic deflection);
- ``POINT_MASS``: :func:`~darklens.simulate.profiles.point_mass.point_mass_deflection`;
- ``CONVERGENCE``: uniform sheets, ``kappa * (x - ra_0, y - dec_0)`` summed into one;
- ``GAUSSIAN`` (circular Gaussian convergence, ULDM fluctuations): a compiled loop, exact
  within 6 sigma of each centre and a point mass beyond (where they differ by exp(-18)).

Every other name (NFW, CNFW, ULDM, SIS, ...) falls back to lenstronomy's own ``LensModel`` of
that group, so the sum is always complete. All deflections are reduced, in arcsec.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numba
import numpy as np

from darklens.registry import Registry

__all__ = ["FAST_PROFILES", "plane_deflector"]

#: lenstronomy profile name -> ``make(list of kwargs) -> Deflector``
FAST_PROFILES: Registry = Registry("fast lenstronomy profile")


def _column(kwargs: list[dict], key: str, default: float | None = None) -> np.ndarray:
    return np.array([kw.get(key, default) if default is not None else kw[key] for kw in kwargs],
                    dtype=float)


@FAST_PROFILES.register("TNFW")
def _tnfw(kwargs: list[dict]):
    from darklens.simulate.profiles.tnfw import tnfw_deflection_table

    return partial(tnfw_deflection_table, xc=_column(kwargs, "center_x", 0.0),
                   yc=_column(kwargs, "center_y", 0.0), Rs=_column(kwargs, "Rs"),
                   alpha_Rs=_column(kwargs, "alpha_Rs"), r_trunc=_column(kwargs, "r_trunc"))


@FAST_PROFILES.register("POINT_MASS")
def _point_mass(kwargs: list[dict]):
    from darklens.simulate.profiles.point_mass import point_mass_deflection

    return partial(point_mass_deflection, xc=_column(kwargs, "center_x", 0.0),
                   yc=_column(kwargs, "center_y", 0.0),
                   m_k=np.pi * _column(kwargs, "theta_E") ** 2)


@dataclass
class _Sheets:
    """Sum of uniform sheets: sum_k kappa_k (x - ra_k) = K x - sum_k kappa_k ra_k."""

    kappa: float
    shift_x: float
    shift_y: float

    def __call__(self, x, y):
        x, y = np.asarray(x, float), np.asarray(y, float)
        return self.kappa * x - self.shift_x, self.kappa * y - self.shift_y


@FAST_PROFILES.register("CONVERGENCE")
def _sheets(kwargs: list[dict]):
    kappa = _column(kwargs, "kappa")
    return _Sheets(float(kappa.sum()), float(kappa @ _column(kwargs, "ra_0", 0.0)),
                   float(kappa @ _column(kwargs, "dec_0", 0.0)))


#: lenstronomy's floor on the radius of its Gaussian profile (``Gaussian.ds``), arcsec
_GAUSS_R_MIN = 1e-5
#: rays farther than this many sigma from a Gaussian see it as a point mass (to exp(-18))
_GAUSS_NEAR = 6.0


@numba.njit(cache=True, fastmath=True)
def _add_gaussians(x, y, xc, yc, amp_over_pi, near2, two_sigma2, ax, ay):
    """ax, ay += sum_j amp_j/pi (1 - exp(-R^2 / 2 sigma_j^2)) / R^2 * (r - r_j), R floored at
    lenstronomy's 1e-5 arcsec (as a point mass beyond 6 sigma)."""
    r_min2 = _GAUSS_R_MIN * _GAUSS_R_MIN
    for j in range(xc.size):
        a, cx, cy, n2, s2 = amp_over_pi[j], xc[j], yc[j], near2[j], two_sigma2[j]
        for i in range(x.size):
            dx = x[i] - cx
            dy = y[i] - cy
            r2 = dx * dx + dy * dy
            if r2 > n2:
                s = a / r2
            else:
                r2 = max(r2, r_min2)
                s = -a * np.expm1(-r2 / s2) / r2
            ax[i] += s * dx
            ay[i] += s * dy


@dataclass
class _Gaussians:
    """Circular Gaussian convergences (lenstronomy ``GAUSSIAN``), in one compiled loop:
    alpha = amp (1 - exp(-R^2 / 2 sigma^2)) / (pi R^2) * r."""

    xc: np.ndarray
    yc: np.ndarray
    amp: np.ndarray
    sigma: np.ndarray

    def __call__(self, x, y):
        x, y = np.broadcast_arrays(np.asarray(x, float), np.asarray(y, float))
        ax, ay = np.zeros(x.size), np.zeros(x.size)
        _add_gaussians(x.ravel(), y.ravel(), self.xc, self.yc, self.amp / np.pi,
                       (_GAUSS_NEAR * self.sigma) ** 2, 2.0 * self.sigma**2, ax, ay)
        return ax.reshape(x.shape), ay.reshape(x.shape)


@FAST_PROFILES.register("GAUSSIAN")
def _gaussians(kwargs: list[dict]):
    return _Gaussians(_column(kwargs, "center_x", 0.0), _column(kwargs, "center_y", 0.0),
                      _column(kwargs, "amp"), _column(kwargs, "sigma"))


@dataclass
class _Lenstronomy:
    """Profiles without a darklens kernel, summed by lenstronomy's single-plane LensModel."""

    names: list[str]
    kwargs: list[dict]

    def __post_init__(self):
        from lenstronomy.LensModel.lens_model import LensModel

        self.model = LensModel(self.names)

    def __call__(self, x, y):
        x, y = np.asarray(x, float), np.asarray(y, float)
        return self.model.alpha(x, y, self.kwargs)


@dataclass
class _Summed:
    """Sum of deflectors (one per profile group)."""

    parts: list

    def __call__(self, x, y):
        x, y = np.asarray(x, float), np.asarray(y, float)
        ax, ay = np.zeros(np.broadcast_shapes(x.shape, y.shape)), np.zeros(
            np.broadcast_shapes(x.shape, y.shape))
        for part in self.parts:
            dx, dy = part(x, y)
            ax, ay = ax + dx, ay + dy
        return ax, ay


def plane_deflector(names: list[str], kwargs: list[dict], fast: bool = True) -> _Summed:
    """Summed reduced deflection ``(x, y) -> (ax, ay)`` (arcsec) of lenstronomy profiles.

    Parameters
    ----------
    names : list of str
        lenstronomy profile names (``lens_model_list``), all on one plane.
    kwargs : list of dict
        Their lenstronomy keyword arguments (angles in arcsec).
    fast : bool
        Use :data:`FAST_PROFILES` where a name has one (else lenstronomy for everything).

    Returns
    -------
    callable
        One call per profile type present; its ``parts`` are the per-type deflectors.
    """
    groups: dict[str, list[dict]] = {}
    for name, kw in zip(names, kwargs, strict=True):
        groups.setdefault(name, []).append(kw)
    parts, slow_names, slow_kwargs = [], [], []
    for name, kws in groups.items():
        if fast and name in FAST_PROFILES:
            parts.append(FAST_PROFILES.get(name)(kws))
        else:
            slow_names += [name] * len(kws)
            slow_kwargs += kws
    if slow_names:
        parts.append(_Lenstronomy(slow_names, slow_kwargs))
    return _Summed(parts)
