"""What every substructure kind shares: the registry and the scene context it may read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from darklens.registry import Registry

__all__ = ["SUBSTRUCTURE", "Context", "Deflector"]

Deflector = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

#: kind name -> class with ``Options``, ``params``, ``derived`` and ``realise``
SUBSTRUCTURE: Registry[type] = Registry("substructure kind")


@dataclass(frozen=True)
class Context:
    """What a substructure kind may read about the scene it perturbs.

    Attributes
    ----------
    z_lens, z_source : float
        Redshifts.
    H0, Om0 : float
        Cosmology (km/s/Mpc, dimensionless).
    sigma_crit : float
        Critical density per angular area at the lens, M_sun/arcsec^2.
    halo_mass : float
        Main halo mass inside the Einstein radius, M_sun.
    theta_E : float
        Einstein radius, arcsec.
    center : tuple of float
        Halo centre, arcsec.
    field_of_view : float
        Image side, arcsec.
    """

    z_lens: float
    z_source: float
    H0: float
    Om0: float
    sigma_crit: float
    halo_mass: float
    theta_E: float
    center: tuple[float, float]
    field_of_view: float


@SUBSTRUCTURE.register("none")
class Smooth:
    """No substructure: the smooth halo alone."""

    params: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()

    @dataclass
    class Options:
        pass

    @staticmethod
    def realise(rng, values, ctx, opts):
        return {}, None
