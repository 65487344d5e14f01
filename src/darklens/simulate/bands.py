"""Bands of a multi-band config: one instrument each, on the reference band's pixel grid.

``bands: [euclid-vis, euclid-y, {base: euclid-j, band: J}]`` renders ``image(sample, band, y,
x)``. The first band is the reference: its pixel grid (``num_pix``, ``pixel_scale``) is every
band's grid, as for images reprojected onto one grid before a network sees them; each band keeps
its own PSF, zero point, sky, read noise and exposure. Per-image draws are made once, for the
reference band: a band's exposure time and PSF width scale with the reference band's (a
deeper or sharper field is so in every band), and the source and lens galaxy have one magnitude
in the reference band plus a colour per other band (``source_color_<band>``,
``lens_light_color_<band>``).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from darklens.errors import DarklensError
from darklens.simulate.instruments import Instrument, resolve_instrument

__all__ = ["Band", "band_scale", "resolve_bands"]


@dataclass(frozen=True)
class Band:
    """One band: its key (used in parameter names) and instrument."""

    key: str
    inst: Instrument


def _key(spec, inst: Instrument) -> str:
    name = (spec.get("band") or spec.get("base")) if isinstance(spec, dict) else None
    return re.sub(r"[^0-9a-zA-Z]+", "_", name or inst.name).strip("_").lower()


def _instrument(spec):
    return {k: v for k, v in spec.items() if k != "band"} if isinstance(spec, dict) else spec


def resolve_bands(instrument, bands, num_pix: int | None, where) -> list[Band]:
    """The config's bands (one for ``instrument`` when ``bands`` is not given).

    Parameters
    ----------
    instrument : str, dict or None
        The single-band instrument; None means HST WFC3/F160W, or the first band.
    bands : list or None
        Preset names or instrument mappings; a mapping may carry ``band``, the band's name in
        parameter names and the dataset's ``band`` coordinate (default: from the preset).
    num_pix : int or None
        Image side override (pixels).
    where : callable
        ``where(field) -> dotted config path`` for error messages.
    """
    if bands is None:
        inst = resolve_instrument(instrument or "hst-wfc3-f160w", where("instrument"))
        specs, insts = [instrument], [inst]
    else:
        if not isinstance(bands, list) or not bands:
            raise DarklensError(f"{where('bands')}: expected a non-empty list of instruments")
        insts = [resolve_instrument(_instrument(b), where(f"bands[{i}]"))
                 for i, b in enumerate(bands)]
        specs = bands
        if instrument is not None and resolve_instrument(instrument, where("instrument")) \
                != insts[0]:
            raise DarklensError(
                f"{where('instrument')}: give either instrument or bands (the first band is "
                f"the instrument of a multi-band config)"
            )
    ref = insts[0]
    if num_pix is not None:
        ref = dataclasses.replace(ref, num_pix=num_pix)
    out = [Band(_key(specs[0], ref), ref)]
    for spec, inst in zip(specs[1:], insts[1:], strict=True):
        inst = dataclasses.replace(inst, num_pix=ref.num_pix, pixel_scale=ref.pixel_scale)
        out.append(Band(_key(spec, inst), inst))
    for i, band in enumerate(out if len(out) > 1 else ()):
        if not isinstance(band.inst.exposure_time, int | float):
            raise DarklensError(
                f"{where(f'bands[{i}]')}: exposure_time must be a number in a multi-band config "
                f"(a per-image prior goes in params.exposure_time: it is drawn for the first "
                f"band and scales the others); got {band.inst.exposure_time!r}"
            )
    keys = [b.key for b in out]
    if len(set(keys)) != len(keys):
        raise DarklensError(f"{where('bands')}: band names {keys} repeat; give each a `band`")
    return out


def band_scale(value: float, bands: list[Band], index: int, field: str) -> float:
    """A per-image value drawn for the reference band carried to band ``index``, scaled by the
    ratio of the two bands' nominal values of ``field`` (exposure time, PSF FWHM)."""
    if index == 0:
        return value
    nominal, own = getattr(bands[0].inst, field), getattr(bands[index].inst, field)
    return value * own / nominal if nominal else own
