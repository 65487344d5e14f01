"""Atomic, resumable dataset storage: blocks -> one HDF5 file -> virtual merge of shards.

Life of a dataset (DESIGN.md section 3):

1. Workers call :func:`write_block` for each finished block of consecutive samples. Blocks land
   in ``<out>.partial/`` under their final name only once complete (temp file + ``os.replace``),
   so a crash leaves either a whole block or a temp file that :func:`completed_blocks` ignores.
   A block holds its images already cut into HDF5 chunks and compressed (byte shuffle + deflate,
   exactly HDF5's filter pipeline), so the compression runs in the parallel workers.
2. :func:`assemble` copies the compressed chunks in order into ``<out>`` with HDF5 direct chunk
   writes (again via a temp name), then deletes the partial directory. Memory use is one block,
   whatever the dataset size.
3. Shards assembled separately (each a contiguous range of global sample indices) are combined
   by :func:`merge` into a small file whose ``image`` is an HDF5 virtual dataset that points
   into the shard files: no image data is copied.
"""

from __future__ import annotations

import os
import re
import shutil
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import h5netcdf
import h5py
import numpy as np

from darklens.data.schema import (
    CHUNK_IMAGES,
    IMAGE,
    IMAGE_DIMS,
    PIXEL_SCALE_ATTR,
    SAMPLE,
    SHARD_ATTR_PREFIX,
    VariableSpec,
    X,
    Y,
)
from darklens.errors import DarklensError

#: deflate level of the images: level 1 after byte shuffle saves ~15 % on noisy float32 images
#: at several hundred MB/s; higher levels barely shrink noise further
COMPRESSION_LEVEL = 1
_BLOCK_RE = re.compile(r"^block_(\d{6,})\.npz$")
_PARAM_PREFIX = "p."  # npz key prefix, so a parameter can never collide with "sample"/"images"
_INTERNAL_ATTRS = ("_NCProperties",)
_NETCDF_ATTRS = ("DIMENSION_LIST", "REFERENCE_LIST", "_Netcdf4Coordinates", "_Netcdf4Dimid")


def partial_dir(out: Path) -> Path:
    """Return the side directory ``<out>.partial`` that holds the finished blocks of ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


def _block_path(out: Path, block: int) -> Path:
    return partial_dir(out) / f"block_{block:06d}.npz"


def _temp_name(path: Path) -> Path:
    # Same directory, so os.replace is an atomic rename; pid keeps concurrent writers apart.
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """Yield a temp path next to ``path``; rename it onto ``path`` only if the body succeeds."""
    tmp = _temp_name(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _compress_chunks(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut images into CHUNK_IMAGES-image chunks, each byte-shuffled then deflated.

    The bytes are what HDF5's shuffle + deflate filters would store for the chunk (the last
    one zero-padded to the full chunk shape, as HDF5 does for edge chunks).
    """
    sizes, parts = [], []
    for lo in range(0, len(images), CHUNK_IMAGES):
        chunk = np.zeros((CHUNK_IMAGES, *images.shape[1:]), np.float32)
        part = images[lo : lo + CHUNK_IMAGES]
        chunk[: len(part)] = part
        shuffled = chunk.view(np.uint8).reshape(-1, 4).T.tobytes()
        parts.append(zlib.compress(shuffled, COMPRESSION_LEVEL))
        sizes.append(len(parts[-1]))
    return np.array(sizes, np.int64), np.frombuffer(b"".join(parts), np.uint8)


def write_block(
    out: Path,
    block: int,
    sample: np.ndarray,
    images: np.ndarray,
    params: dict[str, np.ndarray],
) -> None:
    """Save one finished block of samples atomically into ``<out>.partial/``.

    Parameters
    ----------
    out : Path
        The final dataset file the block belongs to.
    block : int
        Block number; blocks are assembled in increasing order.
    sample : numpy.ndarray
        ``int64`` global sample indices of the block, consecutive. Every block but the last
        must hold a multiple of ``CHUNK_IMAGES`` samples (blocks map onto whole chunks).
    images : numpy.ndarray
        Images, shape ``(b, ny, nx)``; stored as float32.
    params : dict of str to numpy.ndarray
        Per-sample values, each 1-D of length ``b`` (numeric or str).
    """
    path = _block_path(out, block)
    sample = np.asarray(sample, dtype=np.int64)
    images = np.asarray(images, dtype=np.float32)
    b = len(sample)
    if b == 0 or sample.ndim != 1 or images.ndim != 3 or len(images) != b:
        raise DarklensError(
            f"{path}: expected sample (b,) and images (b, ny, nx) with b > 0, got "
            f"{sample.shape} and {images.shape}"
        )
    arrays = {"sample": sample, "shape": np.array(images.shape[1:], dtype=np.int64)}
    arrays["chunk_sizes"], arrays["chunks"] = _compress_chunks(images)
    for name, values in params.items():
        values = np.asarray(values)
        if values.dtype == object:  # np.savez would need pickle for object arrays
            values = values.astype(str)
        if values.shape != (b,):
            raise DarklensError(f"{path}: parameter {name!r} has shape {values.shape}, not ({b},)")
        arrays[_PARAM_PREFIX + name] = values
    path.parent.mkdir(parents=True, exist_ok=True)
    with _atomic(path) as tmp:
        with open(tmp, "wb") as fh:  # a file object stops np.savez appending ".npz"
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())


