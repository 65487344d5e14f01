"""One axion vortex: a straight line of mass through the lens plane (DeepLense)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

from darklens.config import bounded
from darklens.registry import Registry
from darklens.simulate.substructure.base import SUBSTRUCTURE, Deflector, Kind, Realisation

__all__ = ["LINE_MASSES", "Vortex"]

#: how a line mass is rendered: name -> ``make(segment kwargs, opts) -> Deflector``
LINE_MASSES: Registry = Registry("line-mass implementation")


@LINE_MASSES.register("segment")
def _segment(kw: dict, opts) -> Deflector:
    from darklens.simulate.profiles.line_segment import segment_deflection

    return partial(segment_deflection, **kw)


@LINE_MASSES.register("chain")
def _chain(kw: dict, opts) -> Deflector:
    from darklens.simulate.profiles.line_segment import chain_deflection

    return partial(chain_deflection, n_points=opts.n_chain,
                   endpoints=opts.chain_spacing == "linspace", **kw)


@SUBSTRUCTURE.register("vortex")
class Vortex(Kind):
    """One axion vortex: a straight line mass through the lens plane (DeepLense).

    Centre ~ N(halo centre, center_sigma) arcsec, orientation uniform, half-length
    ``half_length`` x (1e-22 eV / m_a), in arcsec or, with ``length_unit: kpc``, in kpc at the
    lens redshift (DeepLense: 0.03 arcsec whatever z_lens), total mass vortex_mass_fraction x
    halo mass, uniform along the line. ``implementation: segment`` uses the exact finite-line
    deflection; ``chain`` places ``n_chain`` equal point masses along the line, at the centres
    of equal cells (``chain_spacing: cells``) or at ``linspace(-L, L, n_chain)`` including the
    end points (``linspace``, as DeepLense did).
    """

    params = ("log10_m_axion", "vortex_mass_fraction")
    derived = ("vortex_x", "vortex_y", "vortex_angle", "vortex_length")

    @dataclass
    class Options:
        implementation: str = bounded("segment", choices=LINE_MASSES)
        n_chain: int = bounded(100, ge=2)
        chain_spacing: str = bounded("cells", choices=("cells", "linspace"))
        center_sigma: float = bounded(0.3, ge=0)
        half_length: float = bounded(0.03, gt=0)
        length_unit: str = bounded("arcsec", choices=("arcsec", "kpc"))

    @staticmethod
    def realise(rng, values, ctx, opts):
        x0 = ctx.center[0] + rng.normal(0.0, opts.center_sigma)
        y0 = ctx.center[1] + rng.normal(0.0, opts.center_sigma)
        angle = rng.uniform(-math.pi, math.pi)
        half = opts.half_length * 10.0 ** (-22.0 - values["log10_m_axion"])
        if opts.length_unit == "kpc":
            from darklens.simulate.cosmology import kpc_per_arcsec

            half /= kpc_per_arcsec(ctx.z_lens, ctx.H0, ctx.Om0)
        mass = values["vortex_mass_fraction"] * ctx.halo_mass
        kw = dict(x0=x0, y0=y0, half_length=half, angle=angle,
                  lambda_k=mass / ctx.sigma_crit / (2.0 * half))
        derived = {"vortex_x": x0, "vortex_y": y0, "vortex_angle": angle,
                   "vortex_length": 2.0 * half}
        deflector = LINE_MASSES.get(opts.implementation)(kw, opts)
        return Realisation(derived, deflector, mass, (x0, y0, half))
