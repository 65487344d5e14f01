"""Priors for scalar parameters, written in YAML as a number or a one-key mapping.

    z_lens: 0.5                          # fixed
    f_sub: {uniform: [0.0, 0.1]}
    m_min: {loguniform: [1.0e6, 1.0e8]}
    halo_x: {normal: [0.0, 0.05]}        # [mean, sigma]
    halo_q: {truncnormal: [0.8, 0.1, 0.5, 1.0]}   # [mean, sigma, low, high]
    n_subhalos_mean: {poisson: 25}
    z_source: {choice: [1.0, 1.5, 2.0]}

Each kind is one registered class; :func:`parse_prior` turns a spec into an object with
``sample(rng)``, ``support()`` (used to check a prior against a parameter's bounds) and
``spec()`` (the canonical form written into the resolved config).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from darklens.errors import DarklensError
from darklens.registry import Registry

__all__ = ["PRIORS", "Prior", "parse_prior", "register_prior"]

PRIORS: Registry[type[Prior]] = Registry("prior")


def register_prior(name: str):
    """Class decorator adding a prior kind under ``name``."""

    def deco(cls):
        cls.kind = name
        return PRIORS.register(name)(cls)

    return deco


class Prior:
    """Base class; subclasses are dataclasses whose fields are the spec's numbers."""

    kind = ""
    nargs = 1

    def sample(self, rng: np.random.Generator) -> float:
        raise NotImplementedError

    def support(self) -> tuple[float, float]:
        raise NotImplementedError

    def spec(self) -> object:
        args = [getattr(self, f) for f in self.__dataclass_fields__]
        return {self.kind: args[0] if self.nargs == 1 else args}

    def check(self, where: str) -> None:
        """Raise DarklensError if the numbers do not define a distribution."""

    @classmethod
    def from_args(cls, args: object, where: str) -> Prior:
        """The prior of a spec's arguments: ``nargs`` numbers (one may be written bare)."""
        args = args if isinstance(args, list) else [args]
        if len(args) != cls.nargs:
            names = ", ".join(cls.__dataclass_fields__)
            raise DarklensError(f"{where}: {cls.kind} expects [{names}], got {args!r}")
        return cls(*(_number(a, where) for a in args))


@register_prior("fixed")
@dataclass(frozen=True)
class Fixed(Prior):
    value: float

    def sample(self, rng):
        return self.value

    def support(self):
        return (self.value, self.value)

    def spec(self):
        return self.value


@register_prior("uniform")
@dataclass(frozen=True)
class Uniform(Prior):
    low: float
    high: float
    nargs = 2

    def sample(self, rng):
        return float(rng.uniform(self.low, self.high))

    def support(self):
        return (self.low, self.high)

    def check(self, where):
        if not self.low <= self.high:
            raise DarklensError(
                f"{where}: uniform needs low <= high, got [{self.low}, {self.high}]"
            )


@register_prior("loguniform")
@dataclass(frozen=True)
class LogUniform(Uniform):
    def sample(self, rng):
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))

    def check(self, where):
        if not 0 < self.low <= self.high:
            raise DarklensError(
                f"{where}: loguniform needs 0 < low <= high, got [{self.low}, {self.high}]"
            )


@register_prior("normal")
@dataclass(frozen=True)
class Normal(Prior):
    mean: float
    sigma: float
    nargs = 2

    def sample(self, rng):
        return float(rng.normal(self.mean, self.sigma))

    def support(self):
        return (-math.inf, math.inf) if self.sigma > 0 else (self.mean, self.mean)

    def check(self, where):
        if self.sigma < 0:
            raise DarklensError(f"{where}: normal needs sigma >= 0, got {self.sigma}")


@register_prior("truncnormal")
@dataclass(frozen=True)
class TruncNormal(Prior):
    mean: float
    sigma: float
    low: float
    high: float
    nargs = 4

    def sample(self, rng):
        a, b = (self.low - self.mean) / self.sigma, (self.high - self.mean) / self.sigma
        # inverse-CDF sampling keeps exactly one uniform draw per value (stable streams)
        return float(stats.truncnorm.ppf(rng.uniform(), a, b, loc=self.mean, scale=self.sigma))

    def support(self):
        return (self.low, self.high)

    def check(self, where):
        if not (self.sigma > 0 and self.low < self.high):
            raise DarklensError(
                f"{where}: truncnormal needs [mean, sigma > 0, low < high], got "
                f"{[self.mean, self.sigma, self.low, self.high]}"
            )


@register_prior("poisson")
@dataclass(frozen=True)
class Poisson(Prior):
    mean: float

    def sample(self, rng):
        return float(rng.poisson(self.mean))

    def support(self):
        return (0.0, math.inf) if self.mean > 0 else (0.0, 0.0)

    def check(self, where):
        if self.mean < 0:
            raise DarklensError(f"{where}: poisson needs mean >= 0, got {self.mean}")


@register_prior("choice")
@dataclass(frozen=True)
class Choice(Prior):
    values: tuple

    def sample(self, rng):
        return float(self.values[rng.integers(len(self.values))])

    def support(self):
        return (min(self.values), max(self.values))

    def spec(self):
        return {"choice": list(self.values)}

    @classmethod
    def from_args(cls, args, where):
        if not isinstance(args, list):
            raise DarklensError(f"{where}: choice expects a list of numbers, got {args!r}")
        return cls(tuple(_number(a, where) for a in args))

    def check(self, where):
        if len(self.values) == 0:
            raise DarklensError(f"{where}: choice needs at least one value")


def _number(x, where: str) -> float:
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise DarklensError(f"{where}: expected a number, got {x!r}")
    return float(x)


def parse_prior(spec: object, where: str) -> Prior:
    """Turn a YAML prior spec into a :class:`Prior`.

    Parameters
    ----------
    spec : number or dict
        A number (fixed value) or a one-key mapping ``{kind: args}``.
    where : str
        Dotted config path used in error messages, e.g. ``"params.f_sub"``.
    """
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        return Fixed(float(spec))
    if not (isinstance(spec, dict) and len(spec) == 1):
        raise DarklensError(
            f"{where}: expected a number or a one-key prior like {{uniform: [low, high]}} "
            f"(kinds: {', '.join(PRIORS)}), got {spec!r}"
        )
    ((kind, args),) = spec.items()
    prior = PRIORS.get(kind, where).from_args(args, where)
    prior.check(where)
    return prior
