"""Every registry of named entries behaves the same: unique names, one-line lookup errors,
and config validation reads the registry's names instead of a copied list."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import darklens
from darklens.errors import DarklensError
from darklens.registry import REGISTRIES, Registry

EXPECTED = {
    "parameter", "prior", "instrument", "substructure kind", "subhalo profile",
    "line-mass implementation", "backbone", "head", "point loss", "fusion op",
    "feature extractor", "image reader", "table writer", "search kind", "pruner",
    "optimizer", "image stretch", "image normalisation",
}


@pytest.fixture(scope="module")
def registries():
    for mod in pkgutil.walk_packages(darklens.__path__, "darklens."):
        if not mod.name.endswith("__main__"):
            importlib.import_module(mod.name)
    return REGISTRIES


def test_every_table_is_a_registry_and_none_is_empty(registries):
    assert EXPECTED <= set(registries)
    for what, reg in registries.items():
        assert isinstance(reg, Registry) and len(reg) > 0, what
        assert all(isinstance(n, str) and n for n in reg.names()), what


def test_a_name_is_registered_once(registries):
    for what, reg in registries.items():
        first = reg.names()[0]
        before = reg.get(first)
        with pytest.raises(ValueError, match="already registered"):
            reg.register(first, object())
        assert reg.get(first) is before, what


def test_unknown_names_give_one_line_naming_the_field_and_every_choice(registries):
    for what, reg in registries.items():
        with pytest.raises(DarklensError) as err:
            reg.get("no-such-entry", f"config.{what}")
        text = str(err.value)
        assert text.startswith(f"config.{what}: expected one of ") and "\n" not in text
        assert all(name in text for name in reg.names()) and "'no-such-entry'" in text


def test_config_choices_are_read_from_the_registry_when_validating():
    from darklens.data.normalize import STRETCHES
    from darklens.train.config import load_train_config

    base = {"data": {"files": ["x.h5"], "stretch": "cube_root"}}
    with pytest.raises(DarklensError, match="^data.stretch: expected one of none, asinh, log"):
        load_train_config(base)
    STRETCHES.register("cube_root", lambda x, scale: x)  # a new entry needs no config edit
    try:
        assert load_train_config(base).data.stretch == "cube_root"
    finally:
        STRETCHES._entries.pop("cube_root")
