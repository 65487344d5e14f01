"""Recursive multi-plane ray tracing through deflector planes (line-of-sight halos).

Each plane's deflector gives lenstronomy's multi-plane *reduced* deflection (reduced with
respect to the image's source redshift, the convention pyHalo's kwargs use) at angular
positions on that plane. Rays start at the observer with angle theta, travel comoving
transverse distances between planes and are bent at each by the physical deflection
``alpha_red * D_s / D_is`` (McCully et al. 2014, arXiv:1401.0197, eq. 4; lenstronomy's
``MultiPlaneBase``). This is full multi-plane tracing, not the decoupled approximation: every
plane sees the rays as bent by all the planes in front of it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from darklens.simulate.cosmology import cosmology
from darklens.simulate.substructure.base import Deflector

__all__ = ["plane_distances", "ray_shoot"]


@lru_cache(maxsize=1024)
def plane_distances(redshifts: tuple[float, ...], z_source: float, H0: float, Om0: float):
    """Distances the tracing needs, for planes sorted by redshift.

    Parameters
    ----------
    redshifts : tuple of float
        Plane redshifts, ascending, all below ``z_source``.
    z_source : float
        Source redshift.
    H0, Om0 : float
        Flat LambdaCDM (km/s/Mpc, dimensionless).

    Returns
    -------
    steps : ndarray
        Comoving transverse distance (Mpc) from the previous plane (the observer for the first)
        to each plane, then from the last plane to the source (len(redshifts) + 1).
    comoving : ndarray
        Comoving transverse distance (Mpc) from the observer to each plane, then the source.
    to_physical : ndarray
        Reduced-to-physical deflection factor D_s / D_is of each plane.
    """
    cos = cosmology(H0, Om0)
    z = np.array([*redshifts, z_source], float)
    comoving = cos.comoving_transverse_distance(z).to_value("Mpc")
    # flat universe: comoving transverse distances add along the line of sight, and
    # D_s / D_is = T_s / (T_s - T_i) (both angular distances carry the same 1 / (1 + z_s))
    steps = np.diff(comoving, prepend=0.0)
    return steps, comoving, comoving[-1] / (comoving[-1] - comoving[:-1])


def ray_shoot(x: np.ndarray, y: np.ndarray, planes: list[tuple[float, Deflector]],
              z_source: float, H0: float, Om0: float) -> tuple[np.ndarray, np.ndarray]:
    """Source-plane angular positions (arcsec) of rays seen at image positions (x, y) (arcsec).

    Parameters
    ----------
    x, y : ndarray
        Image-plane angles, arcsec.
    planes : list of (z, deflector)
        Deflector planes in any order; ``deflector(x, y) -> (ax, ay)`` is the reduced
        deflection (arcsec, w.r.t. ``z_source``) at angular positions on the plane.
    z_source : float
        Source redshift.
    H0, Om0 : float
        Flat LambdaCDM (km/s/Mpc, dimensionless).
    """
    planes = sorted(planes, key=lambda p: p[0])
    steps, comoving, to_physical = plane_distances(
        tuple(float(z) for z, _ in planes), float(z_source), float(H0), float(Om0)
    )
    x, y = np.asarray(x, float), np.asarray(y, float)
    px, py = np.zeros_like(x), np.zeros_like(y)  # comoving transverse positions, Mpc
    ax, ay = x.copy(), y.copy()  # ray angles, arcsec
    for k, (_, deflector) in enumerate(planes):
        px, py = px + ax * steps[k], py + ay * steps[k]
        dx, dy = deflector(px / comoving[k], py / comoving[k])
        ax, ay = ax - to_physical[k] * dx, ay - to_physical[k] * dy
    px, py = px + ax * steps[-1], py + ay * steps[-1]
    return px / comoving[-1], py / comoving[-1]
