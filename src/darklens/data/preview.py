"""Quick-look PNG of example images from a dataset, labelled with their sampled parameters."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from darklens.atomic import atomic_path
from darklens.data.info import open_dataset
from darklens.data.schema import IMAGE, SAMPLE
from darklens.errors import DarklensError

#: Variables that vary per sample but say nothing about the image content.
_NOT_LABELS = {"seed", SAMPLE}
_MAX_DEFAULT_LABELS = 3  # more do not fit above a thumbnail


def _stretch(img: np.ndarray) -> np.ndarray:
    """Asinh stretch to [0, 1]: faint arcs stay visible next to a bright lens galaxy."""
    img = np.nan_to_num(np.asarray(img, dtype=np.float64))
    lo, hi = np.percentile(img, [1.0, 99.7])
    if hi <= lo:
        return np.zeros_like(img)
    x = np.clip((img - lo) / (hi - lo), 0.0, 1.0)
    soft = 10.0  # asinh(soft*x) is ~linear for x << 1/soft and ~log above
    return np.arcsinh(soft * x) / np.arcsinh(soft)


def _default_labels(ds) -> list[str]:
    """Per-sample variables that are not constant (i.e. sampled), at most a few."""
    chosen = []
    for name, var in ds.data_vars.items():
        if name == IMAGE or name in _NOT_LABELS or var.dims != (SAMPLE,):
            continue
        values = var.values
        if len(values) and np.any(values != values[0]):
            chosen.append(name)
        if len(chosen) == _MAX_DEFAULT_LABELS:
            break
    return chosen


def _label(name: str, value) -> str:
    if isinstance(value, float | np.floating):
        return f"{name}={value:.3g}"
    return f"{name}={value}"


def plot_examples(
    path: Path,
    out_png: Path,
    n: int = 16,
    label_vars: list[str] | None = None,
) -> Path:
    """Write a PNG grid of example images with their parameter values as titles.

    Parameters
    ----------
    path : Path
        Dataset file.
    out_png : Path
        PNG to write (atomically: temp name, then rename).
    n : int
        Number of images, spread evenly over the dataset.
    label_vars : list of str, optional
        Variables shown in each title; default: up to three non-constant per-sample variables.

    Returns
    -------
    Path
        ``out_png``.
    """
    # Figure + Agg canvas directly (no pyplot): no global backend state, safe in workers.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_png = Path(out_png)
    with open_dataset(path) as ds:
        total = ds.sizes[SAMPLE]
        idx = np.unique(np.linspace(0, total - 1, min(n, total)).round().astype(int))
        labels = _default_labels(ds) if label_vars is None else list(label_vars)
        missing = [v for v in labels if v not in ds]
        if missing:
            raise DarklensError(f"{path}: no variable {missing[0]!r} to label the examples with")
        images = ds[IMAGE].isel({SAMPLE: idx}).values
        values = {v: ds[v].isel({SAMPLE: idx}).values for v in labels}
        samples = ds[SAMPLE].values[idx]

    cols = math.ceil(math.sqrt(len(idx)))
    rows = math.ceil(len(idx) / cols)
    fig = Figure(figsize=(2.2 * cols, 2.4 * rows), dpi=100)
    FigureCanvasAgg(fig)
    for k in range(len(idx)):
        ax = fig.add_subplot(rows, cols, k + 1)
        img = images[k]
        if img.ndim == 3:  # (band, y, x): show the first band
            img = img[0]
        ax.imshow(_stretch(img), origin="lower", cmap="magma", interpolation="nearest")
        title = [f"#{samples[k]}"] + [_label(v, values[v][k]) for v in labels]
        ax.set_title("\n".join(title), fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()

    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png")
    return out_png