def completed_blocks(out: Path) -> set[int]:
    """Return the block numbers already saved for ``out``.

    Temp files from interrupted writes and files whose zip directory cannot be read are not
    counted, so the caller recomputes those blocks.
    """
    done = set()
    part = partial_dir(out)
    if not part.is_dir():
        return done
    for path in part.iterdir():
        m = _BLOCK_RE.match(path.name)
        if m is None:
            continue
        try:
            with np.load(path, allow_pickle=False) as z:
                if {"sample", "shape", "chunks", "chunk_sizes"} <= set(z.files):
                    done.add(int(m.group(1)))
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            continue
    return done


def _pixel_coords(n: int, attrs: dict) -> tuple[np.ndarray, dict[str, str]]:
    if PIXEL_SCALE_ATTR in attrs:
        scale = float(attrs[PIXEL_SCALE_ATTR])
        offsets = (np.arange(n) - (n - 1) / 2.0) * scale  # pixel centres; 0 at image centre
        return offsets, {"units": "arcsec", "long_name": "offset of pixel centre from centre"}
    return np.arange(n, dtype=np.int64), {"units": "pixel", "long_name": "pixel index"}


def _set_attrs(target, attrs: dict, where: Path) -> None:
    for key, value in attrs.items():
        if not isinstance(value, str | int | float | np.generic) or isinstance(value, bool):
            raise DarklensError(
                f"{where}: attribute {key!r} must be str, int or float, got {type(value).__name__}"
            )
        target.attrs[key] = value


def _scan_blocks(out: Path, n_blocks: int, specs: dict[str, VariableSpec]) -> list[int]:
    """Check every block exists, is contiguous and has the declared variables; return sizes."""
    part = partial_dir(out)
    missing = [b for b in range(n_blocks) if not _block_path(out, b).is_file()]
    if missing:
        raise DarklensError(
            f"{part}: {len(missing)} of {n_blocks} blocks missing (first: block {missing[0]}); "
            "rerun the simulation to complete them"
        )
    sizes, expected = [], None
    for b in range(n_blocks):
        path = _block_path(out, b)
        try:
            with np.load(path, allow_pickle=False) as z:
                sample = z["sample"]
                names = {k[len(_PARAM_PREFIX) :] for k in z.files if k.startswith(_PARAM_PREFIX)}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            raise DarklensError(f"{path}: unreadable block; delete it and rerun") from None
        if names != set(specs):
            raise DarklensError(
                f"{path}: parameters {sorted(names)} do not match the declared variables "
                f"{sorted(specs)}"
            )
        if len(sample) == 0:
            raise DarklensError(f"{path}: block holds no samples")
        if sizes and sizes[-1] % CHUNK_IMAGES:
            raise DarklensError(
                f"{_block_path(out, b - 1)}: holds {sizes[-1]} samples; every block but the "
                f"last must hold a multiple of {CHUNK_IMAGES}"
            )
        start = int(sample[0])
        if not np.array_equal(sample, np.arange(start, start + len(sample))):
            raise DarklensError(f"{path}: sample indices are not consecutive")
        if expected is not None and start != expected:
            raise DarklensError(f"{path}: starts at sample {start}, expected {expected}")
        expected = start + len(sample)
        sizes.append(len(sample))
    if not sizes:
        raise DarklensError(f"{part}: no blocks to assemble (n_blocks = {n_blocks})")
    return sizes


