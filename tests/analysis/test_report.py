"""``analyze`` on small labelled tables: files, plots, numbers and one-line errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from darklens.analysis.report import analyze, joint_calibration
from darklens.errors import DarklensError
from tests.analysis.conftest import assert_png


def _table(n=300, std=True, seed=0):
    rng = np.random.default_rng(seed)
    cols = {"source": [f"img_{k}.fits" for k in range(n)]}
    for name, scale in (("log10_halo_mass", 0.1), ("f_sub", 0.01)):
        true = rng.uniform(0, 1, n)
        sigma = np.full(n, scale)
        mean = true + scale * rng.normal(size=n)
        cols[f"{name}_mean"] = mean
        cols[f"{name}_std"] = sigma if std else np.full(n, np.nan)
        for level, z in ((68, 0.9945), (95, 1.96)):
            half = z * sigma if std else np.full(n, np.nan)
            cols[f"{name}_lo{level}"], cols[f"{name}_hi{level}"] = mean - half, mean + half
        cols[f"{name}_true"] = true
    return pd.DataFrame(cols)


def test_analyze_probabilistic_table(tmp_path):
    csv = tmp_path / "pred.csv"
    _table().to_csv(csv, index=False)
    out = tmp_path / "report"
    metrics = analyze(csv, out)

    assert set(metrics) == {"log10_halo_mass", "f_sub", "joint"}
    # independent, correctly sized errors: the joint (TARP) coverage is calibrated too (its
    # max deviation scatters like a KS statistic, ~1/sqrt(300)); 3x too wide intervals are not
    assert metrics["joint"]["covariance"] == "diagonal" and metrics["joint"]["tarp_error"] < 0.15
    wide = _table()
    for name in ("log10_halo_mass", "f_sub"):
        wide[f"{name}_std"] *= 3
    assert joint_calibration(wide, ["log10_halo_mass", "f_sub"])["tarp_error"] > 0.3
    m = metrics["log10_halo_mass"]
    assert m["n"] == 300 and 0.05 < m["mae"] < 0.12 and m["r2"] > 0.8
    assert len(m["per_bin"]) == 5 and len(m["coverage"]) == 10
    for key in ("nll", "crps", "miscalibration_area", "pit_ks_pvalue"):
        assert np.isfinite(m[key])
    assert abs(m["interval_coverage_68"] - 0.68) < 0.08
    assert abs(m["interval_coverage_95"] - 0.95) < 0.05

    assert json.loads((out / "metrics.json").read_text())["f_sub"]["n"] == 300
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 11  # 5 per target and the joint TARP coverage
    html = (out / "report.html").read_text()
    md = (out / "report.md").read_text()
    for png in pngs:
        assert_png(png)
        assert f"src='{png.name}'" in html and f"({png.name})" in md
    assert set(re.findall(r"src='([^']+)'", html)) == {p.name for p in pngs}
    assert not list(out.glob(".*"))


def test_analyze_point_table_and_unlabelled_rows(tmp_path):
    table = _table(std=False)
    table.loc[:9, "f_sub_true"] = np.nan  # e.g. images without labels
    table = table.drop(columns=["log10_halo_mass_true"])  # a target without labels is skipped
    csv = tmp_path / "pred.csv"
    table.to_csv(csv, index=False)
    metrics = analyze(csv, tmp_path / "out")
    assert list(metrics) == ["f_sub"]
    assert metrics["f_sub"]["n"] == 290 and "nll" not in metrics["f_sub"]
    assert "interval_coverage_68" not in metrics["f_sub"]
    assert len(list((tmp_path / "out").glob("*.png"))) == 3
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["f_sub"]["mae"] == pytest.approx(metrics["f_sub"]["mae"])


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (None, "not found"),
        ("source,a_std\nx,1\n", "_mean"),
        ("source,a_mean,a_std\nx,1,1\n", "_true"),
        ("source,a_mean,a_true\nx,,1\n", "a_true"),
    ],
)
def test_bad_tables_give_one_line_errors(tmp_path, content, match):
    csv = tmp_path / "pred.csv"
    if content is not None:
        csv.write_text(content)
    with pytest.raises(DarklensError, match=match) as err:
        analyze(csv, tmp_path / "out")
    assert "\n" not in str(err.value) and "pred.csv" in str(err.value)


def test_flagged_images_are_reported_apart_and_coverage_per_bin_shows_where_it_fails(tmp_path):
    table = _table()
    # intervals too narrow in the upper half of the target's range only
    upper = table["log10_halo_mass_true"] > 0.6
    for level, z in ((68, 0.9945), (95, 1.96)):
        half = np.where(upper, 0.2, 1.0) * z * 0.1
        mean = table["log10_halo_mass_mean"]
        table[f"log10_halo_mass_lo{level}"], table[f"log10_halo_mass_hi{level}"] = (
            mean - half, mean + half)
    table.loc[:19, "log10_halo_mass_mean"] += 5.0  # 20 nonsense answers, all caught
    table["ood"] = [True] * 20 + [False] * 280
    csv = tmp_path / "pred.csv"
    table.to_csv(csv, index=False)
    m = analyze(csv, tmp_path / "out")["log10_halo_mass"]
    assert m["n_flagged"] == 20 and m["not_flagged"]["n"] == 280
    assert m["mae"] > 0.3 > 0.12 > m["not_flagged"]["mae"]
    bins = [b for b in m["per_bin"] if b["n"]]
    low, high = bins[0]["coverage_68"], bins[-1]["coverage_68"]
    assert low > 0.5 and high < 0.3
    md = (tmp_path / "out" / "report.md").read_text()
    assert "without the 20 flagged out of distribution" in md
