"""The simulation config: what a YAML file under ``configs/sim/`` may say.

Top-level keys (all optional)::

    n: 1000                     # images (CLI -n overrides)
    seed: 0                     # image i is a pure function of (config, seed, i)
    instrument: hst-wfc3-f160w  # preset name or mapping (see instruments.py)
    num_pix: null               # override the instrument's image side
    supersampling: 8            # rays per pixel side (8: within chi2 ~20 of 16 at HST depth)
    supersampling_convolution: true   # convolve at the supersampled resolution
    noise: true                 # or a noise model (noise.py); false only for debugging
    lens_light: false           # add a Sersic lens galaxy
    cosmology: {H0: 70, Om0: 0.3}
    substructure: {kind: cdm, profile: tnfw, ...}   # see substructure.py
    params: {f_sub: {uniform: [0, 0.1]}, ...}       # priors; see params.py for names

The resolved config (every prior and option written out, instrument expanded) is what
:func:`resolved_yaml` returns and what every dataset stores.
"""

from __future__ import annotations

import dataclasses
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
from darklens.simulate.instruments import Instrument, resolve_instrument
from darklens.simulate.noise import NOISE_MODELS
from darklens.simulate.priors import Prior, parse_prior
from darklens.simulate.substructure import COMPENSATIONS, SUBSTRUCTURE

__all__ = ["CosmologyConfig", "SimConfig", "load_sim_config"]

MAIN_PARAMS = (
    "z_lens", "z_source", "log10_halo_mass", "halo_q", "halo_angle", "halo_x", "halo_y",
    "shear_gamma", "shear_angle", "source_mag", "source_r_eff", "source_n", "source_q",
    "source_angle", "source_x", "source_y",
)
LENS_LIGHT_PARAMS = ("lens_light_mag", "lens_light_r_eff", "lens_light_n")


@dataclass
class CosmologyConfig:
    """Flat LambdaCDM: H0 in km/s/Mpc, Om0 the matter density today."""

    H0: float = bounded(70.0, gt=0)
    Om0: float = bounded(0.3, gt=0, le=1)


@dataclass
class SimConfig:
    n: int = bounded(1000, ge=1)
    seed: int = bounded(0, ge=0)
    instrument: str | dict = "hst-wfc3-f160w"
    num_pix: int | None = bounded(None, ge=8, le=4096)
    supersampling: int = bounded(8, ge=1, le=16)
    supersampling_convolution: bool = True
    noise: bool | str = True
    lens_light: bool = False
    cosmology: CosmologyConfig = field(default_factory=CosmologyConfig)
    substructure: dict = field(default_factory=lambda: {"kind": "none"})
    params: dict = field(default_factory=dict)

    # resolved by validate(), not read from YAML
    inst: Instrument = field(init=False, repr=False, default=None)
    sub_options: object = field(init=False, repr=False, default=None)
    priors: dict[str, Prior] = field(init=False, repr=False, default_factory=dict)

    def validate(self, where: str = "") -> None:
        at = functools.partial(dotted, where)
        inst = resolve_instrument(self.instrument, at("instrument"))
        if self.num_pix is not None:
            inst = dataclasses.replace(inst, num_pix=self.num_pix)
        self.inst = inst
        self.instrument = to_dict(inst)
        if isinstance(self.noise, bool):
            self.noise = "poisson_gaussian" if self.noise else "none"
        if self.noise not in NOISE_MODELS:
            raise expected_one_of(at("noise"), ["true", "false", *NOISE_MODELS], self.noise)

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
                "is derived, not sampled" if name in P.PARAMETERS and P.get(name).derived
                else "is not used by this config" if name in P.PARAMETERS
                else "is not a known parameter"
            )
            raise DarklensError(
                f"{at('params.' + name)}: {why}; expected one of {', '.join(active)}"
            )
        defaults = {"exposure_time": inst.exposure_time}
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

    @property
    def kind(self) -> str:
        return self.substructure["kind"]

    @property
    def compensate(self) -> str:
        return self.substructure["compensate"]

    def sampled_names(self) -> list[str]:
        """Names drawn from priors, in the order they are drawn."""
        names = list(MAIN_PARAMS)
        if self.lens_light:
            names += LENS_LIGHT_PARAMS
        names.append("exposure_time")
        names += SUBSTRUCTURE[self.kind].sampled(self.sub_options)
        return names

    def stored_names(self) -> list[str]:
        """Every per-image parameter a dataset of this config stores (sampled + derived)."""
        return self.sampled_names() + ["theta_E"] + list(SUBSTRUCTURE[self.kind].derived)


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
