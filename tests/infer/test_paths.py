"""predict_paths end to end: tables, errors file, strict mode, known inputs, output formats."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from darklens.errors import DarklensError
from darklens.infer.paths import predict_paths
from darklens.infer.predict import Predictor
from darklens.infer.readers import BadInput
from darklens.simulate import run
from tests.conftest import tiny
from tests.infer.conftest import TARGET, export
from tests.infer.test_readers import _bad_files

COLUMNS = ["source"] + [f"{TARGET}_{c}" for c in ("mean", "std", "lo68", "hi68", "lo95", "hi95")]
COLUMNS += ["ood", "ood_score", "ood_reasons"]


def _good(d, n=3):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        paths.append(d / f"good{i}.npy")
        np.save(paths[-1], rng.uniform(1, 10, (32, 32)).astype(np.float32))
    return paths


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return run(tiny(n=5), out=tmp_path_factory.mktemp("data") / "d.h5", progress=False)


def test_bad_inputs_are_listed_while_good_ones_are_predicted(tmp_path, model_dir):
    src = tmp_path / "in"
    src.mkdir()
    expected = _bad_files(src)
    good = _good(src)
    summary = predict_paths(Predictor([model_dir]), [src], tmp_path / "out.csv", progress=False)
    assert (summary.n_ok, summary.n_bad) == (len(good), len(expected))
    table = pd.read_csv(summary.paths["table"])
    assert list(table.columns) == COLUMNS
    assert sorted(table["source"]) == sorted(str(p) for p in good)
    assert table[COLUMNS[:7]].notna().all().all()  # no OOD checks in this export: NaN
    assert (table[f"{TARGET}_lo95"] < table[f"{TARGET}_lo68"]).all()
    assert (table[f"{TARGET}_lo68"] < table[f"{TARGET}_mean"]).all()
    assert (table[f"{TARGET}_mean"] < table[f"{TARGET}_hi68"]).all()
    errors = pd.read_csv(tmp_path / "out.errors.csv")
    reasons = {
        os.path.basename(p): r for p, r in zip(errors["path"], errors["reason"], strict=True)
    }
    assert set(reasons) == set(expected)
    for name, words in expected.items():
        assert words in reasons[name], (name, reasons[name])


def test_wrong_size_is_bad_unless_resized(tmp_path, model_dir):
    np.save(tmp_path / "big.npy", np.ones((40, 40), np.float32))
    predictor = Predictor([model_dir])
    s = predict_paths(predictor, [tmp_path / "big.npy"], tmp_path / "a.csv", progress=False)
    assert (s.n_ok, s.n_bad) == (0, 1)
    assert "40x40, the model expects 32x32" in pd.read_csv(s.paths["errors"])["reason"][0]
    for option in ("resize", "crop"):
        s = predict_paths(
            predictor,
            [tmp_path / "big.npy"],
            tmp_path / f"{option}.csv",
            progress=False,
            **{option: True},
        )
        assert (s.n_ok, s.n_bad) == (1, 0)


def test_strict_raises_on_the_first_bad_input(tmp_path, model_dir):
    _good(tmp_path, 1)
    np.save(tmp_path / "zero.npy", np.zeros((32, 32)))
    with pytest.raises(BadInput, match=r"zero\.npy: image is all zeros"):
        predict_paths(
            Predictor([model_dir]), [tmp_path], tmp_path / "o.csv", strict=True, progress=False
        )
    assert not (tmp_path / "o.csv").exists()


def test_hdf5_predictions_carry_the_true_value(tmp_path, model_dir, dataset):
    s = predict_paths(
        Predictor([model_dir], tta=True), [dataset], tmp_path / "o.csv", progress=False
    )
    table = pd.read_csv(s.paths["table"])
    import h5py

    with h5py.File(dataset) as f:
        stored = f[TARGET][()]
    assert list(table["source"]) == [f"{dataset}#{k}" for k in range(5)]
    assert np.allclose(table[f"{TARGET}_true"], stored)
    assert list(table.columns) == [*COLUMNS, f"{TARGET}_true"]


def test_netcdf_output(tmp_path, model_dir, dataset):
    import xarray as xr

    s = predict_paths(Predictor([model_dir]), [dataset], tmp_path / "o.nc", progress=False)
    with xr.open_dataset(s.paths["table"], engine="h5netcdf") as ds:
        assert ds.sizes["row"] == 5 and str(ds["source"].values[0]).endswith("d.h5#0")
        assert np.all(np.isfinite(ds[f"{TARGET}_std"].values))
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_output_is_atomic(tmp_path, model_dir, monkeypatch):
    _good(tmp_path, 1)
    out = tmp_path / "o.csv"
    out.write_text("previous\n")

    def broken(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(RuntimeError):
        predict_paths(Predictor([model_dir]), [tmp_path / "good0.npy"], out, progress=False)
    assert out.read_text() == "previous\n"
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_parquet_without_pyarrow_is_one_line(tmp_path, model_dir, monkeypatch):
    # pretend pyarrow is absent even where it is installed
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a)
    )
    with pytest.raises(DarklensError, match=r"pip install pyarrow") as err:
        predict_paths(Predictor([model_dir]), [tmp_path], tmp_path / "o.parquet", progress=False)
    assert "\n" not in str(err.value)
    with pytest.raises(DarklensError, match="unsupported output suffix"):
        predict_paths(Predictor([model_dir]), [tmp_path], tmp_path / "o.xlsx", progress=False)


def test_known_inputs_from_header_csv_and_dataset(tmp_path, dataset):
    model = export(tmp_path / "m", inputs=("z_lens",))
    img = np.random.default_rng(0).uniform(1, 2, (32, 32)).astype(np.float32)
    hdu = fits.PrimaryHDU(img)
    hdu.header["Z_LENS"] = 0.5
    hdu.writeto(tmp_path / "with.fits")
    hdu.header["ZL"] = 0.5
    del hdu.header["Z_LENS"]
    hdu.writeto(tmp_path / "custom.fits")
    np.save(tmp_path / "from_csv.npy", img)
    np.save(tmp_path / "without.npy", img)
    pd.DataFrame({"source": ["from_csv.npy"], "z_lens": [0.5]}).to_csv(tmp_path / "in.csv")
    predictor = Predictor([model])
    paths = [tmp_path / n for n in ("with.fits", "from_csv.npy", "without.npy")] + [dataset]
    s = predict_paths(
        predictor, paths, tmp_path / "o.csv", progress=False, inputs_csv=tmp_path / "in.csv"
    )
    assert (s.n_ok, s.n_bad) == (7, 1)
    errors = pd.read_csv(s.paths["errors"])
    assert errors["path"][0].endswith("without.npy") and "z_lens" in errors["reason"][0]
    table = pd.read_csv(s.paths["table"])
    # the same image with the same input gives the same prediction, whatever its source
    assert table[f"{TARGET}_mean"][0] == pytest.approx(table[f"{TARGET}_mean"][1])
    s = predict_paths(
        predictor,
        [tmp_path / "custom.fits"],
        tmp_path / "c.csv",
        progress=False,
        header_keys={"z_lens": "ZL"},
    )
    assert (s.n_ok, s.n_bad) == (1, 0)


def test_every_path_given_or_found_is_predicted_or_listed_with_its_reason(tmp_path, model_dir):
    from darklens.cli import main

    src = tmp_path / "in"
    src.mkdir()
    expected = _bad_files(src)
    good = _good(src)
    (src / "nested").mkdir()
    np.save(src / "nested" / "deep.npy", np.ones((32, 32), np.float32))
    np.save(src / "wrong_size.npy", np.ones((48, 48), np.float32))
    (src / "alias.npy").symlink_to(good[0])  # the same file reached twice
    expected.update({"wrong_size.npy": "48x48", "alias.npy": "duplicate of"})
    if os.geteuid() != 0:  # root reads everything
        np.save(src / "locked.npy", np.ones((32, 32), np.float32))
        (src / "locked.npy").chmod(0)
        expected["locked.npy"] = "permission denied"
    extra = [str(good[1]), str(tmp_path / "missing.fits")]  # given again, and not there
    assert len(expected) >= 15
    out = tmp_path / "p.csv"
    assert main(["infer", str(model_dir), str(src), *extra, "--out", str(out), "-q"]) == 0
    table, errors = pd.read_csv(out), pd.read_csv(tmp_path / "p.errors.csv")
    reasons = dict(zip(errors["path"], errors["reason"], strict=True))
    assert sorted(table["source"]) == sorted(map(str, [*good, src / "nested" / "deep.npy"]))
    for name, words in expected.items():
        assert words in reasons[str(src / name)], (name, reasons.get(str(src / name)))
    assert reasons[str(good[1])].startswith("duplicate of")
    assert reasons[str(tmp_path / "missing.fits")] == "no such file or folder"
    assert len(table) + len(errors) == len(good) + 1 + len(expected) + len(extra)


def test_full_covariance_models_write_their_covariances(tmp_path):
    import torch

    from darklens.artifact import save_model
    from darklens.models.build import build_model
    from darklens.models.config import ModelConfig
    from tests.infer.conftest import meta

    targets = ("log10_halo_mass", "f_sub")
    torch.manual_seed(0)
    model = build_model(ModelConfig(backbone="resnet10t", head={"kind": "gaussian_full"}),
                        1, 32, 2, 0)
    m = meta(targets, mean=(11.2, 0.02), std=(0.2, 0.01), image_mode="per_image",
             head={"kind": "gaussian_full"})
    m.model_spec = model.model_spec()
    directory = save_model(tmp_path / "full", model, m)
    summary = predict_paths(Predictor([directory]), _good(tmp_path), tmp_path / "p.csv",
                            progress=False)
    table = pd.read_csv(summary.paths["table"])
    cov = table["cov_log10_halo_mass__f_sub"].to_numpy()
    stds = table["log10_halo_mass_std"].to_numpy() * table["f_sub_std"].to_numpy()
    assert np.all(np.isfinite(cov)) and np.all(np.abs(cov) <= stds) and np.any(cov != 0)
