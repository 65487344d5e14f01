"""Image readers for ``darklens infer``: one registered function per file format.

A reader turns one file into a float32 ``(H, W)`` or ``(C, H, W)`` array plus, for FITS, the
header (known inputs can come from header keywords). :func:`iter_inputs` walks files, folders
and darklens HDF5 datasets and yields one :class:`Source` per image; a file that cannot be used
yields a Source carrying the reason instead of raising, so one bad file never stops a batch.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from darklens.errors import DarklensError

__all__ = [
    "BadInput",
    "READERS",
    "DATASET_SUFFIXES",
    "Source",
    "check_image",
    "iter_inputs",
    "read_image",
    "read_image_header",
    "register_reader",
]

#: Samples read from an HDF5 dataset at a time (one chunked read instead of one per sample)
H5_BLOCK = 64


class BadInput(DarklensError):
    """An input file or sample that cannot be predicted; ``reason`` is short, for a table."""

    def __init__(self, reason: str, path: str | os.PathLike | None = None):
        self.reason, self.path = reason, None if path is None else str(path)
        super().__init__(reason if path is None else f"{path}: {reason}")


@dataclass
class Source:
    """One image to predict, or the reason it cannot be.

    Attributes
    ----------
    name : str
        The file path, or ``file.h5#index`` for a dataset sample.
    image : numpy.ndarray or None
        float32 ``(H, W)`` or ``(C, H, W)``; None when ``error`` is set.
    header : Mapping or None
        The FITS header of the image HDU (known inputs by keyword), else None.
    values : dict of str to float
        Per-sample variables stored with the image (HDF5 datasets): true targets and inputs.
    error : str or None
        Why the image cannot be used.
    """

    name: str
    image: np.ndarray | None = None
    header: Mapping | None = None
    values: dict[str, float] = field(default_factory=dict)
    error: str | None = None


Reader = Callable[[Path], tuple[np.ndarray, Mapping | None]]
#: suffix (lower case, with dot, may be compound like ``.fits.gz``) -> reader
READERS: dict[str, Reader] = {}
#: suffixes of darklens HDF5 datasets, expanded into one Source per sample
DATASET_SUFFIXES = (".h5", ".hdf5", ".nc")


def register_reader(*suffixes: str) -> Callable[[Reader], Reader]:
    """Register ``reader(path) -> (array, header or None)`` for the given file suffixes."""

    def deco(fn: Reader) -> Reader:
        for s in suffixes:
            READERS[s.lower()] = fn
        return fn

    return deco


@register_reader(".fits", ".fit", ".fits.gz", ".fit.gz")
def _read_fits(path: Path) -> tuple[np.ndarray, Mapping]:
    from astropy.io import fits

    from darklens.infer.fits_simple import read_simple_fits

    if not path.name.lower().endswith(".gz"):
        try:
            simple = read_simple_fits(path)
        except EOFError as err:
            raise BadInput(f"truncated FITS ({err})") from None
        if simple is not None:
            return simple
    try:
        # astropy only warns on some truncations (a short last block); treat those as errors,
        # but not its many harmless header-standard warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with fits.open(path, memmap=False) as hdul:
                for hdu in hdul:
                    if hdu.is_image and hdu.data is not None and hdu.data.ndim >= 2:
                        if any("truncat" in str(w.message).lower() for w in caught):
                            raise BadInput("truncated FITS")
                        return np.array(hdu.data, dtype=np.float32), hdu.header.copy()
    except BadInput:
        raise
    except Exception as err:  # astropy raises many types (OSError, ValueError, TypeError...)
        raise BadInput(f"corrupt or truncated FITS ({_short(err)})") from None
    raise BadInput("FITS file holds no image HDU")


@register_reader(".npy")
def _read_npy(path: Path) -> tuple[np.ndarray, None]:
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError:
        # without the NPY magic numpy falls back to pickle, which allow_pickle=False refuses
        raise BadInput("not a .npy array file (text or pickled data?)") from None
    except (OSError, EOFError) as err:
        raise BadInput(f"truncated or corrupt .npy ({_short(err)})") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "fiub":
        raise BadInput(f"not a numeric array (dtype {getattr(arr, 'dtype', '?')})")
    return arr.astype(np.float32), None


@register_reader(".png", ".tif", ".tiff")
def _read_pillow(path: Path) -> tuple[np.ndarray, None]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            # np.asarray keeps 16-bit ('I;16') and float ('F') values; convert() would not
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise BadInput(f"corrupt or truncated image ({_short(err)})") from None
    if arr.ndim == 3:  # (H, W, bands) -> (bands, H, W), the model's layout
        arr = np.moveaxis(arr, -1, 0)
    return arr.astype(np.float32), None


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:120]


def _suffix(path: Path) -> str | None:
    """The longest registered suffix the file name ends with (``.fits.gz`` before ``.gz``)."""
    name = path.name.lower()
    known = [s for s in (*READERS, *DATASET_SUFFIXES) if name.endswith(s)]
    return max(known, key=len) if known else None


def check_image(image: np.ndarray, bands: int | None = None) -> np.ndarray:
    """Check one image's shape and values.

    Parameters
    ----------
    image : numpy.ndarray
        ``(H, W)`` or ``(C, H, W)``.
    bands : int, optional
        The model's number of bands: a 3-D array is accepted only with this many bands (or
        one). Without it, any ``(C, H, W)`` passes.

    Returns
    -------
    numpy.ndarray
        float32 ``(H, W)`` or ``(C, H, W)``.

    Raises
    ------
    BadInput
        Wrong dimensionality, a cube where a 2-D image was expected, NaN/inf or all-zero pixels.
    """
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 3 and bands is not None and arr.shape[0] not in (bands, 1):
        what = "a 2-D image" if bands == 1 else f"{bands} bands"
        raise BadInput(f"3-D cube of shape {arr.shape} where {what} was expected")
    if arr.ndim not in (2, 3) or min(arr.shape) == 0:
        raise BadInput(f"array of shape {arr.shape}, expected a 2-D image (H, W) or (C, H, W)")
    bad = int(arr.size - np.isfinite(arr).sum())
    if bad:
        raise BadInput(f"image has {bad} NaN/inf pixels")
    if not arr.any():
        raise BadInput("image is all zeros")
    return arr


def read_image_header(path: str | os.PathLike) -> tuple[np.ndarray, Mapping | None]:
    """Read one image file with the reader registered for its suffix.

    Returns
    -------
    image : numpy.ndarray
        float32 ``(H, W)`` or ``(C, H, W)``, not yet checked (see :func:`check_image`).
    header : Mapping or None
        The FITS header of the image HDU; None for other formats.

    Raises
    ------
    BadInput
        Missing, empty, unreadable or corrupt file, or an unsupported suffix.
    """
    path = Path(path)
    try:
        return _read(path)
    except BadInput as err:
        # the message names the file (one-line user error); .reason stays short for tables
        raise BadInput(err.reason, path) from None


def _read(path: Path) -> tuple[np.ndarray, Mapping | None]:
    suffix = _suffix(path)
    if suffix not in READERS:
        expected = ", ".join(sorted(READERS))
        raise BadInput(f"unsupported suffix {''.join(path.suffixes)!r} (expected {expected})")
    if not path.is_file():
        raise BadInput("no such file")
    try:
        if path.stat().st_size == 0:
            raise BadInput("empty file")
        return READERS[suffix](path)
    except PermissionError:
        raise BadInput("unreadable file (permission denied)") from None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read one image file (see :func:`read_image_header`); return the float32 array only."""
    return read_image_header(path)[0]


