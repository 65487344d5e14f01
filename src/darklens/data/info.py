"""Open a dataset and describe it (``darklens info``)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from darklens.data.merge import missing_shards
from darklens.data.schema import IMAGE, PIXEL_SCALE_ATTR, SAMPLE, X, Y
from darklens.errors import DarklensError

__all__ = ["open_dataset", "summary"]


def open_dataset(path: Path):
    """Open a darklens dataset lazily with xarray (``engine="h5netcdf"``).

    Parameters
    ----------
    path : Path
        An assembled or merged dataset file.

    Returns
    -------
    xarray.Dataset
        With ``image(sample, y, x)`` and the 1-D variables; close it (or use ``with``) when done.

    Raises
    ------
    DarklensError
        If the file is missing, not HDF5, not a darklens dataset, or a shard it references is
        missing.
    """
    import xarray as xr  # imported here: xarray costs ~1 s and many verbs never need it

    path = Path(path)
    if not path.is_file():
        raise DarklensError(f"{path}: dataset file not found")
    try:
        missing = missing_shards(path)
    except OSError:
        raise DarklensError(f"{path}: not an HDF5 file (expected a darklens dataset)") from None
    if missing:
        raise DarklensError(
            f"{path}: merged dataset references missing shard {missing[0]} "
            f"({len(missing)} missing); keep shards next to the merged file"
        )
    try:
        ds = xr.open_dataset(path, engine="h5netcdf")
    except (OSError, ValueError) as exc:
        raise DarklensError(f"{path}: cannot be read as a darklens dataset ({exc})") from None
    dims = ds[IMAGE].dims if IMAGE in ds else ()
    if len(dims) < 3 or dims[0] != SAMPLE or dims[-2:] != (Y, X):
        ds.close()
        raise DarklensError(f"{path}: not a darklens dataset (expected image(sample, y, x))")
    return ds


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def summary(path: Path, config: bool = True) -> str:
    """Describe a dataset for ``darklens info``.

    Parameters
    ----------
    path : Path
        An assembled or merged dataset file.
    config : bool
        Include multi-line attributes (the stored YAML config); off for a short summary.

    Returns
    -------
    str
        Sample count and range, image shape, pixel scale, per-variable statistics (numeric:
        min/max/mean; str: counts per value) with units and long_name, then the global
        attributes (multi-line ones such as the YAML config indented below their key).
    """
    path = Path(path)
    with open_dataset(path) as ds:
        sample = ds[SAMPLE].values
        image = ds[IMAGE]
        lines = [
            f"{path}",
            f"  samples:     {len(sample)} (global index {sample.min()}..{sample.max()})",
            f"  image:       {' x '.join(str(s) for s in image.shape[1:])} pixels"
            f" ({', '.join(image.dims[1:])}), {image.dtype}",
        ]
        with h5py.File(path, "r") as h:
            if h[IMAGE].is_virtual:
                n_src = len({m.file_name for m in h[IMAGE].virtual_sources()})
                lines.append(f"  storage:     virtual, images in {n_src} shard file(s)")
        scale = ds.attrs.get(PIXEL_SCALE_ATTR)
        if scale is None:
            lines.append("  pixel scale: not recorded")
        else:
            fov = " x ".join(_fmt(float(scale) * s) for s in image.shape[-2:])
            lines.append(f"  pixel scale: {_fmt(float(scale))} arcsec (field {fov} arcsec)")
        lines.append("variables:")
        for name, var in ds.data_vars.items():
            if name == IMAGE:
                continue
            units, long_name = var.attrs.get("units", "?"), var.attrs.get("long_name", "")
            values = var.values
            if values.dtype.kind in "fiu":
                stats = (
                    f"min {_fmt(np.nanmin(values))}  max {_fmt(np.nanmax(values))}  "
                    f"mean {_fmt(np.nanmean(values))}"
                )
            else:
                kinds, counts = np.unique(values.astype(str), return_counts=True)
                stats = ", ".join(f"{k}: {c}" for k, c in zip(kinds, counts, strict=True))
            lines.append(f"  {name} [{units}]  {stats}  ({long_name})")
        lines.append("attributes:")
        for key, value in ds.attrs.items():
            text = str(value)
            if "\n" in text and not config:
                continue
            if "\n" in text:
                lines.append(f"  {key}:")
                lines.extend("    " + row for row in text.rstrip("\n").splitlines())
            else:
                lines.append(f"  {key}: {text}")
    return "\n".join(lines)
