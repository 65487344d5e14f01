"""From a config and a random stream to one lens scene: parameter values and lenstronomy kwargs.

Image ``i`` of a dataset with seed ``s`` draws from three independent streams seeded by
``numpy.random.SeedSequence([s, i, k])``, k = 0, 1, 2 (parameters, substructure realisation,
noise), so switching noise off or changing a substructure option does not move the other
draws, and the result does not depend on which worker or shard renders the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from lenstronomy.Util import param_util

from darklens.simulate.config import SimConfig
from darklens.simulate.cosmology import mass_to_theta_E, sigma_crit_angle
from darklens.simulate.substructure import COMPENSATIONS, SUBSTRUCTURE, Context, Deflector

__all__ = ["Scene", "build_scene", "sample_values", "streams"]


@dataclass
class Scene:
    """Everything needed to render one image.

    Attributes
    ----------
    values : dict
        Every stored parameter (sampled and derived), by name.
    kwargs_lens : list of dict
        lenstronomy kwargs for ``["SIE", "SHEAR"]``.
    kwargs_source, kwargs_lens_light : list of dict
        lenstronomy kwargs for ``["SERSIC_ELLIPSE"]`` (lens light empty when disabled).
    deflector : callable or None
        Extra reduced deflection ``(x, y) -> (ax, ay)`` (arcsec) of the substructure.
    compensation : callable or None
        Deflection of the negative mass sheet that compensates it (``substructure.compensate``).
    exposure_time : float
        Total exposure time, s.
    background_rms : float
        Gaussian background rms per pixel, counts/s.
    """

    values: dict
    kwargs_lens: list
    kwargs_source: list
    kwargs_lens_light: list
    deflector: Deflector | None
    exposure_time: float
    background_rms: float
    compensation: Deflector | None = None


def streams(seed: int, index: int) -> tuple[np.random.Generator, ...]:
    """The (parameters, substructure, noise) generators of image ``index``."""
    return tuple(np.random.Generator(np.random.PCG64([seed, index, k])) for k in range(3))


def sample_values(cfg: SimConfig, rng: np.random.Generator) -> dict:
    """Draw every sampled parameter, in the config's fixed order."""
    return {name: cfg.priors[name].sample(rng) for name in cfg.sampled_names()}


def _sersic_amp(mag: float, zero_point: float, kw: dict) -> float:
    """Sersic amplitude giving total flux 10^(-0.4 (mag - zero_point)) counts/s."""
    from lenstronomy.LightModel.light_model import LightModel

    unit_flux = LightModel(["SERSIC_ELLIPSE"]).total_flux([dict(kw, amp=1.0)], norm=True)[0]
    return 10.0 ** (-0.4 * (mag - zero_point)) / unit_flux


def build_scene(cfg: SimConfig, values: dict, rng_sub: np.random.Generator) -> Scene:
    """Lens kwargs, light kwargs and substructure of one image from its sampled values.

    Parameters
    ----------
    cfg : SimConfig
        Validated config (instrument, cosmology, substructure kind and options).
    values : dict
        Sampled parameters by name (as from :func:`sample_values`; may be written by hand).
    rng_sub : numpy.random.Generator
        Stream for the substructure realisation (positions, masses, orientations).
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
    se1, se2 = param_util.phi_q2_ellipticity(v["source_angle"], v["source_q"])
    source = {"R_sersic": v["source_r_eff"], "n_sersic": v["source_n"], "e1": se1, "e2": se2,
              "center_x": v["source_x"], "center_y": v["source_y"]}
    source["amp"] = _sersic_amp(v["source_mag"], inst.magnitude_zero_point, source)
    lens_light = []
    if cfg.lens_light:
        # the lens galaxy's light follows the halo's shape and centre
        light = {"R_sersic": v["lens_light_r_eff"], "n_sersic": v["lens_light_n"], "e1": e1,
                 "e2": e2, "center_x": v["halo_x"], "center_y": v["halo_y"]}
        light["amp"] = _sersic_amp(v["lens_light_mag"], inst.magnitude_zero_point, light)
        lens_light = [light]

    ctx = Context(
        z_lens=z_l, z_source=z_s, H0=cos.H0, Om0=cos.Om0,
        sigma_crit=sigma_crit_angle(z_l, z_s, cos.H0, cos.Om0), halo_mass=mass,
        theta_E=theta_E, center=(v["halo_x"], v["halo_y"]), field_of_view=inst.field_of_view,
    )
    real = SUBSTRUCTURE[cfg.kind].realise(rng_sub, v, ctx, cfg.sub_options)
    v.update(real.derived)
    t_exp = v["exposure_time"]
    return Scene(
        values=v, kwargs_lens=kwargs_lens, kwargs_source=[source], kwargs_lens_light=lens_light,
        deflector=real.deflector, exposure_time=t_exp * inst.num_exposures,
        background_rms=inst.background_noise(t_exp),
        compensation=COMPENSATIONS[cfg.compensate](real, ctx),
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