def _expand(paths: Iterable[str | os.PathLike]) -> Iterator[Path]:
    for p in paths:
        p = Path(p)
        if p.is_dir():
            # sorted, so row order (and any error listing) is reproducible across file systems
            files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
            yield from files
        else:
            yield p


def _iter_dataset(path: Path, bands: int | None) -> Iterator[Source]:
    import h5py

    from darklens.data.catalog import describe, open_h5, read_columns
    from darklens.data.schema import IMAGE

    try:
        info = describe(path)
        columns = read_columns(path, info.variables)
    except DarklensError as err:
        # describe's message starts with the path; the errors table has its own path column
        yield Source(str(path), error=str(err).removeprefix(f"{path}: "))
        return
    except OSError as err:
        yield Source(str(path), error=f"unreadable HDF5 ({_short(err)})")
        return
    with open_h5(path) as f:
        image: h5py.Dataset = f[IMAGE]
        for start in range(0, info.n, H5_BLOCK):
            block = image[start : start + H5_BLOCK]
            for j, img in enumerate(block):
                k = start + j
                values = dict(zip(info.variables, columns[k].tolist(), strict=True))
                name = f"{path}#{k}"
                try:
                    yield Source(name, check_image(img, bands), values=values)
                except BadInput as err:
                    yield Source(name, values=values, error=err.reason)


def iter_inputs(paths: Iterable[str | os.PathLike], bands: int | None = None) -> Iterator[Source]:
    """Yield every image found under ``paths``, one :class:`Source` each.

    Parameters
    ----------
    paths : iterable of path
        Image files, folders (searched recursively, sorted; hidden files skipped) and darklens
        HDF5 datasets (``.h5``, ``.hdf5``, ``.nc``; one Source per sample with its stored
        per-sample variables).
    bands : int, optional
        The model's bands, for :func:`check_image`.

    Yields
    ------
    Source
        With ``image`` set, or with ``error`` giving the reason the file/sample is unusable.
    """
    for path in _expand(paths):
        if _suffix(path) in DATASET_SUFFIXES:
            yield from _iter_dataset(path, bands)
            continue
        try:
            image, header = read_image_header(path)
            yield Source(str(path), check_image(image, bands), header=header)
        except BadInput as err:
            yield Source(str(path), error=err.reason)
