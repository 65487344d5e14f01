"""A fast path for the commonest FITS file: one 2-D image in the primary HDU.

astropy spends ~0.3 ms opening even a tiny file (header objects, card parsing), which made
reading a third of ``darklens infer``'s time. Files this module does not fully understand
(extensions, compression, scaled integers other than plain BSCALE/BZERO, groups) return None and
go to astropy, so nothing is read wrongly; a file shorter than its header says is reported.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["read_simple_fits"]

_BLOCK = 2880
_DTYPES = {8: ">u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}


def _value(text: str):
    """The value of a header card's value field (string, logical, integer or float)."""
    text = text.strip()
    if text.startswith("'"):
        end = text.find("'", 1)
        while end != -1 and text[end + 1 : end + 2] == "'":  # '' is an escaped quote
            end = text.find("'", end + 2)
        return text[1:end].replace("''", "'").rstrip()
    text = text.split("/", 1)[0].strip()
    if text in ("T", "F"):
        return text == "T"
    try:
        return int(text)
    except ValueError:
        try:
            return float(text.replace("D", "E"))
        except ValueError:
            return text


def read_simple_fits(path: str | Path):
    """``(image float32 (H, W), header dict)`` for a simple primary-HDU image, else None.

    Raises
    ------
    EOFError
        When the file ends before the header's END card or before the image data.
    """
    with open(path, "rb") as fh:
        header: dict = {}
        blocks = 0
        while "END" not in header:
            block = fh.read(_BLOCK)
            if len(block) < _BLOCK:
                raise EOFError("file ends inside the FITS header")
            blocks += 1
            text = block.decode("ascii", errors="replace")
            for k in range(0, _BLOCK, 80):
                card = text[k : k + 80]
                key = card[:8].strip()
                if key == "END":
                    header["END"] = True
                    break
                if key and card[8:10] == "= ":
                    header[key] = _value(card[10:])
        if blocks == 1 and header.get("SIMPLE") is not True:
            return None
        bitpix, naxis = header.get("BITPIX"), header.get("NAXIS")
        if naxis != 2 or bitpix not in _DTYPES or header.get("GROUPS"):
            return None
        ny, nx = header.get("NAXIS2"), header.get("NAXIS1")
        if not (isinstance(nx, int) and isinstance(ny, int) and nx > 0 and ny > 0):
            return None
        nbytes = nx * ny * abs(bitpix) // 8
        padded = -(-nbytes // _BLOCK) * _BLOCK
        if os.fstat(fh.fileno()).st_size > blocks * _BLOCK + padded:
            return None  # extensions follow (e.g. a noise map): astropy reads those
        raw = fh.read(nbytes)
    if len(raw) < nbytes:
        raise EOFError("file ends inside the FITS image data")
    image = np.frombuffer(raw, dtype=_DTYPES[bitpix]).reshape(ny, nx).astype(np.float32)
    scale, zero = header.get("BSCALE", 1), header.get("BZERO", 0)
    if scale != 1 or zero != 0:
        image = image * np.float32(scale) + np.float32(zero)
    header.pop("END", None)
    return image, header
