"""What every substructure kind shares: the registry, the scene context it may read, what it
returns, and the mass sheet that can compensate it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from darklens.registry import Registry
from darklens.simulate.kind import SampledKind

__all__ = ["COMPENSATIONS", "SUBSTRUCTURE", "Context", "Deflector", "Kind", "Plane", "Realisation"]

Deflector = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

#: kind name -> :class:`Kind` subclass
SUBSTRUCTURE: Registry[type] = Registry("substructure kind")
#: ``substructure.compensate`` -> ``make(Realisation, Context) -> Deflector or None``
COMPENSATIONS: Registry = Registry("compensation")


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


@dataclass(frozen=True)
class Plane:
    """Deflectors at one redshift off the lens plane (line-of-sight halos).

    Attributes
    ----------
    z : float
        Plane redshift (below the source's).
    deflector : callable
        ``(x, y) -> (ax, ay)``: reduced deflection (arcsec) w.r.t. the image's source redshift
        at angular positions (arcsec) on this plane (lenstronomy's multi-plane convention).
    """

    z: float
    deflector: Deflector


@dataclass
class Realisation:
    """One image's substructure.

    Attributes
    ----------
    derived : dict
        Derived parameter values (names from :mod:`darklens.params`).
    deflector : callable or None
        Reduced deflection ``(x, y) -> (ax, ay)`` (arcsec).
    mass : float
        Total substructure mass, M_sun.
    region : (x, y, radius) or None
        The disc (arcsec) the mass is spread over, where a compensating sheet removes it.
    planes : list of Plane
        Deflectors at other redshifts; with any, images are ray traced through all planes
        (:mod:`darklens.simulate.multiplane`).
    """

    derived: dict = field(default_factory=dict)
    deflector: Deflector | None = None
    mass: float = 0.0
    region: tuple[float, float, float] | None = None
    planes: list[Plane] = field(default_factory=list)


class Kind(SampledKind):
    """Base of the substructure kinds: how one image's population is realised."""

    @staticmethod
    def realise(rng: np.random.Generator, values: dict, ctx: Context, opts) -> Realisation:
        raise NotImplementedError


@SUBSTRUCTURE.register("none")
class Smooth(Kind):
    """No substructure: the smooth halo alone."""

    @staticmethod
    def realise(rng, values, ctx, opts):
        return Realisation()


@COMPENSATIONS.register("none")
def _no_sheet(real: Realisation, ctx: Context) -> Deflector | None:
    """Substructure added on top of the halo (DeepLense): the lens gains its mass."""
    return None


@COMPENSATIONS.register("sheet")
def _negative_sheet(real: Realisation, ctx: Context) -> Deflector | None:
    """A uniform negative-convergence disc over the substructure's region removing its mass, so
    the mean convergence there, the Einstein radius and the far field are unchanged."""
    if real.mass <= 0 or real.region is None:
        return None
    from darklens.simulate.profiles.uniform_disc import disc_deflection

    x, y, radius = real.region
    kappa = -real.mass / ctx.sigma_crit / (math.pi * radius**2)
    return partial(disc_deflection, xc=x, yc=y, radius=radius, kappa=kappa)
