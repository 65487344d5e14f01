"""Every plot writes a valid PNG, atomically (no temp file left), and returns its path."""

from __future__ import annotations

import numpy as np
import pandas as pd

from darklens.analysis import plots
from darklens.analysis.calibration import DEFAULT_LEVELS, coverage, pit
from darklens.analysis.metrics import per_bin_metrics
from tests.analysis.conftest import assert_png


def test_all_plots_write_valid_png(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.uniform(11, 12, 200)
    sigma = np.full(200, 0.1)
    pred = y + sigma * rng.normal(size=200)
    bins = per_bin_metrics(y, pred)
    written = [
        plots.plot_true_vs_pred(y, pred, tmp_path / "tvp.png", sigma=sigma, name="m"),
        plots.plot_true_vs_pred(y, pred, tmp_path / "tvp_point.png"),
        plots.plot_residuals(y, pred, tmp_path / "res.png", per_bin=bins, name="m"),
        plots.plot_coverage(
            DEFAULT_LEVELS,
            coverage(y, pred, sigma),
            tmp_path / "cov.png",
            extra={"table": ([0.68, 0.95], [0.7, 0.93])},
        ),
        plots.plot_pit(pit(y, pred, sigma), tmp_path / "pit.png", ks=(0.05, 0.3)),
        plots.plot_bin_mae(bins, tmp_path / "sub" / "mae.png"),
        plots.compare_bars(
            pd.DataFrame({"run": ["a", "b"], "mae_m": [0.1, np.nan]}),
            "mae_m",
            tmp_path / "bars.png",
        ),
    ]
    for path in written:
        assert_png(path)
    assert not [p for p in tmp_path.rglob(".*")]  # temp files renamed away
