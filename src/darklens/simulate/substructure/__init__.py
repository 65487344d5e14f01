"""Dark-matter substructure kinds, one registered entry each.

A kind declares its options (a dataclass validated from the ``substructure:`` block of the
config), the parameters it samples and the parameters it derives (names from
:mod:`darklens.params`), and a ``realise`` function that turns one image's random stream and
parameter values into derived values plus a *deflector*: a callable ``(x, y) -> (ax, ay)``
giving reduced deflections in arcsec, added to the main halo's by the renderer.

Add a kind with ``@SUBSTRUCTURE.register("name")`` on a class with these attributes (in a module
of this package imported below); nothing else changes.
"""

from darklens.simulate.substructure import cdm, strings, vortex  # noqa: F401 - register
from darklens.simulate.substructure.base import SUBSTRUCTURE, Context, Deflector
from darklens.simulate.substructure.cdm import power_law_masses, uniform_annulus

__all__ = ["SUBSTRUCTURE", "Context", "Deflector", "power_law_masses", "uniform_annulus"]
