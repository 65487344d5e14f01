"""The end-to-end demo (quick) and the infer / calibrate / analyze / compare verbs as a user
types them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from darklens.analysis.report import read_predictions
from darklens.cli import main


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--out", str(out), "--quick", "-q"]) == 0
    return out


def test_quick_demo_runs_the_whole_path(demo_dir, capsys):
    for name in ("train.h5", "calib.h5", "test.h5", "run/best/model.json", "predictions.csv",
                 "test_fits.labels.csv",
                 "report/report.html", "report/report.md", "report/metrics.json"):
        assert (demo_dir / name).is_file(), name
    meta = json.loads((demo_dir / "run/best/model.json").read_text())
    cal = meta["calibration"]["log10_halo_mass"]
    assert cal["n"] == 128 and len(cal["quantiles"]) == 2
    table, _ = read_predictions(demo_dir / "predictions.csv", demo_dir / "test_fits.labels.csv")
    assert len(table) == 48 and table["log10_halo_mass_true"].notna().all()
    # the calibrated 95 % interval is wider than the 68 % one, and both contain the mean
    assert (table["log10_halo_mass_hi95"] > table["log10_halo_mass_hi68"]).all()
    assert (table["log10_halo_mass_lo68"] < table["log10_halo_mass_mean"]).all()


def test_infer_verb_lists_bad_files_and_keeps_going(demo_dir, tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    for k, src in enumerate(sorted((demo_dir / "test_fits").glob("*.fits"))[:3]):
        (images / f"good_{k}.fits").write_bytes(src.read_bytes())
    (images / "empty.fits").write_bytes(b"")
    np.save(images / "nan.npy", np.full((64, 64), np.nan, np.float32))
    out = tmp_path / "p.csv"
    assert main(["infer", str(demo_dir / "run"), str(images), "--out", str(out), "-q"]) == 0
    assert len(pd.read_csv(out)) == 3
    errors = pd.read_csv(tmp_path / "p.errors.csv")
    assert sorted(errors["path"].map(lambda p: p.rsplit("/", 1)[-1])) == ["empty.fits", "nan.npy"]
    assert "2 bad inputs" in capsys.readouterr().out
    assert main(["infer", str(demo_dir / "run"), str(images), "--out", str(out),
                 "--strict", "-q"]) == 2
    assert main(["infer", str(images), "--out", str(out)]) == 2  # no model first


def test_ensemble_of_the_same_model_and_an_h5_input(demo_dir, tmp_path):
    out = tmp_path / "e.csv"
    run = str(demo_dir / "run")
    assert main(["infer", run, run + "/best", str(demo_dir / "test.h5"), "--out", str(out),
                 "-q"]) == 0
    single = tmp_path / "s.csv"
    assert main(["infer", run, str(demo_dir / "test.h5"), "--out", str(single), "-q"]) == 0
    a, b = pd.read_csv(out), pd.read_csv(single)
    # two identical members: same mean and (zero spread between members) same std
    np.testing.assert_allclose(a["log10_halo_mass_mean"], b["log10_halo_mass_mean"], rtol=1e-6)
    np.testing.assert_allclose(a["log10_halo_mass_std"], b["log10_halo_mass_std"], rtol=1e-5)
    assert a["log10_halo_mass_true"].notna().all()


def test_calibrate_analyze_and_compare_verbs(demo_dir, tmp_path, capsys):
    assert main(["calibrate", str(demo_dir / "run"), str(demo_dir / "calib.h5")]) == 0
    assert "sigma scale" in capsys.readouterr().out
    assert main(["analyze", str(demo_dir / "predictions.csv"), "--out",
                 str(tmp_path / "rep"), "--truth", str(demo_dir / "test_fits.labels.csv")]) == 0
    assert (tmp_path / "rep" / "report.html").is_file()
    assert main(["compare", str(demo_dir / "run"), "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "comparison.md").is_file()
    assert main(["analyze", str(tmp_path / "missing.csv")]) == 2


def test_conformal_intervals_cover_fresh_simulator_data(demo_dir, tmp_path):
    """Calibrate the demo model on 2,000 fresh simulations, then check 3,000 more: the stated
    68 % and 95 % intervals must cover within 2 % (the raw Gaussian ones need not)."""
    from darklens.demo import SIM
    from darklens.infer.calibrate import calibrate
    from darklens.infer.predict import Predictor, intervals
    from darklens.simulate import run

    calib = run(dict(SIM, n=2000, seed=11), out=tmp_path / "c.h5", workers=2, progress=False)
    test = run(dict(SIM, n=3000, seed=12), out=tmp_path / "t.h5", workers=2, progress=False)
    export = tmp_path / "model"
    export.mkdir()
    for name in ("model.json", "model.safetensors"):
        (export / name).write_bytes((demo_dir / "run" / "best" / name).read_bytes())
    calibrate(export, [calib])

    from darklens.data.dataset import LensDataset

    ds = LensDataset([test], ["log10_halo_mass"])
    predictor = Predictor([export])
    pred = predictor.predict(ds.load_images(np.arange(len(ds))))["log10_halo_mass"]
    y = ds.raw_targets[:, 0]
    cal = predictor.calibration["log10_halo_mass"]
    for level in (0.68, 0.95):
        lo, hi = intervals(pred["mean"], pred["std"], level, cal)
        covered = np.mean((y >= lo) & (y <= hi))
        assert abs(covered - level) < 0.02, (level, covered)
