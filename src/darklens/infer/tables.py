"""Writing prediction tables: one registered writer per output suffix, always atomic."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from darklens.atomic import atomic_path
from darklens.errors import DarklensError
from darklens.registry import Registry

__all__ = ["WRITERS", "check_output", "errors_path", "register_writer", "write_table"]

Writer = Callable[[pd.DataFrame, Path], None]
#: output suffix -> writer(table, path)
WRITERS: Registry[Writer] = Registry("table writer")
#: suffix -> (module the writer needs, pip package that provides it)
_NEEDS = {".parquet": ("pyarrow", "pyarrow"), ".nc": ("h5netcdf", "h5netcdf")}


def register_writer(suffix: str) -> Callable[[Writer], Writer]:
    """Register ``writer(table, path)`` for an output suffix."""

    return WRITERS.register(suffix)


@register_writer(".csv")
def _csv(table: pd.DataFrame, path: Path) -> None:
    table.to_csv(path, index=False)


@register_writer(".parquet")
def _parquet(table: pd.DataFrame, path: Path) -> None:
    table.to_parquet(path, engine="pyarrow", index=False)


@register_writer(".nc")
def _netcdf(table: pd.DataFrame, path: Path) -> None:
    import xarray as xr

    ds = xr.Dataset.from_dataframe(table.rename_axis("row"))
    # h5netcdf stores Python strings as variable-length strings; object dtype says so
    ds["source"] = ds["source"].astype(str).astype(object)
    ds.to_netcdf(path, engine="h5netcdf")


def check_output(out: str | os.PathLike) -> Path:
    """Check the output suffix and that its writer's package is installed, before any work."""
    out = Path(out)
    suffix = out.suffix.lower()
    WRITERS.get(suffix, f"{out}: unsupported output suffix")
    module, package = _NEEDS.get(suffix, (None, None))
    if module and importlib.util.find_spec(module) is None:
        raise DarklensError(f"{out}: writing {suffix} needs {package} (pip install {package})")
    return out


def errors_path(out: str | os.PathLike) -> Path:
    """``<out stem>.errors.csv`` next to the output table."""
    out = Path(out)
    return out.with_name(f"{out.stem}.errors.csv")


def write_table(table: pd.DataFrame, out: str | os.PathLike) -> Path:
    """Write ``table`` to ``out`` in the format of its suffix, via a temp name then rename.

    A reader never sees a half-written table, and a failure leaves any previous file intact.
    """
    out = check_output(out)
    with atomic_path(out) as tmp:
        WRITERS[out.suffix.lower()](table, tmp)
    return out
