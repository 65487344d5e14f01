"""The hyper-parameter search space: the ``search:`` block of a training YAML.

    search:
      optim.lr: {float: [1.0e-4, 1.0e-2], log: true}
      optim.weight_decay: {float: [0.0, 0.1]}
      train.batch_size: {int: [16, 64], step: 16}
      model.backbone: {categorical: [resnet10t, resnet18]}

Each entry maps a dotted training key to exactly one kind (``float``, ``int``, ``categorical``;
see :data:`KINDS`) plus that kind's options. :func:`parse_space` checks every entry (one-line
errors naming ``search.<key>``); :func:`suggest` asks an optuna trial for one value per key and
returns ``key=value`` overrides for :func:`darklens.train.config.load_train_config`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from darklens.config import override
from darklens.errors import DarklensError
from darklens.registry import Registry

__all__ = ["KINDS", "Param", "parse_space", "register_kind", "suggest"]

# a config that validates with defaults everywhere else, to check that a key is a training key
_PROBE = {"data": {"files": ["probe.h5"]}}


@dataclass(frozen=True)
class Param:
    """One searched key: ``kind`` names its entry in :data:`KINDS`."""

    key: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple = ()

    def suggest(self, trial) -> Any:
        """A value for this key from an ``optuna.Trial``."""
        return KINDS[self.kind].suggest(trial, self)

    def samples(self) -> list:
        """Values that must all be valid for the key (the ends of a range, every choice)."""
        return list(self.choices) if self.choices else [self.low, self.high]


@dataclass(frozen=True)
class Kind:
    """How a search kind is parsed from YAML and sampled."""

    options: tuple[str, ...]
    parse: Callable[[str, Any, dict], Param]
    suggest: Callable[[Any, Param], Any]


KINDS: Registry[Kind] = Registry("search kind")


def register_kind(name: str, options: tuple[str, ...], suggest_fn: Callable[[Any, Param], Any]):
    """Decorator registering ``parse(key, value, options) -> Param`` as search kind ``name``."""

    def wrap(parse: Callable[[str, Any, dict], Param]) -> Callable[[str, Any, dict], Param]:
        KINDS.register(name, Kind(options, parse, suggest_fn))
        return parse

    return wrap


def _range(key: str, kind: str, value: Any, options: dict, number: type) -> Param:
    where = f"search.{key}"
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    )
    if not ok:
        raise DarklensError(f"{where}: expected {kind}: [low, high] (two numbers), got {value!r}")
    if number is int and not all(float(v).is_integer() for v in value):
        raise DarklensError(f"{where}: expected integer bounds for int, got {value!r}")
    low, high = (number(v) for v in value)
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise DarklensError(f"{where}: expected low < high, got [{low}, {high}]")
    log = options.get("log", False)
    if not isinstance(log, bool):
        raise DarklensError(f"{where}.log: expected true/false, got {log!r}")
    if log and low <= 0:
        raise DarklensError(f"{where}: log: true needs low > 0, got low = {low}")
    step = options.get("step")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, int | float) or step <= 0:
            raise DarklensError(f"{where}.step: expected a number > 0, got {step!r}")
        if number is int and not float(step).is_integer():
            raise DarklensError(f"{where}.step: expected an integer for int, got {step!r}")
        # optuna samples on a log scale or on a grid, not both
        if log and (number is float or step != 1):
            raise DarklensError(f"{where}: log: true cannot be combined with step")
        step = number(step)
    return Param(key, kind, low, high, log, step)


@register_kind(
    "float",
    ("log", "step"),
    lambda trial, p: trial.suggest_float(p.key, p.low, p.high, log=p.log, step=p.step),
)
def _parse_float(key: str, value: Any, options: dict) -> Param:
    return _range(key, "float", value, options, float)


@register_kind(
    "int",
    ("log", "step"),
    lambda trial, p: trial.suggest_int(p.key, p.low, p.high, log=p.log, step=p.step or 1),
)
def _parse_int(key: str, value: Any, options: dict) -> Param:
    return _range(key, "int", value, options, int)


@register_kind(
    "categorical", (), lambda trial, p: trial.suggest_categorical(p.key, list(p.choices))
)
def _parse_categorical(key: str, value: Any, options: dict) -> Param:
    where = f"search.{key}"
    if not isinstance(value, list) or not value:
        raise DarklensError(
            f"{where}: expected categorical: [choice, ...] (at least one), got {value!r}"
        )
    # optuna stores choices as plain scalars
    bad = [v for v in value if v is not None and not isinstance(v, bool | int | float | str)]
    if bad:
        raise DarklensError(f"{where}: categorical choices must be scalars, got {bad[0]!r}")
    if len(set(map(repr, value))) != len(value):
        raise DarklensError(f"{where}: categorical choices must be distinct, got {value!r}")
    return Param(key, "categorical", choices=tuple(value))


def parse_space(mapping: Any, base: dict | None = None) -> dict[str, Param]:
    """Parse a ``search:`` block into ``{dotted key: Param}``.

    Parameters
    ----------
    mapping : dict
        ``{dotted.training.key: {kind: spec, option: value}}``.
    base : dict, optional
        The training config (plain data) the overrides apply to; every sample value (range ends,
        each choice) is applied to it and the config loaded, so a misspelt key or a value the
        config rejects fails here rather than in a trial. Without it a minimal config is used.

    Raises
    ------
    DarklensError
        One line naming ``search.<key>`` for an unknown kind or option, bad bounds, log with
        low <= 0, an empty categorical, or a key/value the training config rejects.
    """
    from darklens.train.config import load_train_config

    if mapping is None:
        mapping = {}
    if not isinstance(mapping, dict):
        raise DarklensError(
            f"search: expected a mapping of dotted.key: {{kind: ...}}, got {mapping!r}"
        )
    probe = {k: v for k, v in (base or _PROBE).items() if k not in ("search", "tune")}
    space = {}
    for key, spec in mapping.items():
        where = f"search.{key}"
        if not isinstance(key, str) or "." not in key:
            raise DarklensError(f"{where}: expected a dotted training key such as optim.lr")
        if not isinstance(spec, dict):
            raise DarklensError(
                f"{where}: expected a mapping such as {{float: [low, high]}}, got {spec!r}"
            )
        kinds = [k for k in spec if k in KINDS]
        if len(kinds) != 1:
            raise DarklensError(
                f"{where}: expected exactly one kind of {', '.join(KINDS)}, "
                f"got {', '.join(map(str, spec)) or 'none'}"
            )
        kind = KINDS[kinds[0]]
        options = {k: v for k, v in spec.items() if k != kinds[0]}
        unknown = sorted(set(options) - set(kind.options))
        if unknown:
            allowed = ", ".join(kind.options) or "none"
            raise DarklensError(
                f"{where}.{unknown[0]}: unknown option for {kinds[0]}; expected one of: {allowed}"
            )
        param = kind.parse(key, spec[kinds[0]], options)
        for sample in param.samples():
            try:
                load_train_config(probe, [override(key, sample)])
            except DarklensError as err:
                raise DarklensError(
                    f"{where}: not a valid training key/value ({sample!r}): {err}"
                ) from None
        space[key] = param
    return space


def suggest(trial, space: dict[str, Param]) -> list[str]:
    """Sample every key of ``space`` from an optuna trial; returns ``key=value`` overrides."""
    return [override(key, param.suggest(trial)) for key, param in space.items()]