def assemble(
    out: Path,
    n_blocks: int,
    variables: list[VariableSpec],
    attrs: dict[str, str | int | float],
) -> None:
    """Stream blocks ``0..n_blocks-1`` of ``<out>.partial/`` into the HDF5 dataset ``out``.

    The file is written under a temp name and renamed, so ``out`` either does not exist or is
    complete; the partial directory is removed afterwards.

    Parameters
    ----------
    out : Path
        Dataset file to create (overwritten if present).
    n_blocks : int
        Number of blocks; a missing one raises :class:`DarklensError`.
    variables : list of VariableSpec
        Metadata of every parameter saved in the blocks.
    attrs : dict
        Global attributes (resolved config as YAML text, versions, creation time, ...). If it
        contains ``"pixel_scale_arcsec"`` the ``y``/``x`` coordinates are arcsec offsets.
    """
    out = Path(out)
    specs = {v.name: v for v in variables}
    sizes = _scan_blocks(out, n_blocks, specs)
    n = sum(sizes)
    with np.load(_block_path(out, 0), allow_pickle=False) as z:
        start = int(z["sample"][0])
        ny, nx = (int(v) for v in z["shape"])
    with _atomic(out) as tmp, h5netcdf.File(tmp, "w") as f:
        # an unlimited sample dimension lets a dataset smaller than one chunk keep full chunks
        f.dimensions = {SAMPLE: None, Y: ny, X: nx}
        f.resize_dimension(SAMPLE, n)
        s = f.create_variable(SAMPLE, (SAMPLE,), data=np.arange(start, start + n, dtype=np.int64))
        s.attrs.update({"units": "1", "long_name": "global sample index"})
        for dim, size in ((Y, ny), (X, nx)):
            values, meta = _pixel_coords(size, attrs)
            f.create_variable(dim, (dim,), data=values).attrs.update(meta)
        image = f.create_variable(
            IMAGE, IMAGE_DIMS, dtype="float32", chunks=(CHUNK_IMAGES, ny, nx),
            compression="gzip", compression_opts=COMPRESSION_LEVEL, shuffle=True,
        )
        image.attrs["long_name"] = "simulated lensed image"
        for spec in variables:
            var = f.create_variable(spec.name, (SAMPLE,), dtype=spec.storage_dtype())
            var.attrs.update({"units": spec.units, "long_name": spec.long_name})
        _set_attrs(f, attrs, out)
        # the 1-D variables are small: gather them and write each once (a write per block and
        # variable costs ~0.5 ms of h5netcdf bookkeeping)
        columns = {spec.name: [] for spec in variables}
        dataset, lo = image._h5ds.id, 0
        for b, size in enumerate(sizes):
            path = _block_path(out, b)
            with np.load(path, allow_pickle=False) as z:
                if tuple(z["shape"]) != (ny, nx):
                    raise DarklensError(
                        f"{path}: image shape {tuple(z['shape'])} differs from {(ny, nx)}"
                    )
                blob, ends = z["chunks"].tobytes(), np.cumsum(z["chunk_sizes"])
                for k, end in enumerate(ends):
                    begin = ends[k - 1] if k else 0
                    dataset.write_direct_chunk((lo + k * CHUNK_IMAGES, 0, 0), blob[begin:end])
                for spec in variables:
                    columns[spec.name].append(spec.cast(z[_PARAM_PREFIX + spec.name], str(path)))
            lo += size
        for name, parts in columns.items():
            f.variables[name][:] = np.concatenate(parts)
    shutil.rmtree(partial_dir(out), ignore_errors=True)


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
        if IMAGE not in h or SAMPLE not in h or h[IMAGE].ndim != 3:
            raise DarklensError(f"{path}: not a darklens dataset (no image(sample, y, x))")
        names = [k for k in h if k not in (IMAGE, *IMAGE_DIMS)]
        return {
            "path": path,
            "sample": h[SAMPLE][()],
            "shape": h[IMAGE].shape[1:],
            "image_attrs": {k: v for k, v in h[IMAGE].attrs.items() if k not in _NETCDF_ATTRS},
            "vars": {
                k: (h[k].dtype, h5py.check_string_dtype(h[k].dtype) is not None) for k in names
            },
            "coords": {d: h[d][()] for d in (Y, X)},
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
        for dim in (Y, X):
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
    ny, nx = ref["shape"]
    ordered = sorted(shards, key=lambda s: int(s["sample"][0]))
    attrs = {k: v for k, v in ref["attrs"].items() if not _per_file(k)}
    attrs["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with _atomic(out) as tmp:
        with h5netcdf.File(tmp, "w") as f, h5py.File(ref["path"], "r") as h0:
            f.dimensions = {SAMPLE: n, Y: ny, X: nx}
            for dim in IMAGE_DIMS:
                data = np.arange(n, dtype=np.int64) if dim == SAMPLE else h0[dim][()]
                var = f.create_variable(dim, (dim,), data=data)
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
        layout = h5py.VirtualLayout(shape=(n, ny, nx), dtype=np.float32)
        for sh in ordered:
            lo, size = int(sh["sample"][0]), len(sh["sample"])
            src = h5py.VirtualSource(
                _source_name(sh["path"], out), IMAGE, shape=(size, ny, nx), dtype=np.float32
            )
            layout[lo : lo + size] = src
        with h5py.File(tmp, "r+") as h:
            image = h.create_virtual_dataset(IMAGE, layout, fillvalue=np.nan)
            for axis, dim in enumerate(IMAGE_DIMS):
                image.dims[axis].attach_scale(h[dim])
            dimids = [int(h[dim].attrs["_Netcdf4Dimid"]) for dim in IMAGE_DIMS]
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
