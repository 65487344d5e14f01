"""From a config and a random stream to one lens scene: parameter values and lenstronomy kwargs.

Image ``i`` of a dataset with seed ``s`` draws from three independent streams seeded by
``numpy.random.SeedSequence([s, i, k])``, k = 0, 1, 2 (parameters, substructure realisation,
noise), so switching noise off or changing a substructure option does not move the other
draws, and the result does not depend on which worker or shard renders the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from lenstronomy.Util import param_util

from darklens import params as P
from darklens.simulate.bands import band_scale
from darklens.simulate.config import SimConfig
from darklens.simulate.cosmology import mass_to_theta_E, sigma_crit_angle
from darklens.simulate.substructure import COMPENSATIONS, SUBSTRUCTURE, Context, Deflector

__all__ = ["BandScene", "Scene", "build_scene", "sample_values", "streams"]


@dataclass
class BandScene:
    """What differs between the bands of one image.

    Attributes
    ----------
    kwargs_source, kwargs_lens_light : list of dict
        lenstronomy kwargs of the source and lens light kinds' profiles, in counts/s.
    exposure_time : float
        Total exposure time, s.
    background_rms : float
        Gaussian background rms per pixel, counts/s.
    psf_fwhm : float
        Gaussian PSF FWHM of this image, arcsec (the instrument's unless drawn per image).
    """

    kwargs_source: list
    kwargs_lens_light: list
    exposure_time: float
    background_rms: float
    psf_fwhm: float


@dataclass
class Scene:
    """Everything needed to render one image.

    Attributes
    ----------
    values : dict
        Every stored parameter (sampled and derived), by name.
    kwargs_lens : list of dict
        lenstronomy kwargs for ``["SIE", "SHEAR"]``.
    bands : list of BandScene
        Light, exposure and PSF per band (one for a single-band config).
    deflector : callable or None
        Extra reduced deflection ``(x, y) -> (ax, ay)`` (arcsec) of the substructure.
    compensation : callable or None
        Deflection of the negative mass sheet that compensates it (``substructure.compensate``).
    planes : list of Plane
        Deflectors off the lens plane (line-of-sight halos); rays are then traced through
        every plane (:mod:`darklens.simulate.multiplane`).
    context : Context
        Redshifts and cosmology of the scene.
    """

    values: dict
    kwargs_lens: list
    bands: list[BandScene]
    deflector: Deflector | None
    context: Context
    compensation: Deflector | None = None
    planes: list = field(default_factory=list)

    # the reference band, by the names a single-band scene always had
    @property
    def kwargs_source(self) -> list:
        return self.bands[0].kwargs_source

    @property
    def kwargs_lens_light(self) -> list:
        return self.bands[0].kwargs_lens_light

    @property
    def exposure_time(self) -> float:
        return self.bands[0].exposure_time

    @property
    def background_rms(self) -> float:
        return self.bands[0].background_rms


def streams(seed: int, index: int) -> tuple[np.random.Generator, ...]:
    """The (parameters, substructure, noise) generators of image ``index``."""
    return tuple(np.random.Generator(np.random.PCG64([seed, index, k])) for k in range(3))


def sample_values(cfg: SimConfig, rng: np.random.Generator) -> dict:
    """Draw every sampled parameter, in the config's fixed order."""
    return {name: cfg.priors[name].sample(rng) for name in cfg.sampled_names()}


def _scaled(kwargs: list, flux: float) -> list:
    """Unit-flux kwargs times ``flux`` (counts/s)."""
    return [dict(kw, amp=kw["amp"] * flux) for kw in kwargs]


def _flux(v: dict, prefix: str, band, reference: bool) -> float:
    """Counts/s of the light ``prefix`` (source, lens_light) in ``band``."""
    mag = v[f"{prefix}_mag"] + (0.0 if reference else v[P.band_name(f"{prefix}_color", band.key)])
    return 10.0 ** (-0.4 * (mag - band.inst.magnitude_zero_point))


def _band_scenes(cfg: SimConfig, v: dict, source: list, lens_light: list) -> list[BandScene]:
    """Per band: fluxes from magnitudes, colours and zero points; exposure and PSF width."""
    out = []
    for i, band in enumerate(cfg.band_list):
        inst = band.inst
        t_exp = band_scale(v["exposure_time"], cfg.band_list, i, "exposure_time")
        fwhm = band_scale(v.get("psf_fwhm", cfg.inst.psf_fwhm), cfg.band_list, i, "psf_fwhm")
        out.append(BandScene(
            kwargs_source=_scaled(source, _flux(v, "source", band, i == 0)),
            kwargs_lens_light=(_scaled(lens_light, _flux(v, "lens_light", band, i == 0))
                               if lens_light else []),
            exposure_time=t_exp * inst.num_exposures, background_rms=inst.background_noise(t_exp),
            psf_fwhm=fwhm,
        ))
    return out


def build_scene(cfg: SimConfig, values: dict, rng_sub: np.random.Generator) -> Scene:
    """Lens kwargs, light kwargs and substructure of one image from its sampled values.

    Parameters
    ----------
    cfg : SimConfig
        Validated config (instrument, cosmology, substructure kind and options).
    values : dict
        Sampled parameters by name (as from :func:`sample_values`; may be written by hand).
    rng_sub : numpy.random.Generator
        Stream for the substructure realisation (positions, masses, orientations). The light
        kinds' random choices (a stamp, a flip, the scatter of a tied lens galaxy) come from a
        stream spawned from it, so they never move the substructure's draws.
    """
    v = dict(values)
    inst, cos = cfg.inst, cfg.cosmology
    z_l, z_s = v["z_lens"], v["z_source"]
    mass = 10.0 ** v["log10_halo_mass"]
    theta_E = mass_to_theta_E(mass, z_l, z_s, cos.H0, cos.Om0)
    v["theta_E"] = theta_E

    e1, e2 = param_util.phi_q2_ellipticity(v["halo_angle"], v["halo_q"])
    g1, g2 = param_util.shear_polar2cartesian(v["shear_angle"], v["shear_gamma"])
    kwargs_lens = [
        {"theta_E": theta_E, "e1": e1, "e2": e2, "center_x": v["halo_x"],
         "center_y": v["halo_y"]},
        {"gamma1": g1, "gamma2": g2, "ra_0": 0.0, "dec_0": 0.0},
    ]
    ctx = Context(
        z_lens=z_l, z_source=z_s, H0=cos.H0, Om0=cos.Om0,
        sigma_crit=sigma_crit_angle(z_l, z_s, cos.H0, cos.Om0), halo_mass=mass,
        theta_E=theta_E, center=(v["halo_x"], v["halo_y"]), field_of_view=inst.field_of_view,
    )
    rng_light = rng_sub.spawn(1)[0]
    source, derived = cfg.source_kind.unit_kwargs(rng_light, v, ctx, cfg.source_options)
    v.update(derived)
    lens_light, derived = cfg.lens_light_kind.unit_kwargs(rng_light, v, ctx,
                                                          cfg.lens_light_options)
    v.update(derived)
    real = SUBSTRUCTURE[cfg.kind].realise(rng_sub, v, ctx, cfg.sub_options)
    v.update(real.derived)
    return Scene(
        values=v, kwargs_lens=kwargs_lens, bands=_band_scenes(cfg, v, source, lens_light),
        deflector=real.deflector, context=ctx,
        compensation=COMPENSATIONS[cfg.compensate](real, ctx), planes=real.planes,
    )


def theta_E_range(cfg: SimConfig) -> tuple[float, float]:
    """Smallest and largest Einstein radius (arcsec) the config's priors can produce.

    theta_E grows with mass and is monotonic in each redshift, so the extremes sit at corners
    of the prior supports.
    """
    sup = {k: cfg.priors[k].support() for k in ("log10_halo_mass", "z_lens", "z_source")}
    values = [
        mass_to_theta_E(10.0**m, zl, zs, cfg.cosmology.H0, cfg.cosmology.Om0)
        for m in sup["log10_halo_mass"] for zl in sup["z_lens"] for zs in sup["z_source"]
        if zs > zl and math.isfinite(m)
    ]
    return min(values), max(values)
