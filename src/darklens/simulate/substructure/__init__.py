"""Dark-matter substructure kinds, one registered entry each.

A kind declares its options (a dataclass validated from the ``substructure:`` block of the
config), the parameters it samples and the parameters it derives (names from
:mod:`darklens.params`), and a ``realise`` function that turns one image's random stream and
parameter values into derived values plus a *deflector*: a callable ``(x, y) -> (ax, ay)``
giving reduced deflections in arcsec, added to the main halo's by the renderer (a
:class:`Realisation`).

Add a kind with ``@SUBSTRUCTURE.register("name")`` on a :class:`Kind` subclass (in a module of
this package imported below); nothing else changes. ``substructure.compensate`` (registry
:data:`COMPENSATIONS`) chooses whether the substructure's mass is added on top of the halo
(``none``) or removed again by a negative convergence sheet over its region (``sheet``).
"""

from darklens.simulate.substructure import cdm, pyhalo, strings, vortex  # noqa: F401 - register
from darklens.simulate.substructure.base import (
    COMPENSATIONS,
    SUBSTRUCTURE,
    Context,
    Deflector,
    Kind,
    Plane,
    Realisation,
)
from darklens.simulate.substructure.cdm import power_law_masses, uniform_annulus

__all__ = ["COMPENSATIONS", "SUBSTRUCTURE", "Context", "Deflector", "Kind", "Plane", "Realisation",
           "power_law_masses", "uniform_annulus"]
