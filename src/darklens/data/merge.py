"""Combine shard files into one dataset through HDF5 virtual datasets: no image is copied.

Shards are assembled separately (each a contiguous range of global sample indices, e.g. one
cluster array job each). :func:`merge` writes a small file whose ``image`` points into them and
whose 1-D variables are gathered; it opens in xarray like any dataset as long as the shards
stay next to it (relative paths).
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

import h5netcdf
import h5py
import numpy as np

from darklens.atomic import atomic_path
from darklens.data.schema import BAND, IMAGE, IMAGE_DIMS, SAMPLE, SHARD_ATTR_PREFIX, X, Y
from darklens.errors import DarklensError

__all__ = ["merge", "missing_shards"]

_INTERNAL_ATTRS = ("_NCProperties",)
_NETCDF_ATTRS = ("DIMENSION_LIST", "REFERENCE_LIST", "_Netcdf4Coordinates", "_Netcdf4Dimid")

def _plain(value):
    """Attribute value as a comparable Python object (h5py returns numpy scalars/arrays)."""
    if isinstance(value, bytes | np.bytes_):
        return value.decode()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _read_shard(path: Path) -> dict:
    """Everything merge needs to know about one assembled shard, read with h5py."""
    if not path.is_file():
        raise DarklensError(f"{path}: shard file not found")
    try:
        h = h5py.File(path, "r")
    except OSError:
        raise DarklensError(f"{path}: not an HDF5 file (expected a darklens dataset)") from None
    with h:
        if IMAGE not in h or SAMPLE not in h or h[IMAGE].ndim not in (3, 4):
            raise DarklensError(
                f"{path}: not a darklens dataset (no image(sample, [band,] y, x))")
        dims = IMAGE_DIMS if h[IMAGE].ndim == 3 else (SAMPLE, BAND, Y, X)
        names = [k for k in h if k not in (IMAGE, *dims)]
        return {
            "path": path,
            "sample": h[SAMPLE][()],
            "shape": h[IMAGE].shape[1:],
            "image_attrs": {k: v for k, v in h[IMAGE].attrs.items() if k not in _NETCDF_ATTRS},
            "vars": {
                k: (h[k].dtype, h5py.check_string_dtype(h[k].dtype) is not None) for k in names
            },
            "dims": dims,
            "coords": {d: h[d][()] for d in dims[1:]},
            "attrs": {k: _plain(v) for k, v in h.attrs.items() if k not in _INTERNAL_ATTRS},
        }


def _per_file(key: str) -> bool:
    """Attributes that may differ between shards of one dataset (slice, creation time)."""
    return key.startswith(SHARD_ATTR_PREFIX) or key == "created"


def _check_shards(shards: list[dict]) -> int:
    """Raise on incompatible shards or a gap/overlap; return the total sample count."""
    ref = shards[0]
    for sh in shards[1:]:
        where = f"{sh['path']}: differs from {ref['path']} in"
        if sh["shape"] != ref["shape"]:
            raise DarklensError(f"{where} image shape ({sh['shape']} vs {ref['shape']})")
        if set(sh["vars"]) != set(ref["vars"]):
            diff = sorted(set(sh["vars"]) ^ set(ref["vars"]))
            raise DarklensError(f"{where} its variables ({', '.join(diff)})")
        keys = {k for k in (*sh["attrs"], *ref["attrs"]) if not _per_file(k)}
        for key in sorted(keys):
            if sh["attrs"].get(key) != ref["attrs"].get(key):
                raise DarklensError(f"{where} attribute {key!r}")
        for dim in ref["dims"][1:]:
            if not np.array_equal(sh["coords"][dim], ref["coords"][dim]):
                raise DarklensError(f"{where} coordinate {dim!r} (pixel scale?)")
    expected = 0
    for sh in sorted(shards, key=lambda s: int(s["sample"][0])):
        start, n = int(sh["sample"][0]), len(sh["sample"])
        if not np.array_equal(sh["sample"], np.arange(start, start + n)):
            raise DarklensError(f"{sh['path']}: sample indices are not one contiguous range")
        if start > expected:
            raise DarklensError(
                f"{sh['path']}: starts at sample {start}; samples {expected}..{start - 1} "
                "are in no shard"
            )
        if start < expected:
            raise DarklensError(
                f"{sh['path']}: samples {start}..{min(expected, start + n) - 1} overlap "
                "another shard"
            )
        expected = start + n
    return expected


def _source_name(shard: Path, out: Path) -> str:
    # HDF5 resolves a relative source name against the directory of the virtual file, so
    # relative names let the merged file and its shards move together.
    try:
        return os.path.relpath(shard.resolve(), out.resolve().parent)
    except ValueError:  # different drives on Windows: no relative path exists
        return str(shard.resolve())


def merge(out: Path, inputs: list[Path]) -> None:
    """Combine assembled shards into ``out`` without copying image data.

    ``out``'s ``image`` is an HDF5 virtual dataset mapping each shard's ``image`` into its
    global sample range; the small 1-D variables and coordinates are copied. Global attributes
    are the first input's, minus keys starting with ``"shard"``.

    Parameters
    ----------
    out : Path
        Merged file to create (written to a temp name, then renamed).
    inputs : list of Path
        Shard files from :func:`assemble`, in any order; together they must cover samples
        ``0..N-1`` exactly once.

    Notes
    -----
    Shards are referenced by paths relative to ``out``'s directory, so the merged file and
    its shards can be moved or copied together, keeping their relative layout. Moving
    either alone breaks the link, and HDF5 then silently reads NaN for the missing images;
    :func:`open_dataset` checks that every shard is present to turn that into an error.
    """
    out = Path(out)
    if not inputs:
        raise DarklensError(f"{out}: no shard files given to merge")
    shards = [_read_shard(Path(p)) for p in inputs]
    n = _check_shards(shards)
    ref = shards[0]
    shape, dims = tuple(ref["shape"]), ref["dims"]
    ordered = sorted(shards, key=lambda s: int(s["sample"][0]))
    attrs = {k: v for k, v in ref["attrs"].items() if not _per_file(k)}
    attrs["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with atomic_path(out) as tmp:
        with h5netcdf.File(tmp, "w") as f, h5py.File(ref["path"], "r") as h0:
            f.dimensions = {SAMPLE: n, **dict(zip(dims[1:], shape, strict=True))}
            for dim in dims:
                data = np.arange(n, dtype=np.int64) if dim == SAMPLE else h0[dim][()]
                kind = {}
                if h5py.check_string_dtype(h0[dim].dtype) is not None:  # band names
                    data, kind = h0[dim].asstr()[()].astype(object), {"dtype": h5py.string_dtype()}
                var = f.create_variable(dim, (dim,), data=data, **kind)
                var.attrs.update(_user_attrs(h0[dim]))
            for name, (dtype, is_str) in ref["vars"].items():
                var = f.create_variable(name, (SAMPLE,), dtype=dtype)
                var.attrs.update(_user_attrs(h0[name]))
                for sh in ordered:
                    with h5py.File(sh["path"], "r") as h:
                        values = h[name].asstr()[()] if is_str else h[name][()]
                    lo = int(sh["sample"][0])
                    var[lo : lo + len(values)] = values.astype(object) if is_str else values
            f.attrs.update(attrs)
        # h5netcdf cannot create virtual datasets: add the image with h5py, then do the
        # netCDF-4 bookkeeping h5netcdf would have done (dimension scales + dim ids).
        layout = h5py.VirtualLayout(shape=(n, *shape), dtype=np.float32)
        for sh in ordered:
            lo, size = int(sh["sample"][0]), len(sh["sample"])
            src = h5py.VirtualSource(
                _source_name(sh["path"], out), IMAGE, shape=(size, *shape), dtype=np.float32
            )
            layout[lo : lo + size] = src
        with h5py.File(tmp, "r+") as h:
            image = h.create_virtual_dataset(IMAGE, layout, fillvalue=np.nan)
            for axis, dim in enumerate(dims):
                image.dims[axis].attach_scale(h[dim])
            dimids = [int(h[dim].attrs["_Netcdf4Dimid"]) for dim in dims]
            image.attrs["_Netcdf4Coordinates"] = np.array(dimids, dtype=np.int32)
            image.attrs["_Netcdf4Dimid"] = np.int32(dimids[0])
            for key, value in ref["image_attrs"].items():
                image.attrs[key] = value


def _user_attrs(ds: h5py.Dataset) -> dict:
    return {k: _plain(v) for k, v in ds.attrs.items() if k not in _NETCDF_ATTRS + ("CLASS", "NAME")}


def missing_shards(path: Path) -> list[Path]:
    """Return the shard files a merged dataset references but which do not exist.

    Empty for a non-virtual (assembled) dataset. Relative source names are resolved against
    the directory of ``path``, as HDF5 does.
    """
    path = Path(path)
    with h5py.File(path, "r") as h:
        image = h.get(IMAGE)
        if image is None or not image.is_virtual:
            return []
        names = {m.file_name for m in image.virtual_sources()}
    resolved = [Path(n) if os.path.isabs(n) else path.parent / n for n in sorted(names)]
    return [p for p in resolved if not p.is_file()]
