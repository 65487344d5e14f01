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
   by :func:`darklens.data.merge.merge` into a small file whose ``image`` is an HDF5 virtual
   dataset that points into the shard files: no image data is copied.
"""

from __future__ import annotations

import re
import shutil
import zipfile
import zlib
from pathlib import Path

import h5netcdf
import h5py
import numpy as np

from darklens.atomic import atomic_path
from darklens.data.schema import (
    BAND,
    BAND_NAMES_ATTR,
    CHUNK_IMAGES,
    IMAGE,
    IMAGE_DIMS,
    PIXEL_SCALE_ATTR,
    SAMPLE,
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


def partial_dir(out: Path) -> Path:
    """Return the side directory ``<out>.partial`` that holds the finished blocks of ``out``."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


def _block_path(out: Path, block: int) -> Path:
    return partial_dir(out) / f"block_{block:06d}.npz"


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
        Images, shape ``(b, ny, nx)`` or ``(b, bands, ny, nx)``; stored as float32.
    params : dict of str to numpy.ndarray
        Per-sample values, each 1-D of length ``b`` (numeric or str).
    """
    path = _block_path(out, block)
    sample = np.asarray(sample, dtype=np.int64)
    images = np.asarray(images, dtype=np.float32)
    b = len(sample)
    if b == 0 or sample.ndim != 1 or images.ndim not in (3, 4) or len(images) != b:
        raise DarklensError(
            f"{path}: expected sample (b,) and images (b, [bands,] ny, nx) with b > 0, got "
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
    with atomic_path(path) as tmp:
        # No fsync: a killed process loses nothing the page cache holds, and a block damaged by
        # an OS crash fails its zip check and is recomputed; fsync per block cost 2 workers
        # a tenth of their speed-up on this disk.
        with open(tmp, "wb") as fh:  # a file object stops np.savez appending ".npz"
            np.savez(fh, **arrays)


def completed_blocks(out: Path) -> set[int]:
    """Return the block numbers already saved for ``out``.

    Temp files from interrupted writes and files that fail the zip checks (directory and CRCs)
    are not counted, so the caller recomputes those blocks.
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
            with zipfile.ZipFile(path) as z:  # testzip checks every member's CRC
                names = {name.removesuffix(".npy") for name in z.namelist()}
                if z.testzip() is None and {"sample", "shape", "chunks", "chunk_sizes"} <= names:
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


def set_global_attrs(target, attrs: dict, where: Path) -> None:
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
        shape = tuple(int(v) for v in z["shape"])  # ([bands,] ny, nx)
    ny, nx = shape[-2:]
    dims = IMAGE_DIMS if len(shape) == 2 else (SAMPLE, BAND, Y, X)
    with atomic_path(out) as tmp, h5netcdf.File(tmp, "w") as f:
        # an unlimited sample dimension lets a dataset smaller than one chunk keep full chunks
        f.dimensions = {SAMPLE: None, **dict(zip(dims[1:], shape, strict=True))}
        f.resize_dimension(SAMPLE, n)
        s = f.create_variable(SAMPLE, (SAMPLE,), data=np.arange(start, start + n, dtype=np.int64))
        s.attrs.update({"units": "1", "long_name": "global sample index"})
        for dim, size in ((Y, ny), (X, nx)):
            values, meta = _pixel_coords(size, attrs)
            f.create_variable(dim, (dim,), data=values).attrs.update(meta)
        if BAND_NAMES_ATTR in attrs:
            names = np.array(str(attrs[BAND_NAMES_ATTR]).split(","), dtype=object)
            band = f.create_variable(BAND, (BAND,), dtype=h5py.string_dtype(), data=names)
            band.attrs.update({"units": "1", "long_name": "band"})
        image = f.create_variable(
            IMAGE, dims, dtype="float32", chunks=(CHUNK_IMAGES, *shape),
            compression="gzip", compression_opts=COMPRESSION_LEVEL, shuffle=True,
        )
        image.attrs["long_name"] = "simulated lensed image"
        for spec in variables:
            var = f.create_variable(spec.name, (SAMPLE,), dtype=spec.storage_dtype())
            var.attrs.update({"units": spec.units, "long_name": spec.long_name})
        set_global_attrs(f, attrs, out)
        # the 1-D variables are small: gather them and write each once (a write per block and
        # variable costs ~0.5 ms of h5netcdf bookkeeping)
        columns = {spec.name: [] for spec in variables}
        dataset, lo = image._h5ds.id, 0
        for b, size in enumerate(sizes):
            path = _block_path(out, b)
            with np.load(path, allow_pickle=False) as z:
                if tuple(z["shape"]) != shape:
                    raise DarklensError(
                        f"{path}: image shape {tuple(z['shape'])} differs from {shape}"
                    )
                blob, ends = z["chunks"].tobytes(), np.cumsum(z["chunk_sizes"])
                for k, end in enumerate(ends):
                    begin = ends[k - 1] if k else 0
                    dataset.write_direct_chunk((lo + k * CHUNK_IMAGES, *(0,) * len(shape)),
                                               blob[begin:end])
                for spec in variables:
                    columns[spec.name].append(spec.cast(z[_PARAM_PREFIX + spec.name], str(path)))
            lo += size
        for name, parts in columns.items():
            f.variables[name][:] = np.concatenate(parts)
    shutil.rmtree(partial_dir(out), ignore_errors=True)
