"""Typed configs from YAML plus ``--set key=value`` overrides.

Configs are plain dataclasses. :func:`from_dict` checks every key and type against the
dataclass fields and their metadata (``ge``, ``gt``, ``le``, ``choices``) and raises a
:class:`~darklens.errors.DarklensError` whose single line names the dotted field and what was
expected. :func:`to_dict` gives back plain YAML-able data, so the resolved config can be stored
next to every output and fed back in unchanged.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from darklens.errors import DarklensError
from darklens.registry import expected_one_of

__all__ = [
    "apply_overrides", "bounded", "dump_yaml", "from_dict", "load_yaml", "override", "parse_yaml",
    "to_dict",
]


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e6`` and ``1.0e-3`` as floats (YAML 1.1 wants ``1.0e+6``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def parse_yaml(text: str):
    """Parse YAML text with :class:`_Loader` (safe: plain data only)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader


def bounded(default: Any, **limits: Any) -> Any:
    """A dataclass field with validation limits: ``ge``, ``gt``, ``le``, ``lt``, ``choices``
    (a tuple or a :class:`~darklens.registry.Registry`)."""
    if isinstance(default, list | dict):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=limits)
    return dataclasses.field(default=default, metadata=limits)


def load_yaml(path: str | Path) -> dict:
    """Read a YAML mapping, with one-line errors for a missing or malformed file."""
    path = Path(path)
    if not path.is_file():
        raise DarklensError(f"{path}: config file not found")
    try:
        data = parse_yaml(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark else ""
        raise DarklensError(f"{path}: not valid YAML{at}: {getattr(err, 'problem', err)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DarklensError(f"{path}: expected a YAML mapping of keys, got {type(data).__name__}")
    return data


def apply_overrides(data: dict, overrides: list[str] | None) -> dict:
    """Apply ``dotted.key=value`` strings to a copy of ``data``; values are parsed as YAML."""
    data = copy.deepcopy(data)
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise DarklensError(f"--set {item!r}: expected KEY=VALUE, e.g. params.z_lens=0.5")
        try:
            value = parse_yaml(raw)
        except yaml.YAMLError:
            raise DarklensError(f"--set {item!r}: value is not valid YAML") from None
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[parts[-1]] = value
    return data


def override(key: str, value: Any) -> str:
    """A ``key=value`` string for :func:`apply_overrides`, the value as one-line YAML."""
    text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
    return f"{key}={text}"


def _type_name(tp: Any) -> str:
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    names = {int: "an integer", float: "a number", bool: "true/false", str: "a string",
             dict: "a mapping", list: "a list"}
    return names.get(typing.get_origin(tp) or tp, str(tp))


def _convert(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, where)
            except DarklensError as err:
                errors.append(err)
        expected = " or ".join(_type_name(o) for o in options if o is not type(None))
        raise DarklensError(f"{where}: expected {expected}, got {value!r}")
    if tp is Any or tp is object:
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif origin is dict or tp is dict:
        if isinstance(value, dict):
            return dict(value)
    elif origin is list or tp is list:
        if isinstance(value, list):
            (item_tp,) = typing.get_args(tp) or (Any,)
            return [_convert(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    raise DarklensError(f"{where}: expected {_type_name(tp)}, got {value!r}")


def _check_limits(value: Any, limits: dict, where: str) -> None:
    if value is None:
        return
    checks = {
        "ge": (lambda v, b: v >= b, ">="), "gt": (lambda v, b: v > b, ">"),
        "le": (lambda v, b: v <= b, "<="), "lt": (lambda v, b: v < b, "<"),
    }
    for key, bound in limits.items():
        if key == "choices":  # a tuple, or a Registry whose names() are read now
            if value not in bound:
                raise expected_one_of(where, bound, value)
        elif key in checks:
            ok, sym = checks[key]
            if not ok(value, bound):
                raise DarklensError(f"{where}: expected a value {sym} {bound}, got {value!r}")


def from_dict(cls: type, data: Any, where: str = "") -> Any:
    """Build dataclass ``cls`` from ``data``, validating keys, types and limits.

    A dataclass may define ``validate(self, where)`` for checks across fields.
    """
    label = where or "config"
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DarklensError(f"{label}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise DarklensError(
            f"{dotted(where, unknown[0])}: unknown key; expected one of {', '.join(fields)}"
        )
    kwargs = {}
    for name, field in fields.items():
        path = dotted(where, name)
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], path)
            _check_limits(kwargs[name], dict(field.metadata), path)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise DarklensError(f"{path}: required key is missing")
    obj = cls(**kwargs)
    if hasattr(obj, "validate"):
        obj.validate(where)
    return obj


def dotted(where: str, name: str) -> str:
    """``"a.b"`` + ``"c"`` -> ``"a.b.c"`` (the field path used in error messages)."""
    return f"{where}.{name}" if where else name


def to_dict(obj: Any) -> Any:
    """Plain data (dicts, lists, scalars) for a config dataclass tree."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    return obj


def dump_yaml(obj: Any) -> str:
    """YAML text of a config (dataclass or plain data), keys in declaration order."""
    return yaml.safe_dump(to_dict(obj), sort_keys=False, default_flow_style=None)
