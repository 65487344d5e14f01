"""Drawing only: PNG figures of predictions, calibration numbers and run comparisons.

Every function takes arrays or the dicts made by analysis/metrics.py and calibration.py, draws
them with matplotlib's Agg canvas (no pyplot, so no global backend state) and writes a PNG
atomically (temp name, then rename). Numbers are computed elsewhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from darklens import params as P
from darklens.atomic import atomic_path

__all__ = [
    "compare_bars",
    "plot_bin_mae",
    "plot_coverage",
    "plot_pit",
    "plot_population",
    "plot_residuals",
    "plot_true_vs_pred",
]

_DPI = 110


def _figure(size=(4.6, 4.0)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _save(fig, path) -> Path:
    with atomic_path(path) as tmp:  # a reader never sees half a PNG
        fig.savefig(tmp, format="png", dpi=_DPI)
    return Path(path)


def plot_true_vs_pred(y_true, y_pred, path, sigma=None, name: str = "") -> Path:
    """Predicted vs true values with 1-sigma error bars and the identity line.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (N,)
    path : path
        PNG to write.
    sigma : array_like, optional
        Predicted standard deviations (error bars); omitted for point models.
    name : str
        Target name for the axis labels.

    Returns
    -------
    Path
    """
    y_true, y_pred = np.asarray(y_true, float), np.asarray(y_pred, float)
    fig, ax = _figure()
    yerr = None if sigma is None else np.asarray(sigma, float)
    alpha = 0.6 if len(y_true) < 500 else 0.25  # dense clouds hide the trend when opaque
    ax.errorbar(
        y_true, y_pred, yerr=yerr, fmt="o", ms=2.5, lw=0.6, alpha=alpha, color="C0", ecolor="C0"
    )
    both = np.concatenate([y_true, y_pred])
    lo, hi = np.nanmin(both), np.nanmax(both)
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="y = x")
    ax.set(xlabel=f"true {P.label(name)}", ylabel=f"predicted {P.label(name)}",
           title=f"{name}: true vs predicted")
    ax.legend(loc="upper left")
    return _save(fig, path)


def plot_residuals(y_true, y_pred, path, per_bin: list[dict] | None = None, name: str = "") -> Path:
    """Residuals (predicted - true) against the truth, with the per-bin bias if given.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (N,)
    path : path
        PNG to write.
    per_bin : list of dict, optional
        :func:`darklens.analysis.metrics.per_bin_metrics` output; its bias and RMSE are drawn
        at the bin centres.
    name : str
        Target name.

    Returns
    -------
    Path
    """
    y_true = np.asarray(y_true, float)
    resid = np.asarray(y_pred, float) - y_true
    fig, ax = _figure()
    ax.scatter(y_true, resid, s=5, alpha=0.4, color="C0", label="residual")
    ax.axhline(0.0, color="k", lw=1, ls="--")
    if per_bin:
        centres = [(b["lo"] + b["hi"]) / 2 for b in per_bin]
        bias = [b["bias"] for b in per_bin]
        rmse = [b["rmse"] for b in per_bin]
        ax.errorbar(
            centres, bias, yerr=rmse, fmt="s-", color="C3", capsize=3, label="bin bias ± RMSE"
        )
    ax.set(xlabel=f"true {P.label(name)}", ylabel="predicted - true",
           title=f"{name}: residuals")
    ax.legend(loc="best")
    return _save(fig, path)


def plot_coverage(
    levels, coverage, path, name: str = "", extra: dict[str, tuple] | None = None
) -> Path:
    """Reliability curve: empirical vs nominal coverage of central intervals.

    Parameters
    ----------
    levels, coverage : array_like, shape (L,)
        Nominal levels and their empirical coverage.
    path : path
        PNG to write.
    name : str
        Target name.
    extra : dict of str to (levels, coverage), optional
        Further labelled points, e.g. the table's own 68 %/95 % intervals.

    Returns
    -------
    Path
    """
    fig, ax = _figure()
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="ideal")
    ax.plot(levels, coverage, "o-", color="C0", label="Gaussian intervals")
    for k, (label, (lv, cov)) in enumerate((extra or {}).items()):
        ax.plot(lv, cov, "D", ms=7, color=f"C{k + 1}", label=label)
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="nominal coverage",
        ylabel="empirical coverage",
        title=f"{name}: reliability",
    )
    ax.set_aspect("equal")
    ax.legend(loc="upper left")
    return _save(fig, path)


def plot_pit(
    pit_values, path, bins: int = 20, name: str = "", ks: tuple[float, float] | None = None
) -> Path:
    """Histogram of PIT values as a density; flat at 1 when calibrated.

    A U shape means over-confident intervals, a hump under-confident, a slope a bias.

    Parameters
    ----------
    pit_values : array_like
    path : path
        PNG to write.
    bins : int
        Histogram bins on [0, 1].
    name : str
        Target name.
    ks : (statistic, pvalue), optional
        Shown in the title.

    Returns
    -------
    Path
    """
    fig, ax = _figure()
    ax.hist(
        np.asarray(pit_values, float),
        bins=bins,
        range=(0, 1),
        density=True,
        color="C0",
        alpha=0.8,
        edgecolor="white",
    )
    ax.axhline(1.0, color="k", ls="--", lw=1, label="uniform")
    title = f"{name}: PIT"
    if ks is not None:
        title += f" (KS p = {ks[1]:.2g})"
    ax.set(xlim=(0, 1), xlabel="PIT", ylabel="density", title=title)
    ax.legend(loc="upper right")
    return _save(fig, path)


def plot_bin_mae(per_bin: list[dict], path, name: str = "") -> Path:
    """Bar chart of the MAE in each bin of the true value, labelled with the bin counts.

    Parameters
    ----------
    per_bin : list of dict
        :func:`darklens.analysis.metrics.per_bin_metrics` output.
    path : path
        PNG to write.
    name : str
        Target name.

    Returns
    -------
    Path
    """
    fig, ax = _figure()
    centres = [(b["lo"] + b["hi"]) / 2 for b in per_bin]
    widths = [0.9 * (b["hi"] - b["lo"]) or 0.9 for b in per_bin]
    mae = [0.0 if b["n"] == 0 else b["mae"] for b in per_bin]
    bars = ax.bar(centres, mae, width=widths, color="C0")
    ax.bar_label(bars, labels=[f"n={b['n']}" for b in per_bin], fontsize=7)
    ax.set(xlabel=f"true {P.label(name)}", ylabel="MAE",
           title=f"{name}: MAE per bin of the truth")
    return _save(fig, path)


def compare_bars(table, metric: str, path) -> Path:
    """Bar chart of one metric across runs.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per run with a ``run`` column (bar labels) and ``metric``.
    metric : str
        Column to draw.
    path : path
        PNG to write.

    Returns
    -------
    Path
    """
    labels = [str(v) for v in table["run"]]
    values = np.asarray(table[metric], dtype=float)
    fig, ax = _figure(size=(max(4.0, 0.8 * len(labels) + 2.0), 3.8))
    bars = ax.bar(range(len(labels)), np.nan_to_num(values), color="C0")
    ax.bar_label(bars, labels=[f"{v:.3g}" for v in values], fontsize=8)
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set(ylabel=metric, title=f"{metric} per run")
    return _save(fig, path)


def plot_population(posterior, path, name: str = "", truth: dict | None = None) -> Path:
    """The posterior of a population's mean and scatter: filled 68 % / 95 % regions.

    Parameters
    ----------
    posterior : darklens.analysis.population.PopulationPosterior
    path : path
        PNG to write.
    name : str
        Target name for the axis labels.
    truth : dict, optional
        ``{"mean": .., "scatter": ..}`` of the lenses' true values, marked when known.

    Returns
    -------
    Path
    """
    mean, scatter = posterior.values("mean"), posterior.values("scatter")
    weights = np.exp(posterior.log_post - posterior.log_post.max())
    # the density level enclosing 68 % / 95 % of the grid's posterior mass
    ordered = np.sort(weights.ravel())[::-1]
    mass = np.cumsum(ordered) / ordered.sum()
    levels = sorted(ordered[np.searchsorted(mass, q)] for q in (0.68, 0.95))
    fig, ax = _figure()
    ax.contourf(mean, scatter, weights, levels=[levels[0], levels[1], weights.max() * 1.01],
                colors=["#9ecae1", "#3182bd"])
    shown = weights > weights.max() * 1e-4  # zoom on the posterior, not the whole grid
    ax.set(xlim=(mean[shown].min(), mean[shown].max()), ylim=(0, scatter[shown].max()))
    ax.locator_params(axis="x", nbins=5)
    if truth:
        ax.plot(truth["mean"], truth["scatter"], "r*", ms=12, label="true values of these lenses")
        ax.legend(fontsize=8)
    ax.set(xlabel=f"population mean of {P.label(name)}",
           ylabel=f"population scatter of {P.label(name)}",
           title=f"{name}: {posterior.n} lenses (68 % / 95 %)")
    return _save(fig, path)
