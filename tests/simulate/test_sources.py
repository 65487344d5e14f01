"""Source kinds: galaxy stamps through INTERPOL, shapelets, and their seeded draws."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from astropy.io import fits
from lenstronomy.LightModel.light_model import LightModel

from darklens.errors import DarklensError
from darklens.simulate.config import load_sim_config
from darklens.simulate.light import SOURCES
from darklens.simulate.samples import render_image
from tests.conftest import tiny

SCALE = 0.02  # arcsec per stamp pixel


def _sersic_stamp(n=101, r_eff=0.25):
    x, y = (np.mgrid[:n, :n] - (n - 1) / 2) * SCALE
    kw = [{"amp": 1.0, "R_sersic": r_eff, "n_sersic": 1.5, "e1": 0.2, "e2": 0.0,
           "center_x": 0.0, "center_y": 0.0}]
    return LightModel(["SERSIC_ELLIPSE"]).surface_brightness(y.ravel(), x.ravel(), kw).reshape(
        n, n), kw


def _stamp_folder(tmp_path):
    image, _ = _sersic_stamp()
    for k, arr in enumerate((image, image[::-1] * 2, image.T)):
        hdu = fits.PrimaryHDU(arr)
        hdu.header["PIXSCALE"] = SCALE
        hdu.writeto(tmp_path / f"g{k}.fits")
    return tmp_path


def _unit(kind, opts_map, values, seed=0):
    from darklens.config import from_dict

    cls = SOURCES.get(kind)
    opts = from_dict(cls.Options, opts_map, "source")
    return cls.unit_kwargs(np.random.default_rng(seed), values, None, opts)


VALUES = {"source_angle": 0.3, "source_x": 0.05, "source_y": -0.02}


def test_a_stamp_source_has_unit_flux_and_reproducible_draws(tmp_path):
    folder = _stamp_folder(tmp_path)
    opts = {"path": str(folder)}
    (kw,), derived = _unit("images", opts, VALUES)
    x, y = np.meshgrid(*[np.linspace(-2, 2, 801)] * 2)
    flux = LightModel(["INTERPOL"]).surface_brightness(x.ravel(), y.ravel(), [kw]).sum()
    assert flux * (4 / 800) ** 2 == pytest.approx(1.0, rel=0.01)
    again, derived2 = _unit("images", opts, VALUES)
    assert derived == derived2 and np.array_equal(again[0]["image"], kw["image"])
    draws = {_unit("images", opts, VALUES, seed)[1]["source_stamp_index"] for seed in range(20)}
    assert draws == {0, 1, 2}


def test_a_flipped_stamp_is_the_mirror_image(tmp_path):
    folder = _stamp_folder(tmp_path)
    seen = {}
    for seed in range(40):
        (kw,), d = _unit("images", {"path": str(folder), "size_factor": [1, 1]}, VALUES, seed)
        seen.setdefault(d["source_stamp_index"], []).append(kw["image"])
    images = seen[0]
    image, _ = _sersic_stamp()
    assert any(np.array_equal(i, image) for i in images)
    assert any(np.array_equal(i, image[:, ::-1]) for i in images)


def test_an_unlensed_stamp_of_a_sersic_renders_like_the_sersic(tmp_path):
    image, (sersic,) = _sersic_stamp(n=201)
    path = tmp_path / "stamps.h5"
    with h5py.File(path, "w") as h:
        h.create_dataset("images", data=image[None])
        h.attrs["pixel_scale"] = SCALE
    (kw,), _ = _unit("images", {"path": str(path), "flip": False, "size_factor": [1, 1]},
                     {"source_angle": 0.0, "source_x": 0.0, "source_y": 0.0})
    x, y = np.meshgrid(*[np.linspace(-1, 1, 101)] * 2)
    stamp = LightModel(["INTERPOL"]).surface_brightness(x.ravel(), y.ravel(), [kw])
    total = LightModel(["SERSIC_ELLIPSE"]).total_flux([sersic])[0]
    ref = LightModel(["SERSIC_ELLIPSE"]).surface_brightness(x.ravel(), y.ravel(), [sersic]) / total
    assert np.abs(stamp - ref).max() < 0.03 * ref.max()


def test_shapelet_sources_have_unit_flux_and_are_seeded():
    (kw,), derived = _unit("shapelets", {"n_max": 5}, VALUES, seed=3)
    lo = LightModel(["SHAPELETS"])
    x, y = np.meshgrid(*[np.linspace(-3, 3, 601)] * 2)
    flux = lo.surface_brightness(x.ravel(), y.ravel(), [kw]).sum() * (6 / 600) ** 2
    assert flux == pytest.approx(1.0, rel=1e-3)
    (again,), _ = _unit("shapelets", {"n_max": 5}, VALUES, seed=3)
    np.testing.assert_array_equal(again["amp"], kw["amp"])
    (other,), _ = _unit("shapelets", {"n_max": 5}, VALUES, seed=4)
    assert not np.array_equal(other["amp"], kw["amp"])


@pytest.mark.parametrize("kind", ["images", "shapelets"])
def test_configs_with_other_sources_render_with_their_magnitude(tmp_path, kind):
    source = {"kind": kind, **({"path": str(_stamp_folder(tmp_path))} if kind == "images" else {})}
    cfg = load_sim_config(tiny("none", noise=False, source=source,
                               params={"log10_halo_mass": 4.0}))  # ~unlensed
    image, values = render_image(cfg, {"source_mag": 22.0}, index=1)
    expected = 10 ** (-0.4 * (22.0 - cfg.inst.magnitude_zero_point))
    assert image.sum() == pytest.approx(expected, rel=0.03)
    assert ("source_stamp_index" in values) == (kind == "images")


def test_bad_stamp_paths_give_one_line(tmp_path):
    with pytest.raises(DarklensError, match="source.path"):
        render_image(tiny("none", source={"kind": "images", "path": str(tmp_path / "none")}))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DarklensError, match="no .fits stamps"):
        render_image(tiny("none", source={"kind": "images", "path": str(tmp_path / "empty")}))
    with pytest.raises(DarklensError, match="source.kind"):
        load_sim_config(tiny("none", source={"kind": "galsim"}))
