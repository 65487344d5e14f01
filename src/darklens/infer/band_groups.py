"""One file per band: ``darklens infer --band-suffixes _g,_r,_i``.

Files ``X_g.fits``, ``X_r.fits``, ``X_i.fits`` of one folder become one image ``X`` of shape
``(3, H, W)``, bands in the order of the suffixes (the suffix comes just before the file
extension; each band file may have any readable format). Each band is read as a single-band
file is (its header's pixel scale, units and exposure, its noise extension) and brought to the
model's units and pixel scale on its own (:func:`darklens.infer.cutouts.adapt`), then the bands
are stacked. Files whose name ends with none of the suffixes, and HDF5 datasets, are inputs as
without the option.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from darklens.errors import DarklensError
from darklens.infer.cutouts import SCALE_TOLERANCE, TrainedOn, adapt, noise_flags, pixel_scale
from darklens.infer.readers import (
    DATASET_SUFFIXES,
    BadInput,
    check_image,
    read_image_parts,
    suffix_of,
)

__all__ = ["adapt_source", "check_band_suffixes", "group_entries", "parse_band_suffixes"]


def parse_band_suffixes(text: str) -> list[str]:
    """``"_g,_r,_i"`` -> ``["_g", "_r", "_i"]``; empty or repeated suffixes are refused."""
    suffixes = [s.strip() for s in str(text).split(",")]
    if not all(suffixes):
        raise DarklensError(f"--band-suffixes {text!r}: expected comma-separated, non-empty "
                            "suffixes such as _g,_r,_i")
    repeated = sorted({s for s in suffixes if suffixes.count(s) > 1})
    if repeated:
        raise DarklensError(f"--band-suffixes {text!r}: {', '.join(repeated)} given twice")
    return suffixes


def _bare(suffix: str) -> str:
    return "".join(ch for ch in suffix if ch.isalnum()).lower()


def check_band_suffixes(suffixes: Sequence[str], bands: int,
                        band_names: Sequence[str] | None = None) -> None:
    """Refuse suffixes that do not give the model its bands.

    Parameters
    ----------
    suffixes : list of str
        One per band, in channel order.
    bands : int
        The model's number of bands.
    band_names : list of str, optional
        The model's band names in channel order (:class:`~darklens.artifact.ModelMeta`), when
        its export records them: named in the message, and suffixes naming the same bands in
        another order are refused.

    Raises
    ------
    DarklensError
    """
    names = f" ({', '.join(band_names)})" if band_names else ""
    if len(suffixes) != bands:
        raise DarklensError(f"--band-suffixes {','.join(suffixes)} gives {len(suffixes)} bands, "
                            f"the model takes {bands}{names}")
    if band_names and len(band_names) == len(suffixes):
        given = [_bare(s) for s in suffixes]
        known = [_bare(b) for b in band_names]
        if given != known and sorted(given) == sorted(known):
            raise DarklensError(f"--band-suffixes {','.join(suffixes)} gives the bands in another "
                                f"order than the model's {', '.join(band_names)}")


def _split(path: Path, suffixes: Sequence[str]):
    """``(base, suffix, extension)`` of a band file, or None when the name has no band
    suffix before a readable image extension."""
    ext = suffix_of(path)
    if ext is None or ext in DATASET_SUFFIXES:
        return None
    stem = path.name[: len(path.name) - len(ext)]
    matches = [s for s in suffixes if stem.endswith(s)]
    if not matches:
        return None
    band = max(matches, key=len)  # "_ir" before "_r" when both are given
    return stem[: len(stem) - len(band)], band, path.name[len(stem):]


def group_entries(entries: Iterable[tuple[Path, str | None]],
                  suffixes: Sequence[str]) -> Iterator:
    """The walked inputs with band files gathered into one Source per image.

    Parameters
    ----------
    entries : iterable of (path, reason or None)
        Every file given or found (as :func:`darklens.infer.sources.iter_inputs` walks them).
    suffixes : list of str
        The band suffixes, in channel order.

    Yields
    ------
    (path, reason) or Source
        Entries that are no band file, unchanged and in their order; each group, at the place
        of its first file, as a :class:`~darklens.infer.sources.Source` named ``folder/X``
        with its bands as ``parts``, or with the reason it cannot be used.
    """
    order: list = []  # ("entry", (path, reason)) or ("group", key), in walk order
    groups: dict[tuple[Path, str], dict[str, list[Path]]] = {}
    for path, reason in entries:
        split = None if reason is not None else _split(path, suffixes)
        if split is None:
            order.append(("entry", (path, reason)))
            continue
        key = (path.parent, split[0])
        if key not in groups:
            groups[key] = {}
            order.append(("group", key))
        groups[key].setdefault(split[1], []).append(path)
    for kind, item in order:
        yield item if kind == "entry" else _read_group(item, groups[item], suffixes)


def _read_group(key: tuple[Path, str], found: Mapping[str, list[Path]],
                suffixes: Sequence[str]):
    from darklens.infer.sources import Source

    name = str(key[0] / key[1])
    first = next(iter(found.values()))[0]
    ext = _split(first, suffixes)[2]
    for band in suffixes:
        if band not in found:
            return Source(name, error=f"missing band {band}: no {key[1]}{band}{ext} next to "
                                      f"{first.name}")
        if len(found[band]) > 1:
            files = ", ".join(p.name for p in found[band])
            return Source(name, error=f"band {band} given twice: {files}")
    parts = []
    for band in suffixes:
        path = found[band][0]
        try:
            image, header, noise = read_image_parts(path)
            image = check_image(image, 1)
        except BadInput as err:
            return Source(name, error=f"{path.name}: {err.reason}")
        if image.ndim == 3:  # check_image let (1, H, W) through
            image = image[0]
            noise = None if noise is None else noise.reshape(image.shape)
        parts.append(Source(str(path), image, header=header, noise=noise))
    return Source(name, header=parts[0].header, parts=parts)


def adapt_source(src, model: TrainedOn, resample: bool = False):
    """A Source's image (and noise) in the model's units and pixel scale, band by band for a
    group, with the reasons its noise is unlike the training images'.

    Parameters
    ----------
    src : Source
        One file (or dataset sample), or a band group (``src.parts``).
    model : TrainedOn
    resample : bool
        Resample another pixel scale onto the model's (:func:`~darklens.infer.cutouts.adapt`).

    Returns
    -------
    image : ndarray
        ``(H, W)``, ``(C, H, W)`` for a cube or a group.
    noise : ndarray or None
        Per-pixel sigma of the same shape (None unless every band has one).
    reasons : list of str
        :func:`~darklens.infer.cutouts.noise_flags`, each prefixed with its band file's name
        for a group.

    Raises
    ------
    BadInput
        As :func:`~darklens.infer.cutouts.adapt` (naming the band file), and for bands of
        different shapes or pixel scales after resampling.
    """
    if not src.parts:
        image, noise = adapt(src.image, src.header, src.noise, model, resample)
        return image, noise, noise_flags(src.header, noise, model)
    images, noises, reasons, scales = [], [], [], []
    for part in src.parts:
        label = Path(part.name).name
        try:
            image, noise = adapt(part.image, part.header, part.noise, model, resample)
            scale = pixel_scale(part.header)
        except BadInput as err:
            raise BadInput(f"{label}: {err.reason}") from None
        images.append(image)
        noises.append(noise)
        # after adapt every band with a known scale is at the model's, when it has one
        scales.append(model.pixel_scale if scale and model.pixel_scale else scale)
        reasons += [f"{label}: {r}" for r in noise_flags(part.header, noise, model)]
    labels = [Path(p.name).name for p in src.parts]
    _check_alike(labels, [im.shape for im in images], scales)
    noise = None if any(n is None for n in noises) else np.stack(noises)
    return np.stack(images), noise, reasons


def _check_alike(labels, shapes, scales) -> None:
    """Refuse bands of different shapes, or of known pixel scales that differ."""
    if len(set(shapes)) > 1:
        sizes = ", ".join(f"{lb} {s[0]}x{s[1]}" for lb, s in zip(labels, shapes, strict=True))
        raise BadInput(f"bands differ in shape after resampling ({sizes})")
    known = [(lb, s) for lb, s in zip(labels, scales, strict=True) if s]
    if known and any(abs(s / known[0][1] - 1) > SCALE_TOLERANCE for _, s in known):
        listed = ", ".join(f"{lb} {s:.4g}\"" for lb, s in known)
        raise BadInput(f"bands differ in pixel scale ({listed}); the model records no scale to "
                       "resample them to")
