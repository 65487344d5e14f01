"""One file per band at inference (``--band-suffixes``): grouping, order, errors, the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from astropy.io import fits

from darklens.artifact import save_model
from darklens.cli import main
from darklens.errors import DarklensError
from darklens.infer.band_groups import check_band_suffixes, parse_band_suffixes
from darklens.infer.paths import predict_paths
from darklens.infer.predict import Predictor
from darklens.models.build import build_model
from darklens.models.config import ModelConfig
from tests.infer.conftest import TARGET, meta

BANDS = ("_g", "_r", "_i")


class Corners(torch.nn.Module):
    """A member whose mean encodes the top-left pixel of each band: c0 + 10 c1 + 100 c2."""

    def forward(self, image, inputs=None):
        corner = image[:, :, 0, 0]
        weights = 10.0 ** torch.arange(image.shape[1], dtype=corner.dtype)
        mean = (corner * weights).sum(dim=1, keepdim=True)
        return {"mean": mean, "var": torch.ones_like(mean)}


def _corners_predictor(**extra) -> Predictor:
    return Predictor.from_members([(Corners(), meta(shape=(3, 32, 32), **extra))])


def _band(value: float, n: int = 32) -> np.ndarray:
    image = np.full((n, n), 5.0, np.float32)
    image[0, 0] = value
    return image


def _write(folder, name: str, image, header=None) -> None:
    folder.mkdir(exist_ok=True)
    if name.endswith(".npy"):
        np.save(folder / name, image)
    else:
        fits.PrimaryHDU(image, header=header).writeto(folder / name)


def _table(summary):
    return (pd.read_csv(summary.paths["table"]), pd.read_csv(summary.paths["errors"]))


def test_band_files_become_one_image_in_suffix_order(tmp_path):
    d = tmp_path / "in"
    for band, value in zip(BANDS, (1.0, 2.0, 3.0), strict=True):
        _write(d, f"lens1{band}.fits", _band(value))
        _write(d, f"lens2{band}.npy", _band(value + 3))
    _write(d, "cube.npy", np.stack([_band(7.0), _band(8.0), _band(9.0)]))  # still a cube
    s = predict_paths(_corners_predictor(), [d], tmp_path / "p.csv", progress=False,
                      band_suffixes=["_r", "_g", "_i"])
    table, errors = _table(s)
    assert (s.n_ok, s.n_bad) == (3, 0), errors
    means = dict(zip(table["source"], table[f"{TARGET}_mean"], strict=True))
    # channel 0 is _r (2), channel 1 _g (1), channel 2 _i (3)
    assert means[str(d / "lens1")] == pytest.approx(2 + 10 * 1 + 100 * 3)
    assert means[str(d / "lens2")] == pytest.approx(5 + 10 * 4 + 100 * 6)
    assert means[str(d / "cube.npy")] == pytest.approx(7 + 10 * 8 + 100 * 9)


def test_bad_groups_are_listed_with_the_reason(tmp_path):
    d = tmp_path / "in"
    _write(d, "a_g.fits", _band(1))
    _write(d, "a_i.fits", _band(1))  # no a_r
    for band in BANDS:  # one band of another size
        _write(d, f"b{band}.fits", _band(1, 40 if band == "_i" else 32))
    for band in BANDS:  # the model records no pixel scale: nothing to resample to
        _write(d, f"c{band}.fits", _band(1), fits.Header({"PIXSCALE": 0.04 if band == "_g"
                                                             else 0.08}))
    for band in BANDS:
        _write(d, f"e{band}.npy", np.stack([_band(1)] * 2) if band == "_r" else _band(1))
    _write(d, "f_g.fits", _band(1))
    _write(d, "f_g.npy", _band(1))
    s = predict_paths(_corners_predictor(), [d], tmp_path / "p.csv", progress=False,
                      band_suffixes=list(BANDS))
    _, errors = _table(s)
    reasons = dict(zip(errors["path"], errors["reason"], strict=True))
    assert s.n_ok == 0 and len(reasons) == 5, reasons
    assert "missing band _r: no a_r.fits next to a_g.fits" in reasons[str(d / "a")]
    assert "bands differ in shape after resampling (b_g.fits 32x32, b_r.fits 32x32, " \
           "b_i.fits 40x40)" in reasons[str(d / "b")]
    assert 'bands differ in pixel scale (c_g.fits 0.04", c_r.fits 0.08"' in reasons[str(d / "c")]
    assert reasons[str(d / "e")].startswith("e_r.npy: 3-D cube of shape (2, 32, 32)")
    assert "band _g given twice: f_g.fits, f_g.npy" in reasons[str(d / "f")]


def test_each_band_is_resampled_and_converted_on_its_own(tmp_path):
    d = tmp_path / "in"
    exp = {"EXPTIME": 100.0}
    _write(d, "x_g.fits", np.full((64, 64), 2.0, np.float32),
           fits.Header({"PIXSCALE": 0.04, "BUNIT": "counts/s"}))  # pixels 4x larger: x4
    _write(d, "x_r.fits", np.full((32, 32), 300.0, np.float32),
           fits.Header({"PIXSCALE": 0.08, "BUNIT": "counts", **exp}))  # counts -> counts/s
    _write(d, "x_i.fits", np.full((32, 32), 0.5, np.float32))  # no keywords: model's
    predictor = _corners_predictor(pixel_scale=0.08)
    plain = predict_paths(predictor, [d], tmp_path / "p.csv", progress=False,
                          band_suffixes=list(BANDS))
    assert "x_g.fits: pixel scale 0.04\" differs" in _table(plain)[1]["reason"][0]
    s = predict_paths(predictor, [d], tmp_path / "q.csv", progress=False, resample=True,
                      band_suffixes=list(BANDS))
    table, errors = _table(s)
    assert s.n_ok == 1, errors
    assert table[f"{TARGET}_mean"][0] == pytest.approx(8.0 + 10 * 3.0 + 100 * 0.5, rel=1e-4)


def test_suffixes_must_give_the_models_bands():
    assert parse_band_suffixes(" _g, _r ,_i") == ["_g", "_r", "_i"]
    for bad, words in (("_g,,_i", "non-empty"), ("_g,_g", "_g given twice")):
        with pytest.raises(DarklensError, match=words):
            parse_band_suffixes(bad)
    with pytest.raises(DarklensError, match=r"gives 2 bands, the model takes 3 \(g, r, i\)$"):
        check_band_suffixes(["_g", "_r"], 3, ["g", "r", "i"])
    with pytest.raises(DarklensError, match=r"gives 2 bands, the model takes 3$"):
        check_band_suffixes(["_g", "_r"], 3)
    with pytest.raises(DarklensError, match="another order than the model's g, r, i"):
        check_band_suffixes(["_i", "_r", "_g"], 3, ["g", "r", "i"])
    check_band_suffixes(["-G", "-R", "-I"], 3, ["g", "r", "i"])


def _export_three_band(directory):
    torch.manual_seed(0)
    model = build_model(ModelConfig(backbone="resnet10t", head={"kind": "gaussian"}), 3, 32, 1)
    m = meta(shape=(3, 32, 32), mean=(11.2,), std=(0.2,), image_mode="per_image",
             band_names=["g", "r", "i"])
    m.model_spec = model.model_spec()
    return save_model(directory, model, m)


def test_infer_cli_end_to_end_on_a_three_band_model(tmp_path, capsys):
    model = _export_three_band(tmp_path / "run" / "best")
    d = tmp_path / "cutouts"
    rng = np.random.default_rng(1)
    for name in ("p", "q"):
        for band in BANDS:
            _write(d, f"{name}{band}.fits", rng.uniform(1, 10, (32, 32)).astype(np.float32))
    out = tmp_path / "p.csv"
    assert main(["infer", str(model), str(d), "--out", str(out), "--band-suffixes",
                 "_g,_r,_i", "-q"]) == 0
    table = pd.read_csv(out)
    assert sorted(table["source"]) == [str(d / "p"), str(d / "q")]
    assert table[f"{TARGET}_mean"].notna().all()
    capsys.readouterr()
    assert main(["infer", str(model), str(d), "--out", str(out), "--band-suffixes",
                 "_g,_r", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("darklens: error: --band-suffixes _g,_r gives 2 bands, the model takes 3 "
                   "(g, r, i)")


def test_noise_extensions_are_read_and_checked_per_band(tmp_path):
    from darklens.infer.band_groups import adapt_source
    from darklens.infer.cutouts import TrainedOn
    from darklens.infer.sources import iter_inputs

    d = tmp_path / "in"
    d.mkdir()
    for band, sigma in zip(BANDS, (0.02, 0.02, 0.5), strict=True):
        hdus = [fits.PrimaryHDU(_band(1)), fits.ImageHDU(np.full((32, 32), sigma, np.float32),
                                                         name="ERR")]
        fits.HDUList(hdus).writeto(d / f"n{band}.fits")
    (src,) = iter_inputs([d], 3, list(BANDS))
    model = TrainedOn(None, "counts/s", (32, 32), noise_range=(0.01, 0.03))
    image, noise, reasons = adapt_source(src, model)
    assert image.shape == noise.shape == (3, 32, 32)
    assert noise[:, 0, 0].tolist() == pytest.approx([0.02, 0.02, 0.5])
    assert len(reasons) == 1 and reasons[0].startswith("n_i.fits: noise map sigma 0.5 outside")
