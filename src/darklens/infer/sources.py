"""Every image under the paths given to ``darklens infer``, one :class:`Source` each.

Files, folders (recursive) and darklens HDF5 datasets (one Source per sample, with its stored
variables) are walked in a reproducible order; a file or sample that cannot be used yields a
Source carrying the reason instead of raising, so one bad file never stops a batch.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from darklens.errors import DarklensError
from darklens.infer.readers import (
    DATASET_SUFFIXES,
    BadInput,
    check_image,
    read_image_parts,
    short_reason,
    suffix_of,
)

__all__ = ["H5_BLOCK", "Source", "iter_inputs"]

#: Samples read from an HDF5 dataset at a time (one chunked read instead of one per sample)
H5_BLOCK = 64


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
    noise : numpy.ndarray or None
        Per-pixel sigma from a FITS noise extension (ERR, VAR, WHT, ...), image units.
    error : str or None
        Why the image cannot be used.
    parts : list of Source or None
        One file per band (``--band-suffixes``, :mod:`darklens.infer.band_groups`): the bands
        in channel order, each with its own header and noise; ``image`` is then None and
        ``header`` the first band's (known inputs by keyword).
    """

    name: str
    image: np.ndarray | None = None
    header: Mapping | None = None
    values: dict[str, float] = field(default_factory=dict)
    noise: np.ndarray | None = None
    error: str | None = None
    parts: list[Source] | None = None


def _walk(folder: Path, seen_dirs: set) -> Iterator[tuple[Path, str | None]]:
    """Every entry under ``folder`` (sorted, links last, so row order is reproducible and a
    file reached through a link too is read as itself), with the reason it cannot be an
    input, or None."""
    real = folder.resolve()
    if real in seen_dirs:
        yield folder, "folder already searched (a symbolic link loops back to it)"
        return
    seen_dirs.add(real)
    try:
        entries = sorted(folder.iterdir(), key=lambda e: (e.is_symlink(), e.name))
    except PermissionError:
        yield folder, "folder not readable (permission denied)"
        return
    if not entries:
        yield folder, "empty folder"
    for entry in entries:
        if entry.name.startswith("."):
            yield entry, "hidden file or folder, not read"
        elif entry.is_symlink() and not entry.exists():
            yield entry, _broken_link(entry)
        elif entry.is_dir():
            yield from _walk(entry, seen_dirs)
        else:
            yield entry, None


def _broken_link(path: Path) -> str:
    try:
        path.resolve(strict=True)
    except RuntimeError:  # Python < 3.13 raises this for loops
        return "symbolic link loop"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "symbolic link loop"
    return f"broken symbolic link (to {os.readlink(path)})"


def _expand(paths: Iterable[str | os.PathLike]) -> Iterator[tuple[Path, str | None]]:
    """Every file given or found, each once, with the reason it cannot be read, or None.

    Nothing is dropped silently: missing paths, broken or looping links, unreadable or empty
    folders, hidden entries, special files and duplicates (the same file reached twice) are
    all yielded with their reason.
    """
    seen: dict[Path, Path] = {}
    seen_dirs: set[Path] = set()
    for given in paths:
        given = Path(given)
        if given.is_symlink() and not given.exists():
            entries = [(given, _broken_link(given))]
        elif given.is_dir():
            entries = _walk(given, seen_dirs)
        elif not given.exists():
            entries = [(given, "no such file or folder")]
        else:
            entries = [(given, None)]
        for path, reason in entries:
            if reason is None and not path.is_file():
                reason = "not a regular file (device, socket or pipe)"
            if reason is None:
                real = path.resolve()
                if real in seen:
                    reason = f"duplicate of {seen[real]}"
                else:
                    seen[real] = path
            yield path, reason


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
        yield Source(str(path), error=f"unreadable HDF5 ({short_reason(err)})")
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


def iter_inputs(paths: Iterable[str | os.PathLike], bands: int | None = None,
                band_suffixes: list[str] | None = None) -> Iterator[Source]:
    """Yield every image found under ``paths``, one :class:`Source` each.

    Parameters
    ----------
    paths : iterable of path
        Image files, folders (searched recursively, sorted; hidden entries are listed as not
        read, linked folders are followed once) and darklens HDF5 datasets (``.h5``,
        ``.hdf5``, ``.nc``; one Source per sample with its stored per-sample variables). Every
        path given or found yields a Source: an image, or the reason it is not one.
    bands : int, optional
        The model's bands, for :func:`check_image`.
    band_suffixes : list of str, optional
        One file per band: files ``X<suffix>.<ext>`` of a folder become one Source ``X``
        (:func:`darklens.infer.band_groups.group_entries`).

    Yields
    ------
    Source
        With ``image`` set, or with ``error`` giving the reason the file/sample is unusable.
    """
    entries = _expand(paths)
    if band_suffixes:
        from darklens.infer.band_groups import group_entries

        entries = group_entries(entries, band_suffixes)
    for entry in entries:
        if isinstance(entry, Source):  # a band group
            yield entry
            continue
        path, reason = entry
        if reason is not None:
            yield Source(str(path), error=reason)
            continue
        if suffix_of(path) in DATASET_SUFFIXES:
            yield from _iter_dataset(path, bands)
            continue
        try:
            image, header, noise = read_image_parts(path)
            yield Source(str(path), check_image(image, bands), header=header, noise=noise)
        except BadInput as err:
            yield Source(str(path), error=err.reason)
