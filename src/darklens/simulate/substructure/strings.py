"""Axion strings: a Poisson number of straight line segments across the field."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from darklens.errors import DarklensError
from darklens.simulate.priors import parse_prior
from darklens.simulate.substructure.base import SUBSTRUCTURE, Kind, Realisation

__all__ = ["Strings"]


@SUBSTRUCTURE.register("strings")
class Strings(Kind):
    """Axion strings: a Poisson number of straight line segments across the field.

    The count has mean string_density x field area (arcsec^-2 x arcsec^2); centres are
    uniform over the field, orientations uniform, and each string's length (arcsec) and
    log10 linear mass density (M_sun/kpc, converted with the lens distance) are drawn from the
    priors ``length`` and ``log10_lambda``. Rendered with the exact segment profile.
    """

    params = ("string_density",)
    derived = ("n_strings",)

    @dataclass
    class Options:
        length: object = field(default_factory=lambda: {"uniform": [0.5, 2.0]})
        log10_lambda: object = field(default_factory=lambda: {"uniform": [7.5, 8.5]})

        def validate(self, where):
            for name in ("length", "log10_lambda"):
                prior = parse_prior(getattr(self, name), f"{where}.{name}")
                if name == "length" and prior.support()[0] <= 0:
                    raise DarklensError(f"{where}.length: lengths must be > 0 arcsec")
                setattr(self, name, prior.spec())

    @staticmethod
    def realise(rng, values, ctx, opts):
        from darklens.simulate.cosmology import kpc_per_arcsec
        from darklens.simulate.profiles.line_segment import segment_deflection

        fov = ctx.field_of_view
        n = int(rng.poisson(values["string_density"] * fov**2))
        if n == 0:
            return Realisation({"n_strings": 0})
        length_prior = parse_prior(opts.length, "length")
        lambda_prior = parse_prior(opts.log10_lambda, "log10_lambda")
        half = 0.5 * np.array([length_prior.sample(rng) for _ in range(n)])
        per_arcsec = 10.0 ** np.array([lambda_prior.sample(rng) for _ in range(n)])
        per_arcsec *= kpc_per_arcsec(ctx.z_lens, ctx.H0, ctx.Om0)  # M_sun per arcsec
        x0 = rng.uniform(-fov / 2, fov / 2, size=n)
        y0 = rng.uniform(-fov / 2, fov / 2, size=n)
        angle = rng.uniform(-math.pi, math.pi, size=n)
        fn = partial(segment_deflection, x0=x0, y0=y0, half_length=half, angle=angle,
                     lambda_k=per_arcsec / ctx.sigma_crit)
        # the strings fill the square field: a sheet over a disc of the same area removes them
        mass = float((2.0 * half * per_arcsec).sum())
        return Realisation({"n_strings": n}, fn, mass, (0.0, 0.0, fov / math.sqrt(math.pi)))
