"""Write a darklens dataset as a folder of FITS files plus a labels table.

This is how a simulated test set goes through the real inference path (``darklens infer`` on
image files, the way observed cutouts arrive), with the true values kept aside in a CSV that
``darklens analyze --truth`` joins back by file name.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from darklens.atomic import atomic_path
from darklens.errors import DarklensError

__all__ = ["export_fits", "default_labels_path"]

def default_labels_path(folder: str | Path) -> Path:
    """``<folder>.labels.csv``, next to (not inside) the folder so ``infer`` never reads it."""
    folder = Path(folder)
    return folder.with_name(folder.name + ".labels.csv")


def export_fits(dataset: str | Path, folder: str | Path, inputs=(),
                labels: str | Path | None = None, progress: bool = False) -> tuple[int, Path]:
    """Write every image of ``dataset`` as ``folder/lens_NNNNN.fits``.

    Parameters
    ----------
    dataset : path
        A darklens ``.h5`` dataset (or a merged one).
    folder : path
        Output folder; created. Existing ``lens_*.fits`` files in it are overwritten.
    inputs : sequence of str
        Per-sample variables to write as header keywords (upper-cased, e.g. ``Z_LENS``), the
        known inputs a model trained with ``data.inputs`` reads from FITS headers.
    labels : path, optional
        CSV of ``source`` (file name) plus ``<variable>_true`` for every numeric per-sample
        variable (default :func:`default_labels_path`), written atomically.

    Returns
    -------
    n : int
        Images written.
    labels : Path
    """
    import pandas as pd
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning
    from tqdm.auto import tqdm

    from darklens.data.catalog import describe, open_h5, read_columns, read_images
    from darklens.data.schema import PIXEL_SCALE_ATTR

    info = describe([dataset])
    missing = [name for name in inputs if name not in info.variables]
    if missing:
        raise DarklensError(f"{dataset}: no per-sample variable {missing[0]!r} to export as a "
                            f"header keyword; variables: {', '.join(info.variables)}")
    columns = list(info.variables)
    values = read_columns([dataset], columns)
    with open_h5(Path(dataset)) as f:
        pixel_scale = f.attrs.get(PIXEL_SCALE_ATTR)
        units = f.attrs.get("image_units", "counts/s")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    width = max(5, len(str(info.n - 1)))
    rows = []
    for start in tqdm(range(0, info.n, 256), desc="export", unit="blk", disable=not progress):
        idx = np.arange(start, min(start + 256, info.n))
        for k, image in zip(idx, read_images([dataset], idx), strict=True):
            header = fits.Header()
            for name in inputs:
                header[name.upper()] = float(values[k, columns.index(name)])
            if pixel_scale is not None:
                header["PIXSCALE"] = (float(np.ravel(pixel_scale)[0]), "arcsec per pixel")
            header["BUNIT"] = units.decode() if isinstance(units, bytes) else str(units)
            path = folder / f"lens_{k:0{width}d}.fits"
            with warnings.catch_warnings():  # names over 8 characters become HIERARCH cards
                warnings.simplefilter("ignore", VerifyWarning)
                fits.PrimaryHDU(image if image.shape[0] > 1 else image[0],
                                header=header).writeto(path, overwrite=True)
            rows.append(path.name)
    table = pd.DataFrame({"source": rows})
    for j, name in enumerate(columns):
        table[f"{name}_true"] = values[:, j]
    labels = Path(labels) if labels else default_labels_path(folder)
    with atomic_path(labels) as tmp:
        table.to_csv(tmp, index=False)
    return info.n, labels
