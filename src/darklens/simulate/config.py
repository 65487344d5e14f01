"""The simulation config: what a YAML file under ``configs/sim/`` may say.

Top-level keys (all optional)::

    n: 1000                     # images (CLI -n overrides)
    seed: 0                     # image i is a pure function of (config, seed, i)
    instrument: hst-wfc3-f160w  # preset name or mapping (see instruments.py)
    bands: null                 # or a list of instruments: image(sample, band, y, x) (bands.py)
    num_pix: null               # override the instrument's image side
    supersampling: 8            # rays per pixel side (8: within chi2 ~20 of 16 at HST depth)
    supersampling_convolution: true   # convolve at the supersampled resolution
    noise: true                 # or a noise model (noise.py); false only for debugging
    source: {kind: sersic}      # or images / shapelets (light.py, source_images.py)
    lens_light: false           # true (a Sersic), or {kind: sersic | double_sersic,
                                #   tied: false, subtract: false} (light.py)
    cosmology: {H0: 70, Om0: 0.3}
    substructure: {kind: cdm, profile: tnfw, ...}   # see substructure.py
    params: {f_sub: {uniform: [0, 0.1]}, ...}       # priors; see params.py for names

The resolved config (every prior and option written out, instrument expanded) is what
:func:`resolved_yaml` returns and what every dataset stores.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from darklens import params as P
from darklens.config import (
    apply_overrides,
    bounded,
    dotted,
    dump_yaml,
    from_dict,
    load_yaml,
    to_dict,
)
from darklens.errors import DarklensError
from darklens.registry import expected_one_of
from darklens.simulate.bands import Band, resolve_bands
from darklens.simulate.instruments import Instrument
from darklens.simulate.light import LENS_LIGHTS, SOURCES
from darklens.simulate.noise import NOISE_MODELS
from darklens.simulate.priors import Prior, parse_prior
from darklens.simulate.substructure import COMPENSATIONS, SUBSTRUCTURE

__all__ = ["CosmologyConfig", "SimConfig", "load_sim_config"]

LENS_PARAMS = (
    "z_lens", "z_source", "log10_halo_mass", "halo_q", "halo_angle", "halo_x", "halo_y",
    "shear_gamma", "shear_angle", "source_mag",
)


@dataclass
class CosmologyConfig:
    """Flat LambdaCDM: H0 in km/s/Mpc, Om0 the matter density today."""

    H0: float = bounded(70.0, gt=0)
    Om0: float = bounded(0.3, gt=0, le=1)


@dataclass
class SimConfig:
    n: int = bounded(1000, ge=1)
    seed: int = bounded(0, ge=0)
    instrument: str | dict | None = None
    bands: list | None = None
    num_pix: int | None = bounded(None, ge=8, le=4096)
    supersampling: int = bounded(8, ge=1, le=16)
    supersampling_convolution: bool = True
    noise: bool | str = True
    source: dict = field(default_factory=lambda: {"kind": "sersic"})
    lens_light: bool | dict = False
    cosmology: CosmologyConfig = field(default_factory=CosmologyConfig)
    substructure: dict = field(default_factory=lambda: {"kind": "none"})
    params: dict = field(default_factory=dict)

    # resolved by validate(), not read from YAML
    inst: Instrument = field(init=False, repr=False, default=None)  # the reference band's
    band_list: list[Band] = field(init=False, repr=False, default_factory=list)
    sub_options: object = field(init=False, repr=False, default=None)
    source_options: object = field(init=False, repr=False, default=None)
    lens_light_options: object = field(init=False, repr=False, default=None)
    priors: dict[str, Prior] = field(init=False, repr=False, default_factory=dict)

    def validate(self, where: str = "") -> None:
        at = functools.partial(dotted, where)
        self.band_list = resolve_bands(self.instrument, self.bands, self.num_pix, at)
        inst = self.inst = self.band_list[0].inst
        self.instrument = to_dict(inst)
        if self.bands is not None:
            self.bands = [dict(to_dict(b.inst), band=b.key) for b in self.band_list]
        self._validate_light(at)
        if isinstance(self.noise, bool):
            self.noise = "poisson_gaussian" if self.noise else "none"
        if self.noise not in NOISE_MODELS:
            raise expected_one_of(at("noise"), ["true", "false", *NOISE_MODELS], self.noise)
        if self.lens_light.get("subtract") and NOISE_MODELS.get(self.noise).units != "counts/s":
            raise DarklensError(f"{at('lens_light.subtract')}: needs a noise model storing "
                                f"counts/s, not {self.noise!r}")

        sub = dict(self.substructure)
        kind = sub.pop("kind", "none")
        compensate = sub.pop("compensate", "sheet")
        if compensate not in COMPENSATIONS:
            raise expected_one_of(at("substructure.compensate"), COMPENSATIONS, compensate)
        options = SUBSTRUCTURE.get(kind, at("substructure.kind")).Options
        self.sub_options = from_dict(options, sub, at("substructure"))
        self.substructure = {"kind": kind, "compensate": compensate,
                             **to_dict(self.sub_options)}

        active = self.sampled_names()
        unknown = [k for k in self.params if k not in active]
        if unknown:
            name = unknown[0]
            why = (
                "is derived, not sampled" if P.known(name) and P.get(name).derived
                else "is not used by this config" if P.known(name)
                else "is not a known parameter"
            )
            raise DarklensError(
                f"{at('params.' + name)}: {why}; expected one of {', '.join(active)}"
            )
        fixed_psf = [b.key for b in self.band_list
                     if b.inst.psf.get("kind", "gaussian") != "gaussian"]
        if "psf_fwhm" in self.params and fixed_psf:
            raise DarklensError(f"{at('params.psf_fwhm')}: a PSF width prior needs Gaussian PSFs, "
                                f"but band {fixed_psf[0]!r} has a kernel PSF of fixed shape")
        defaults = {"exposure_time": inst.exposure_time, "psf_fwhm": inst.psf_fwhm}
        for name in active:
            spec = self.params.get(name, defaults.get(name, P.get(name).default))
            prior = parse_prior(spec, at(f"params.{name}"))
            _check_bounds(prior, P.get(name), at(f"params.{name}"))
            self.priors[name] = prior
        self.params = {name: prior.spec() for name, prior in self.priors.items()}
        if self.priors["z_source"].support()[0] <= self.priors["z_lens"].support()[1]:
            raise DarklensError(
                f"{at('params.z_source')}: every z_source must exceed every z_lens "
                f"(z_lens up to {self.priors['z_lens'].support()[1]}, "
                f"z_source from {self.priors['z_source'].support()[0]})"
            )

    def _validate_light(self, at) -> None:
        if isinstance(self.lens_light, bool):
            self.lens_light = {"kind": "sersic" if self.lens_light else "none"}
        for name, registry in (("source", SOURCES), ("lens_light", LENS_LIGHTS)):
            spec = getattr(self, name)
            if not isinstance(spec, dict):
                raise DarklensError(f"{at(name)}: expected a mapping like {{kind: ...}}")
            spec = dict(spec)
            kind = spec.pop("kind", "sersic" if name == "source" else "none")
            subtract = spec.pop("subtract", False) if name == "lens_light" else None
            opts = from_dict(registry.get(kind, at(f"{name}.kind")).Options, spec, at(name))
            setattr(self, f"{name}_options", opts)
            resolved = {"kind": kind, **to_dict(opts)}
            if subtract is not None:
                if not isinstance(subtract, bool):
                    raise DarklensError(f"{at('lens_light.subtract')}: expected true or false")
                resolved["subtract"] = subtract
            setattr(self, name, resolved)

    @property
    def band_keys(self) -> list[str]:
        return [b.key for b in self.band_list]

    @property
    def source_kind(self):
        return SOURCES.get(self.source["kind"])

    @property
    def lens_light_kind(self):
        return LENS_LIGHTS.get(self.lens_light["kind"])

    @property
    def kind(self) -> str:
        return self.substructure["kind"]

    @property
    def compensate(self) -> str:
        return self.substructure["compensate"]

    def sampled_names(self) -> list[str]:
        """Names drawn from priors, in the order they are drawn."""
        # this order is the order of the draws: new parameters go after the old ones
        names = [*LENS_PARAMS, *self.source_kind.sampled(self.source_options),
                 "source_x", "source_y", *self.lens_light_kind.sampled(self.lens_light_options),
                 "exposure_time", *SUBSTRUCTURE[self.kind].sampled(self.sub_options)]
        if "psf_fwhm" in self.params:
            names.append("psf_fwhm")
        for template in ("source_color", "lens_light_color"):
            if template == "lens_light_color" and self.lens_light["kind"] == "none":
                continue
            names += [P.band_name(template, key) for key in self.band_keys[1:]]
        return names

    def stored_names(self) -> list[str]:
        """Every per-image parameter a dataset of this config stores (sampled + derived)."""
        derived = [*self.source_kind.derived_names(self.source_options),
                   *self.lens_light_kind.derived_names(self.lens_light_options),
                   *SUBSTRUCTURE[self.kind].derived]
        return self.sampled_names() + ["theta_E"] + [n for n in derived
                                                      if n not in self.sampled_names()]


def _check_bounds(prior: Prior, param: P.Parameter, where: str) -> None:
    lo, hi = prior.support()
    if lo < param.low or hi > param.high:
        unit = f" {param.units}" if param.units else ""
        raise DarklensError(
            f"{where}: prior {prior.spec()} reaches [{lo:g}, {hi:g}] but {param.long_name} must "
            f"lie in [{param.low:g}, {param.high:g}]{unit}"
        )


def load_sim_config(source: str | Path | dict, overrides: list[str] | None = None) -> SimConfig:
    """Load and validate a simulation config from a YAML path or a mapping, plus overrides."""
    data = dict(source) if isinstance(source, dict) else load_yaml(source)
    data = apply_overrides(data, overrides)
    return from_dict(SimConfig, data)


def resolved_yaml(cfg: SimConfig) -> str:
    """YAML of the fully resolved config; loading it gives the same images."""
    return dump_yaml(cfg)
