"""Stamp and shapelet sources: unit flux, seeded draws, orientation, and whole renders."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from astropy.io import fits
from lenstronomy.LightModel.light_model import LightModel
from lenstronomy.Util import param_util

from darklens.config import from_dict
from darklens.errors import DarklensError
from darklens.simulate.config import load_sim_config
from darklens.simulate.light import SOURCES
from darklens.simulate.render import Renderer
from darklens.simulate.samples import render_image, render_samples
from darklens.simulate.source_images import load_stamps
from tests.conftest import tiny
from tests.simulate.test_psf import _integrated_gaussian

SCALE = 0.02  # arcsec per stamp pixel
SERSIC = {"R_sersic": 0.25, "n_sersic": 1.5, "e1": 0.2, "e2": 0.0}  # major axis along x
VALUES = {"source_angle": 0.0, "source_x": 0.0, "source_y": 0.0}
FIXED = {"flip": False, "half_turn": False, "size_factor": [1, 1]}
GRID = np.meshgrid(*[np.linspace(-1.5, 1.5, 301)] * 2)  # x, y in arcsec; 0.01" cells


def _sersic(x, y, **kw):
    kw = {"amp": 1.0, **SERSIC, "center_x": 0.0, "center_y": 0.0, **kw}
    return LightModel(["SERSIC_ELLIPSE"]).surface_brightness(x, y, [kw])


def _stamp(n=201):
    y, x = (np.indices((n, n)) - (n - 1) / 2) * SCALE  # row: +y, column: +x
    return _sersic(x.ravel(), y.ravel()).reshape(n, n)


def _lopsided(n=41):
    """A stamp without mirror or point symmetry: two blobs of different brightness."""
    y, x = np.indices((n, n)) - (n - 1) / 2
    return np.exp(-((x - 6) ** 2 + (y - 3) ** 2) / 8) + 0.4 * np.exp(-(x**2 + y**2) / 30)


def _folder(tmp_path, stamps, header=True):
    tmp_path.mkdir(exist_ok=True)
    for k, image in enumerate(stamps):
        hdu = fits.PrimaryHDU(image)
        if header:
            hdu.header["PIXSCALE"] = SCALE
        hdu.writeto(tmp_path / f"g{k}.fits")
    return str(tmp_path)


def _unit(kind, options, values=VALUES, seed=0):
    cls = SOURCES.get(kind)
    opts = from_dict(cls.Options, options, "source")
    return cls.unit_kwargs(np.random.default_rng(seed), values, None, opts)


def _brightness(kw, profile="INTERPOL"):
    x, y = GRID
    return LightModel([profile]).surface_brightness(x.ravel(), y.ravel(), [kw]).reshape(x.shape)


@pytest.mark.parametrize("options", [FIXED, {"size_factor": [0.7, 1.4]}])
def test_a_stamp_source_has_unit_total_flux(tmp_path, options):
    path = _folder(tmp_path, [_stamp(), 3 * _lopsided()])
    for seed in range(4):
        (kw,), _ = _unit("images", {"path": path, **options}, dict(VALUES, source_angle=0.7),
                         seed)
        assert _brightness(kw).sum() * 0.01**2 == pytest.approx(1.0, rel=0.01)


def test_seeded_draws_are_reproducible_and_reach_every_stamp(tmp_path):
    path = _folder(tmp_path, [_stamp(), _lopsided(), _lopsided().T])
    (a,), da = _unit("images", {"path": path}, seed=5)
    (b,), db = _unit("images", {"path": path}, seed=5)
    assert da == db and a.keys() == b.keys()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    draws = [_unit("images", {"path": path}, seed=s) for s in range(30)]
    assert {d["source_stamp_index"] for _, d in draws} == {0, 1, 2}
    assert len({d["source_size_factor"] for _, d in draws}) == 30
    assert all(0.8 <= d["source_size_factor"] <= 1.25 for _, d in draws)


def test_a_flipped_stamp_is_the_mirror_image_and_a_turned_one_the_half_turn(tmp_path):
    path = _folder(tmp_path, [_lopsided()])
    plain = _brightness(_unit("images", {"path": path, **FIXED})[0][0])
    flips, turns = set(), set()
    for seed in range(12):
        for option, seen, expected in (("flip", flips, plain[:, ::-1]),
                                       ("half_turn", turns, plain[::-1, ::-1])):
            (kw,), _ = _unit("images", {"path": path, **FIXED, option: True}, seed=seed)
            image = _brightness(kw)
            same, changed = np.allclose(image, plain), np.allclose(image, expected, atol=1e-9)
            assert same or changed
            seen.add(changed)
    assert flips == {True, False} and turns == {True, False}


def test_source_angle_turns_a_stamp_like_a_sersic_of_that_position_angle(tmp_path):
    path = _folder(tmp_path, [_stamp()])
    (kw,), _ = _unit("images", {"path": path, **FIXED}, dict(VALUES, source_angle=0.6))
    _, q = param_util.ellipticity2phi_q(SERSIC["e1"], SERSIC["e2"])
    e1, e2 = param_util.phi_q2_ellipticity(0.6, q)
    x, y = GRID
    ref = _sersic(x.ravel(), y.ravel(), e1=e1, e2=e2).reshape(x.shape)
    image = _brightness(kw)
    image, ref = image / image.sum(), ref / ref.sum()
    # the stamp samples the profile every 0.02": its bilinear peak is lower than the Sersic's
    outside = np.hypot(x, y) > 0.06
    assert np.abs(image - ref)[outside].max() < 0.01 * ref.max()


def _compare_configs(source, params, **extra):
    base = {"noise": False, "params": {"log10_halo_mass": 4.0}, **extra}  # ~unlensed
    cfg = load_sim_config(tiny("none", source=source, **base))
    return render_image(cfg, params, index=3)


def test_an_unlensed_stamp_of_a_sersic_renders_like_the_sersic_source(tmp_path):
    path = tmp_path / "stamps.h5"
    with h5py.File(path, "w") as h:
        h.create_dataset("galaxies", data=_stamp()[None])
        h["galaxies"].attrs["pixel_scale"] = SCALE
    _, q = param_util.ellipticity2phi_q(SERSIC["e1"], SERSIC["e2"])
    where = {"source_x": 0.05, "source_y": -0.03, "source_angle": 0.4, "source_mag": 21.5}
    stamp, values = _compare_configs(
        {"kind": "images", "path": str(path), "dataset": "galaxies", **FIXED}, where)
    sersic, _ = _compare_configs({"kind": "sersic"}, dict(
        where, source_r_eff=SERSIC["R_sersic"], source_n=SERSIC["n_sersic"], source_q=q))
    assert values["source_stamp_index"] == 0 and values["source_size_factor"] == 1.0
    assert np.abs(stamp - sersic).max() < 0.03 * sersic.max()
    assert stamp.sum() == pytest.approx(sersic.sum(), rel=0.01)


def test_a_config_with_stamps_and_a_pixel_psf_renders_its_magnitude(tmp_path):
    stamps = _folder(tmp_path / "stamps", [_stamp(), _lopsided()])
    psf = tmp_path / "psf.fits"
    hdu = fits.PrimaryHDU(_integrated_gaussian(0.01, 61))
    hdu.header["CDELT1"] = 0.01 / 3600
    hdu.writeto(psf)
    instrument = {"base": "hst-wfc3-f160w", "num_pix": 32,
                  "psf": {"kind": "pixel", "file": str(psf)}}
    cfg = load_sim_config(tiny("none", noise=False, instrument=instrument,
                               source={"kind": "images", "path": stamps},
                               params={"log10_halo_mass": 4.0}))
    image, values = render_image(cfg, {"source_mag": 22.0}, index=1)
    assert image.sum() == pytest.approx(10 ** (-0.4 * (22.0 - cfg.inst.magnitude_zero_point)),
                                        rel=0.03)
    assert {"source_stamp_index", "source_size_factor"} <= set(cfg.stored_names())
    assert values["source_stamp_index"] in (0, 1)


def test_a_reused_renderer_draws_each_image_with_its_own_stamp(tmp_path):
    y, x = np.indices((41, 41)) - 20.0
    blobs = [np.exp(-x**2 / (2 * a**2) - y**2 / (2 * b**2)) for a, b in [(3, 8), (8, 3), (2, 2)]]
    cfg = load_sim_config(tiny("none", noise=False, params={"log10_halo_mass": 4.0},
                               source={"kind": "images", "path": _folder(tmp_path, blobs)}))
    images, params = render_samples(cfg, Renderer(cfg), range(6))
    assert len(set(params["source_stamp_index"])) > 1
    for i in range(6):
        np.testing.assert_allclose(images[i], render_image(cfg, index=i)[0], atol=1e-6)


def test_a_stamp_folder_is_read_once_and_again_when_it_changes(tmp_path):
    path = _folder(tmp_path, [_stamp(51), _lopsided()])
    first = load_stamps(path)
    assert load_stamps(path) is first and len(first) == 2
    hdu = fits.PrimaryHDU(_lopsided().T)
    hdu.header["PIXSCALE"] = SCALE
    hdu.writeto(tmp_path / "g9.fits")
    assert len(load_stamps(path)) == 3


def test_masked_and_negative_stamp_pixels_become_zero(tmp_path):
    image = _lopsided()
    image[0, :5] = np.nan
    image[1, :5] = -1.0
    (stamp, scale), = load_stamps(_folder(tmp_path, [image]))
    assert scale == SCALE and np.isfinite(stamp).all() and stamp.min() == 0.0


def _h5(tmp_path, data, scale=SCALE, name="images"):
    path = tmp_path / "s.h5"
    with h5py.File(path, "w") as h:
        h.create_dataset(name, data=data)
        if scale:
            h.attrs["pixel_scale"] = scale
    return str(path)


@pytest.mark.parametrize("make, options, message", [
    (lambda p: str(p / "nowhere"), {}, r"no such file or folder \(source\.path\)"),
    (lambda p: _folder(p, []), {}, r"no \.fits stamps in this folder \(source\.path\)"),
    (lambda p: _folder(p, [_lopsided()], header=False), {}, r"give source\.pixel_scale"),
    (lambda p: _h5(p, _lopsided()[None], scale=None), {}, r"give source\.pixel_scale"),
    (lambda p: _h5(p, _lopsided()), {}, r"3-D dataset 'images' .*\(source\.dataset\)"),
    (lambda p: _h5(p, _lopsided()[None], name="x"), {}, r"\(source\.dataset\)"),
    (lambda p: _h5(p, np.zeros((1, 9, 9))), {}, r"no positive flux \(source\.path\)"),
    (lambda p: _folder(p, [_lopsided()]), {"size_factor": [2, 1]}, r"source\.size_factor"),
    (lambda p: _folder(p, [_lopsided()]), {"pixel_scale": 0}, r"source\.pixel_scale"),
    (lambda p: "", {}, r"source\.path: give a folder of FITS stamps"),
])
def test_bad_stamp_sources_give_one_line_naming_the_field(tmp_path, make, options, message):
    source = {"kind": "images", "path": make(tmp_path), **options}
    with pytest.raises(DarklensError, match=message) as err:
        render_image(tiny("none", noise=False, source=source))
    assert "\n" not in str(err.value)


def test_a_text_file_is_not_an_hdf5_stamp_file(tmp_path):
    (tmp_path / "s.h5").write_text("nope")
    with pytest.raises(DarklensError, match=r"not a readable HDF5 file \(source\.path\)"):
        load_stamps(str(tmp_path / "s.h5"))


# --- shapelets ------------------------------------------------------------------------------
def _shapelet_image(options, seed=0):
    (kw,), derived = _unit("shapelets", options, dict(VALUES, source_x=0.03), seed)
    return _brightness(kw, "SHAPELETS"), kw, derived


def _negative_fraction(image):
    return -image[image < 0].sum() / image.sum()


@pytest.mark.parametrize("n_max", [0, 4, 8])
def test_shapelet_sources_have_unit_flux_and_are_seeded(n_max):
    image, kw, derived = _shapelet_image({"n_max": n_max}, seed=3)
    assert image.sum() * 0.01**2 == pytest.approx(1.0, rel=1e-3)
    assert 0.05 <= derived["source_shapelet_beta"] <= 0.15
    _, again, derived_again = _shapelet_image({"n_max": n_max}, seed=3)
    assert derived == derived_again and np.array_equal(again["amp"], kw["amp"])
    _, other, _ = _shapelet_image({"n_max": n_max}, seed=4)
    assert not np.array_equal(other["amp"], kw["amp"]) or n_max == 0


def test_shapelet_clumps_are_shrunk_until_little_flux_is_negative():
    unbounded = [_negative_fraction(_shapelet_image({"max_negative": 1.0}, s)[0])
                 for s in range(6)]
    assert max(unbounded) > 0.05  # what the raw draws would give
    for seed in range(6):
        image, kw, _ = _shapelet_image({"max_negative": 0.01}, seed)
        assert _negative_fraction(image) <= 0.0105  # measured on lenstronomy's own profile
        assert np.abs(kw["amp"][1:]).max() > 0.05 * kw["amp"][0]  # still clumpy


def test_beta_sets_the_shapelet_size():
    x, y = GRID
    small, _, _ = _shapelet_image({"beta": [0.08, 0.08]}, seed=2)
    large, _, _ = _shapelet_image({"beta": [0.16, 0.16]}, seed=2)
    r2 = [(im * ((x - 0.03) ** 2 + y**2)).sum() / im.sum() for im in (small, large)]
    assert r2[1] / r2[0] == pytest.approx(4.0, rel=0.01)


@pytest.mark.parametrize("options, message", [
    ({"beta": [0.2, 0.1]}, r"source\.beta: expected \[low, high\] arcsec"),
    ({"n_max": 21}, r"source\.n_max: expected a value <= 20"),
    ({"max_negative": -0.1}, r"source\.max_negative"),
    ({"decay": 0}, r"source\.decay"),
])
def test_bad_shapelet_options_give_one_line(options, message):
    with pytest.raises(DarklensError, match=message):
        load_sim_config(tiny("none", source={"kind": "shapelets", **options}))


def test_a_shapelet_config_renders_its_magnitude():
    cfg = load_sim_config(tiny("none", noise=False, source={"kind": "shapelets", "n_max": 5},
                               params={"log10_halo_mass": 4.0}))
    image, values = render_image(cfg, {"source_mag": 22.0}, index=4)
    expected = 10 ** (-0.4 * (22.0 - cfg.inst.magnitude_zero_point))
    assert image.sum() == pytest.approx(expected, rel=0.03)
    assert "source_shapelet_beta" in values
