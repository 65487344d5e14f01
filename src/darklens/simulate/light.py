"""Light of the source and of the lens galaxy: one registered kind each.

A kind says which lenstronomy light profiles it uses (fixed for a config, so the ImageModel is
built once), which parameters it samples and derives, and how one image's values become
lenstronomy kwargs of *unit total flux* (counts/s); the scene scales every ``amp`` by the flux
of each band (from the magnitude, the band's colour and zero point).

``source: {kind: sersic}`` (default), ``images`` and ``shapelets`` (:mod:`source_images`);
``lens_light: {kind: sersic | double_sersic, tied: false}`` (``true`` means sersic, ``false``
none). ``tied: true`` derives the lens galaxy's magnitude and size from its halo instead of
sampling them (:func:`tied_lens_light`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from lenstronomy.Util import param_util

from darklens.registry import Registry
from darklens.simulate.kind import SampledKind

__all__ = ["LENS_LIGHTS", "SOURCES", "LightKind", "sersic_unit_amp", "tied_lens_light"]

#: ``source.kind`` -> :class:`LightKind` subclass
SOURCES: Registry[type] = Registry("source kind")
#: ``lens_light.kind`` -> :class:`LightKind` subclass
LENS_LIGHTS: Registry[type] = Registry("lens light kind")


class LightKind(SampledKind):
    """Base of the light kinds: their lenstronomy profiles and unit-flux kwargs."""

    @staticmethod
    def profiles(opts) -> list[str]:
        """lenstronomy LightModel profile names (fixed for a config)."""
        raise NotImplementedError

    @staticmethod
    def unit_kwargs(rng: np.random.Generator, values: dict, ctx, opts) -> tuple[list, dict]:
        """lenstronomy kwargs of total flux 1 count/s, and derived values, of one image."""
        raise NotImplementedError


@lru_cache(maxsize=4096)
def _sersic_unit_flux(r_eff: float, n: float) -> float:
    from lenstronomy.LightModel.light_model import LightModel

    kw = {"amp": 1.0, "R_sersic": r_eff, "n_sersic": n, "e1": 0.0, "e2": 0.0,
          "center_x": 0.0, "center_y": 0.0}
    return float(LightModel(["SERSIC_ELLIPSE"]).total_flux([kw], norm=True)[0])


def sersic_unit_amp(r_eff: float, n: float, q: float = 1.0) -> float:
    """Amplitude of an elliptical Sersic (lenstronomy convention) with total flux 1.

    lenstronomy's elliptical Sersic keeps the half-light radius on the geometric-mean axis, so
    its total flux does not depend on q.
    """
    return 1.0 / _sersic_unit_flux(float(r_eff), float(n))


def _sersic(r_eff, n, q, angle, x, y) -> dict:
    e1, e2 = param_util.phi_q2_ellipticity(angle, q)
    return {"amp": sersic_unit_amp(r_eff, n), "R_sersic": r_eff, "n_sersic": n, "e1": e1,
            "e2": e2, "center_x": x, "center_y": y}


@SOURCES.register("sersic")
class SersicSource(LightKind):
    """An elliptical Sersic source."""

    params = ("source_r_eff", "source_n", "source_q", "source_angle")

    @staticmethod
    def profiles(opts):
        return ["SERSIC_ELLIPSE"]

    @staticmethod
    def unit_kwargs(rng, values, ctx, opts):
        v = values
        return [_sersic(v["source_r_eff"], v["source_n"], v["source_q"], v["source_angle"],
                        v["source_x"], v["source_y"])], {}


# --- lens light ----------------------------------------------------------------------------
def tied_lens_light(theta_E: float, z_lens: float, z_source: float, H0: float, Om0: float,
                    rng: np.random.Generator) -> tuple[float, float]:
    """Apparent magnitude and half-light radius (arcsec) of a lens galaxy from its Einstein
    radius, with the scatter of the relations.

    The velocity dispersion follows from an isothermal halo, theta_E = 4 pi (sigma/c)^2
    D_ds/D_s; the absolute magnitude from a Faber-Jackson relation L ∝ sigma^4 normalised to
    M = -21.4 at sigma = 250 km/s (typical of SLACS lenses; chosen here, not fitted), 0.3 mag
    scatter; the size from R_e ∝ L^0.65 (the slope of Bernardi et al. 2003, AJ 125, 1849),
    4 kpc at M = -21.4, 0.15 dex scatter. No K-correction or colour term: the magnitude is in
    the reference band, the other bands add their colour.

    Parameters
    ----------
    theta_E : float
        Einstein radius, arcsec.
    z_lens, z_source : float
        Redshifts.
    H0, Om0 : float
        Flat LambdaCDM (km/s/Mpc, dimensionless).
    rng : numpy.random.Generator
        Draws the two scatters.
    """
    from darklens.simulate.cosmology import _distances, cosmology, kpc_per_arcsec

    _, d_s, d_ls = _distances(z_lens, z_source, H0, Om0)
    ratio = d_ls / d_s
    sigma = 299792.458 * math.sqrt(math.radians(theta_E / 3600) / (4 * math.pi * ratio))
    abs_mag = -21.4 - 10.0 * math.log10(sigma / 250.0) + rng.normal(0.0, 0.3)
    r_kpc = 4.0 * 10.0 ** (-0.26 * (abs_mag + 21.4) + rng.normal(0.0, 0.15))
    distance_modulus = float(cosmology(H0, Om0).distmod(z_lens).value)  # mag
    return abs_mag + distance_modulus, r_kpc / kpc_per_arcsec(z_lens, H0, Om0)


def _lens_ellipse(values: dict) -> tuple[float, float, float, float]:
    """The lens galaxy's light follows its halo's shape and centre."""
    return values["halo_q"], values["halo_angle"], values["halo_x"], values["halo_y"]


@LENS_LIGHTS.register("none")
class NoLensLight(LightKind):
    """No lens galaxy light."""

    @staticmethod
    def profiles(opts):
        return []

    @staticmethod
    def unit_kwargs(rng, values, ctx, opts):
        return [], {}


@dataclass
class LensLightOptions:
    tied: bool = False


class _TiedLensLight(LightKind):
    """A lens light kind whose magnitude and size may be tied to the halo."""

    Options = LensLightOptions

    @classmethod
    def derived_names(cls, opts):
        return ("lens_light_mag", "lens_light_r_eff") if opts.tied else ()


def _magnitude_and_size(rng, values, ctx, opts) -> tuple[float, float, dict]:
    if not opts.tied:
        return values["lens_light_mag"], values["lens_light_r_eff"], {}
    mag, r_eff = tied_lens_light(ctx.theta_E, ctx.z_lens, ctx.z_source, ctx.H0, ctx.Om0, rng)
    return mag, r_eff, {"lens_light_mag": mag, "lens_light_r_eff": r_eff}


@LENS_LIGHTS.register("sersic")
class SersicLensLight(_TiedLensLight):
    """One elliptical Sersic lens galaxy."""

    params = ("lens_light_mag", "lens_light_r_eff", "lens_light_n")

    @classmethod
    def sampled(cls, opts):
        return ("lens_light_n",) if opts.tied else cls.params

    @staticmethod
    def profiles(opts):
        return ["SERSIC_ELLIPSE"]

    @staticmethod
    def unit_kwargs(rng, values, ctx, opts):
        _, r_eff, derived = _magnitude_and_size(rng, values, ctx, opts)
        q, angle, x, y = _lens_ellipse(values)
        return [_sersic(r_eff, values["lens_light_n"], q, angle, x, y)], derived


@LENS_LIGHTS.register("double_sersic")
class DoubleSersicLensLight(_TiedLensLight):
    """A bulge (Sersic n = 4) and a disc (n = 1) sharing centre and orientation.

    ``lens_light_r_eff`` is the bulge's half-light radius; the disc's is
    ``lens_light_disc_ratio`` times larger and carries ``1 - lens_light_bulge_fraction`` of the
    light, with axis ratio ``lens_light_disc_q``. Early-type lenses are bulge-dominated
    (SLACS: B/T ~ 0.7-1, Bolton et al. 2008).
    """

    params = ("lens_light_mag", "lens_light_r_eff", "lens_light_bulge_fraction",
              "lens_light_disc_ratio", "lens_light_disc_q")

    @classmethod
    def sampled(cls, opts):
        return cls.params[2:] if opts.tied else cls.params

    @staticmethod
    def profiles(opts):
        return ["SERSIC_ELLIPSE", "SERSIC_ELLIPSE"]

    @staticmethod
    def unit_kwargs(rng, values, ctx, opts):
        _, r_eff, derived = _magnitude_and_size(rng, values, ctx, opts)
        q, angle, x, y = _lens_ellipse(values)
        bulge = _sersic(r_eff, 4.0, q, angle, x, y)
        disc = _sersic(r_eff * values["lens_light_disc_ratio"], 1.0, values["lens_light_disc_q"],
                       angle, x, y)
        fraction = values["lens_light_bulge_fraction"]
        bulge["amp"] *= fraction
        disc["amp"] *= 1.0 - fraction
        return [bulge, disc], derived


# the other source kinds register themselves on import
from darklens.simulate import source_images  # noqa: E402, F401
