"""Image readers for ``darklens infer``: one registered function per file format.

A reader turns one file into a float32 ``(H, W)`` or ``(C, H, W)`` array plus, for FITS, the
header (known inputs can come from header keywords). Walking folders and datasets into one
:class:`~darklens.infer.sources.Source` per image is :mod:`darklens.infer.sources`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from darklens.errors import DarklensError
from darklens.registry import Registry

__all__ = [
    "BadInput",
    "READERS",
    "DATASET_SUFFIXES",
    "check_image",
    "read_image",
    "read_image_header",
    "read_image_parts",
    "register_reader",
    "suffix_of",
]


class BadInput(DarklensError):
    """An input file or sample that cannot be predicted; ``reason`` is short, for a table."""

    def __init__(self, reason: str, path: str | os.PathLike | None = None):
        self.reason, self.path = reason, None if path is None else str(path)
        super().__init__(reason if path is None else f"{path}: {reason}")


#: ``reader(path) -> (array, header or None)``, or ``(array, header, noise sigma or None)``
Reader = Callable[[Path], tuple]
#: suffix (lower case, with dot, may be compound like ``.fits.gz``) -> reader
READERS: Registry[Reader] = Registry("image reader")
#: suffixes of darklens HDF5 datasets, expanded into one Source per sample
DATASET_SUFFIXES = (".h5", ".hdf5", ".nc")


def register_reader(*suffixes: str) -> Callable[[Reader], Reader]:
    """Register ``reader(path) -> (array, header or None)`` for the given file suffixes."""

    def deco(fn: Reader) -> Reader:
        for s in suffixes:
            READERS.register(s.lower(), fn)
        return fn

    return deco


@register_reader(".fits", ".fit", ".fits.gz", ".fit.gz")
def _read_fits(path: Path) -> tuple:
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
                for k, hdu in enumerate(hdul):
                    if hdu.is_image and hdu.data is not None and hdu.data.ndim >= 2:
                        if any("truncat" in str(w.message).lower() for w in caught):
                            raise BadInput("truncated FITS")
                        image = np.array(hdu.data, dtype=np.float32)
                        header = _with_primary(hdul[0].header, hdu.header)
                        return image, header, _noise_map(hdul, k, image.shape)
    except BadInput:
        raise
    except Exception as err:  # astropy raises many types (OSError, ValueError, TypeError...)
        raise BadInput(f"corrupt or truncated FITS ({short_reason(err)})") from None
    raise BadInput("FITS file holds no image HDU")


def _with_primary(primary, header):
    """The image HDU's header with the primary header's keywords it lacks (an HST SCI
    extension keeps EXPTIME in the primary)."""
    merged = header.copy()
    for key, value in primary.items():
        if key and key not in merged and key not in ("COMMENT", "HISTORY", ""):
            merged[key] = value
    return merged


def _noise_map(hdul, image_index: int, shape) -> np.ndarray | None:
    """Per-pixel sigma from a noise extension (ERR, VAR, WHT, ...) of the image's shape."""
    from darklens.infer.cutouts import NOISE_EXTENSIONS, noise_sigma

    for k, hdu in enumerate(hdul):
        name = str(hdu.header.get("EXTNAME", "")).strip().upper()
        if k != image_index and name in NOISE_EXTENSIONS and hdu.data is not None:
            if hdu.data.shape != shape:
                raise BadInput(f"{name} extension is {hdu.data.shape}, the image {shape}")
            return noise_sigma(name, hdu.data)
    return None


@register_reader(".npy")
def _read_npy(path: Path) -> tuple[np.ndarray, None]:
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError:
        # without the NPY magic numpy falls back to pickle, which allow_pickle=False refuses
        raise BadInput("not a .npy array file (text or pickled data?)") from None
    except (OSError, EOFError) as err:
        raise BadInput(f"truncated or corrupt .npy ({short_reason(err)})") from None
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
        raise BadInput(f"corrupt or truncated image ({short_reason(err)})") from None
    if arr.ndim == 3:  # (H, W, bands) -> (bands, H, W), the model's layout
        arr = np.moveaxis(arr, -1, 0)
    return arr.astype(np.float32), None


def short_reason(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:120]


def suffix_of(path: Path) -> str | None:
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
    # the message names the file (one-line user error); .reason stays short for tables
    return read_image_parts(path)[:2]


def read_image_parts(path: str | os.PathLike):
    """Like :func:`read_image_header`, plus the per-pixel noise sigma of a FITS noise
    extension (None when there is none): ``(image, header, noise)``."""
    path = Path(path)
    try:
        out = _read(path)
    except BadInput as err:
        raise BadInput(err.reason, path) from None
    return out if len(out) == 3 else (*out, None)


def _read(path: Path) -> tuple[np.ndarray, Mapping | None]:
    suffix = suffix_of(path)
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
