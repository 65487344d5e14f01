"""Multi-band configs: each band is the single-band render of that band; datasets and training
take image(sample, band, y, x)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from darklens.errors import DarklensError
from darklens.simulate import run
from darklens.simulate.config import load_sim_config
from darklens.simulate.samples import render_image
from tests.conftest import tiny

RED = {"base": "hst-wfc3-f160w", "num_pix": 32}
BLUE = {"base": "hst-wfc3-f160w", "band": "blue", "magnitude_zero_point": 26.5,
        "psf_fwhm": 0.12, "sky_brightness": 22.8, "exposure_time": 2700.0}


def _multi(**extra):
    cfg = tiny("none", bands=[RED, BLUE], lens_light=True, **extra)
    cfg.pop("instrument")
    return cfg


def test_each_band_is_the_single_band_render_of_that_band():
    multi = load_sim_config(_multi(noise=False))
    image, values = render_image(multi, index=3)
    assert image.shape == (2, 32, 32)
    assert multi.band_keys == ["hst_wfc3_f160w", "blue"]
    for band, inst, colours in ((0, RED, {}), (1, dict(BLUE, num_pix=32), {
            "source_mag": values["source_mag"] + values["source_color_blue"],
            "lens_light_mag": values["lens_light_mag"] + values["lens_light_color_blue"]})):
        inst = {k: v for k, v in inst.items() if k != "band"}
        single = load_sim_config(tiny("none", instrument=inst, lens_light=True, noise=False))
        fixed = {k: values[k] for k in single.sampled_names()}
        alone, _ = render_image(single, dict(fixed, **colours), index=3)
        np.testing.assert_allclose(image[band], alone, rtol=1e-6, atol=1e-9)


def test_band_exposure_and_psf_width_scale_with_the_reference_band():
    cfg = load_sim_config(_multi(params={"psf_fwhm": {"uniform": [0.1, 0.2]},
                                         "exposure_time": {"uniform": [1000.0, 2000.0]}}))
    from darklens.simulate.scene import build_scene, sample_values, streams

    rng_params, rng_sub, _ = streams(cfg.seed, 0)
    values = sample_values(cfg, rng_params)
    scene = build_scene(cfg, values, rng_sub)
    ref, blue = scene.bands
    assert ref.psf_fwhm == values["psf_fwhm"]
    assert blue.psf_fwhm == pytest.approx(values["psf_fwhm"] * 0.12 / cfg.inst.psf_fwhm)
    assert blue.exposure_time / ref.exposure_time == pytest.approx(2700.0 / cfg.inst.exposure_time)


def test_a_drawn_psf_width_renders_as_that_fixed_width():
    drawn = load_sim_config(tiny("none", noise=False, params={"psf_fwhm": {"uniform": [0.1, 0.3]}}))
    image, values = render_image(drawn, index=1)
    fixed = load_sim_config(tiny("none", noise=False, instrument=dict(
        RED, psf_fwhm=values["psf_fwhm"])))
    again, _ = render_image(fixed, {k: values[k] for k in fixed.sampled_names()}, index=1)
    np.testing.assert_allclose(image, again, rtol=1e-6, atol=1e-9)


def test_multiband_dataset_stores_bands_and_trains(tmp_path):
    from darklens.artifact import read_meta
    from darklens.train import loop
    from darklens.train.config import load_train_config

    third = {"base": "hst-wfc3-f160w", "band": "uv", "magnitude_zero_point": 24.5}
    cfg = _multi(n=48, params={"log10_halo_mass": {"uniform": [10.8, 11.6]}})
    cfg["bands"] = [RED, BLUE, third]
    path = run(cfg, out=tmp_path / "three.h5", progress=False)
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        assert ds["image"].dims == ("sample", "band", "y", "x")
        assert list(ds["band"].values) == ["hst_wfc3_f160w", "blue", "uv"]
        assert "source_color_uv" in ds and "lens_light_color_blue" in ds
        first, _ = render_image(load_sim_config(cfg), index=5)
        np.testing.assert_array_equal(ds["image"][5].values, first)
    train = load_train_config({
        "data": {"files": [str(path)], "targets": ["log10_halo_mass"], "num_workers": 0,
                 "augment": False, "split": [0.75, 0.25, 0.0]},
        "model": {"backbone": "resnet10t", "head": {"kind": "gaussian"}},
        "train": {"epochs": 1, "batch_size": 12, "out": str(tmp_path / "run"),
                  "progress": False, "channels_last": False},
    })
    loop.train(train)
    meta = read_meta(tmp_path / "run")
    assert meta.image_shape == [3, 32, 32]
    assert meta.band_names == ["hst_wfc3_f160w", "blue", "uv"]


@pytest.mark.parametrize("change, message", [
    ({"bands": []}, "bands: expected a non-empty list"),
    ({"bands": [RED, RED]}, "repeat; give each a `band`"),
    ({"bands": [RED, {"base": "deeplense-model1", "band": "dl"}]},
     "exposure_time must be a number"),
    ({"instrument": "euclid-vis"}, "give either instrument or bands"),
])
def test_bad_band_configs_give_one_line(change, message):
    with pytest.raises(DarklensError, match=message):
        load_sim_config({**_multi(), **change})


def test_multiband_shards_merge_into_the_unsharded_dataset(tmp_path):
    from darklens.data.info import open_dataset
    from darklens.data.merge import merge

    cfg = _multi(n=20)
    whole = run(cfg, out=tmp_path / "whole.h5", progress=False)
    shards = [run(cfg, out=tmp_path / f"s{k}.h5", shard=(k, 2), progress=False) for k in (0, 1)]
    merge(tmp_path / "merged.h5", shards)
    with open_dataset(whole) as a, open_dataset(tmp_path / "merged.h5") as b:
        assert b["image"].dims == ("sample", "band", "y", "x")
        np.testing.assert_array_equal(a["image"].values, b["image"].values)
        assert list(b["band"].values) == list(a["band"].values)
