"""substructure.kind pyhalo: pyHalo realisations rendered by darklens kernels and planes.

Small populations (halos above 10^8 M_sun in a 4" cone) keep each draw under a second.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pyHalo.PresetModels.cdm", reason="needs pyHalo 1.4.6 (darklens[pyhalo])")

from astropy.cosmology import FlatLambdaCDM  # noqa: E402
from lenstronomy.LensModel.lens_model import LensModel  # noqa: E402

from darklens.config import from_dict  # noqa: E402
from darklens.errors import DarklensError  # noqa: E402
from darklens.simulate.cosmology import sigma_crit_angle  # noqa: E402
from darklens.simulate.multiplane import ray_shoot  # noqa: E402
from darklens.simulate.profiles.from_kwargs import plane_deflector  # noqa: E402
from darklens.simulate.samples import render_image  # noqa: E402
from darklens.simulate.substructure import SUBSTRUCTURE, Context  # noqa: E402
from darklens.simulate.substructure.pyhalo import (  # noqa: E402
    PyHalo,
    draw,
    lens_groups,
)

Z_L, Z_S, H0, OM0 = 0.5, 1.5, 70.0, 0.3
VALUES = {"sigma_sub": 0.1, "los_normalization": 1.0, "log10_m_hm": 7.5}
SMALL = {"log_mlow": 8.0, "cone_opening_angle_arcsec": 4.0}


def options(**kw):
    spec = {"model": "CDM", "kwargs": dict(SMALL), **kw}
    return from_dict(PyHalo.Options, spec, "substructure")


def context(center=(0.0, 0.0), z_lens=Z_L):
    return Context(z_lens, Z_S, H0, OM0, sigma_crit_angle(z_lens, Z_S, H0, OM0), 2e11, 1.2,
                   center, 5.12)


@pytest.fixture(scope="module")
def drawn():
    """One realisation twice from the same seed: darklens' and pyHalo's own."""
    opts, ctx = options(), context()
    real = PyHalo.realise(np.random.default_rng(7), VALUES, ctx, opts)
    return real, draw(np.random.default_rng(7), VALUES, ctx, opts).lensing


def grid(n=24, half=2.4):
    g = np.linspace(-half, half, n)
    return [a.ravel() for a in np.meshgrid(g, g)]


def test_planes_match_lenstronomy_per_redshift(drawn):
    real, (names, redshifts, kwargs, _) = drawn
    assert real.derived["n_subhalos"] > 5 and real.derived["n_los_halos"] > 5
    redshifts = np.asarray(redshifts)
    planes = {p.z: p.deflector for p in real.planes}
    assert set(planes) | {Z_L} == {float(z) for z in np.unique(redshifts)}
    x, y = grid()
    for z in np.unique(redshifts):
        sel = np.flatnonzero(redshifts == z)
        want = LensModel([names[i] for i in sel]).alpha(x, y, [kwargs[i] for i in sel])
        got = (real.deflector if z == Z_L else planes[float(z)])(x, y)
        scale = np.abs(want).max()
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * scale, err_msg=f"z={z}")


def test_ray_shooting_matches_lenstronomy_multi_plane(drawn):
    real, (names, redshifts, kwargs, _) = drawn
    kw_main = [{"theta_E": 1.2, "e1": 0.1, "e2": -0.05, "center_x": 0.0, "center_y": 0.0},
               {"gamma1": 0.02, "gamma2": 0.01, "ra_0": 0.0, "dec_0": 0.0}]
    main = LensModel(["SIE", "SHEAR"])

    def lens_plane(u, v):
        ax, ay = main.alpha(u, v, kw_main)
        bx, by = real.deflector(u, v)
        return ax + bx, ay + by

    x, y = grid(30)
    bx, by = ray_shoot(x, y, [(Z_L, lens_plane)] + [(p.z, p.deflector) for p in real.planes],
                       Z_S, H0, OM0)
    full = LensModel(["SIE", "SHEAR", *names], z_source=Z_S,
                     lens_redshift_list=[Z_L, Z_L, *redshifts], multi_plane=True,
                     z_source_convention=Z_S, cosmo=FlatLambdaCDM(H0=H0, Om0=OM0))
    wx, wy = full.ray_shooting(x, y, kw_main + list(kwargs))
    assert np.hypot(bx - wx, by - wy).max() < 1e-4


def test_same_seed_same_realisation_other_seed_another():
    opts, ctx = options(), context()
    state = np.random.get_state()  # noqa: NPY002 - pyHalo's global state is restored
    a = PyHalo.realise(np.random.default_rng(3), VALUES, ctx, opts)
    b = PyHalo.realise(np.random.default_rng(3), VALUES, ctx, opts)
    c = PyHalo.realise(np.random.default_rng(4), VALUES, ctx, opts)
    after = np.random.get_state()  # noqa: NPY002
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2] == after[2]
    x, y = grid(8)
    assert a.derived == b.derived
    np.testing.assert_array_equal(a.deflector(x, y), b.deflector(x, y))
    assert [p.z for p in a.planes] == [p.z for p in b.planes]
    assert a.derived != c.derived
    assert not np.allclose(a.deflector(x, y), c.deflector(x, y))


def test_subhalos_follow_the_halo_centre():
    opts = options(los=False)
    drawn = draw(np.random.default_rng(5), VALUES, context(), opts)
    at_0 = lens_groups(drawn, context(), opts)[Z_L]
    moved = lens_groups(drawn, context(center=(0.3, -0.2)), opts)[Z_L]
    assert moved[0] == at_0[0]
    subs = [k for k, h in enumerate(drawn.realization.halos) if h.is_subhalo]
    assert subs == list(range(len(subs))) and subs  # one TNFW each, listed first
    for k in subs:
        assert moved[1][k]["center_x"] == pytest.approx(at_0[1][k]["center_x"] + 0.3)
        assert moved[1][k]["center_y"] == pytest.approx(at_0[1][k]["center_y"] - 0.2)
    for k in range(len(subs), len(at_0[1])):  # field halos and sheets stay
        assert moved[1][k] == at_0[1][k]


def test_los_off_keeps_the_lens_plane_only():
    opts = options(los=False)
    assert "los_normalization" not in PyHalo.sampled(opts)
    real = PyHalo.realise(np.random.default_rng(2), VALUES, context(), opts)
    assert real.planes == [] and real.derived["n_los_halos"] == 0
    assert real.derived["n_subhalos"] > 0 and real.mass == 0.0


def test_models_sample_only_their_parameters():
    assert PyHalo.sampled(options()) == ("sigma_sub", "los_normalization")
    assert PyHalo.sampled(options(model="WDM")) == ("sigma_sub", "log10_m_hm",
                                                     "los_normalization")
    assert PyHalo.sampled(options(model="ULDM", los=False)) == ("sigma_sub", "log10_m_uldm")
    assert SUBSTRUCTURE["pyhalo"] is PyHalo


@pytest.mark.parametrize("kwargs, match", [
    ({"sigma_sub": 0.1}, "sampled parameter 'sigma_sub'"),
    ({"LOS_normalization": 2.0}, "sampled parameter 'los_normalization'"),
    ({"log10_sigma_sub": -1.0}, "set by darklens"),
    ({"not_a_keyword": 1}, "not a keyword"),
])
def test_bad_kwargs_are_one_line_errors(kwargs, match):
    with pytest.raises(DarklensError, match=match):
        options(kwargs=kwargs)


def test_z_lens_needs_two_decimals():
    with pytest.raises(DarklensError, match="two decimals"):
        PyHalo.realise(np.random.default_rng(0), VALUES, context(z_lens=0.537), options())


def test_fast_profiles_match_lenstronomy_near_their_centres():
    names = ["TNFW", "TNFW", "POINT_MASS", "CONVERGENCE", "GAUSSIAN", "GAUSSIAN", "NFW"]
    kwargs = [
        {"Rs": 0.05, "alpha_Rs": 1e-3, "r_trunc": 0.02, "center_x": 0.1, "center_y": 0.0},
        {"Rs": 0.3, "alpha_Rs": 5e-3, "r_trunc": 3.0, "center_x": -0.4, "center_y": 0.2},
        {"theta_E": 0.01, "center_x": 0.5, "center_y": 0.5},
        {"kappa": -0.01, "ra_0": 0.1, "dec_0": -0.1},
        {"amp": 1e-4, "sigma": 0.01, "center_x": 0.0, "center_y": 0.3},
        {"amp": 2e-5, "sigma": 0.002, "center_x": 0.3, "center_y": -0.3},
        {"Rs": 0.2, "alpha_Rs": 2e-3, "center_x": -0.2, "center_y": -0.5},
    ]
    x, y = grid(41, 1.0)  # hits the centres of several profiles exactly
    x = np.concatenate([x, [0.0, 0.3 + 1e-3, 0.3 + 1e-6, 0.005]])
    y = np.concatenate([y, [0.3, -0.3, -0.3, 0.3]])
    got = plane_deflector(names, kwargs)(x, y)
    want = LensModel(names).alpha(x, y, kwargs)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)


def test_render_image_end_to_end():
    cfg = {
        "seed": 5, "instrument": "hst-wfc3-f160w", "num_pix": 32, "supersampling": 2,
        "substructure": {"kind": "pyhalo", "compensate": "none", "model": "WDM",
                         "kwargs": SMALL},
        "params": {"z_lens": 0.5, "z_source": 1.0, "log10_halo_mass": 11.3,
                   "log10_m_hm": 7.0, "sigma_sub": 0.1},
    }
    image, values = render_image(cfg, index=1)
    again, _ = render_image(cfg, index=1)
    assert image.shape == (32, 32) and np.isfinite(image).all()
    np.testing.assert_array_equal(image, again)
    for name in PyHalo.derived:
        assert name in values
    assert values["n_subhalos"] + values["n_los_halos"] > 0
