"""Substructure kinds: exact mass budgets, the mass function, positions, vortex geometry."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from darklens.simulate.config import load_sim_config
from darklens.simulate.profiles.tnfw import tnfw_total_mass
from darklens.simulate.scene import build_scene, sample_values, streams
from darklens.simulate.substructure import power_law_masses, uniform_annulus
from tests.conftest import tiny


def _scene(cfg, index):
    rng_params, rng_sub, _ = streams(cfg.seed, index)
    return build_scene(cfg, sample_values(cfg, rng_params), rng_sub)


def _sigma_crit(scene):
    from darklens.simulate.cosmology import sigma_crit_angle

    return sigma_crit_angle(scene.values["z_lens"], scene.values["z_source"])


@pytest.mark.parametrize("profile", ["point_mass", "tnfw"])
def test_total_subhalo_mass_is_f_sub_times_halo_mass(profile):
    cfg = load_sim_config(tiny("cdm", substructure={"profile": profile, "mass": "exact"},
                               params={"f_sub": {"uniform": [0.01, 0.1]}}))
    for index in range(5):
        scene = _scene(cfg, index)
        kw = scene.deflector.keywords if profile == "point_mass" else vars(scene.deflector)
        if profile == "point_mass":
            m_k = kw["m_k"]
        else:
            m_k = tnfw_total_mass(kw["rs"], kw["alpha_rs"], kw["r_trunc"])
        total = m_k.sum() * _sigma_crit(scene)
        halo = 10 ** scene.values["log10_halo_mass"]
        assert total == pytest.approx(scene.values["f_sub"] * halo, rel=1e-9)
        assert len(m_k) == scene.values["n_subhalos"] >= 1


def test_subhalo_count_is_poisson_with_the_configured_mean():
    cfg = load_sim_config(tiny("cdm", substructure={"mass": "exact"},
                               params={"n_subhalos_mean": 12.0, "f_sub": 0.05}))
    counts = np.array([_scene(cfg, i).values["n_subhalos"] for i in range(400)])
    assert counts.mean() == pytest.approx(12.0, abs=0.6)
    assert counts.var() == pytest.approx(12.0, rel=0.25)


def test_mass_function_follows_the_power_law():
    rng = np.random.default_rng(0)
    beta, lo, hi = -0.9, 1e6, 1e10
    m = power_law_masses(rng, 5000, beta, lo, hi)
    a = beta + 1

    def cdf(x):
        return (x**a - lo**a) / (hi**a - lo**a)

    assert lo <= m.min() and m.max() <= hi
    assert stats.kstest(m, cdf).pvalue > 1e-3
    # dN/dm ∝ m^-1 is the log-uniform limit
    m1 = power_law_masses(rng, 5000, -1.0, lo, hi)
    assert stats.kstest(np.log(m1), stats.uniform(np.log(lo), np.log(hi / lo)).cdf).pvalue > 1e-3


def test_positions_uniform_in_the_annulus():
    x, y = uniform_annulus(np.random.default_rng(1), 5000, 0.5, 2.0)
    r2 = x**2 + y**2
    assert r2.min() >= 0.25 and r2.max() <= 4.0
    assert stats.kstest(r2, stats.uniform(0.25, 3.75).cdf).pvalue > 1e-3


@pytest.mark.parametrize("implementation", ["segment", "chain"])
def test_vortex_length_and_mass(implementation):
    cfg = load_sim_config(tiny("vortex", substructure={"implementation": implementation},
                               params={"log10_m_axion": -23.0, "vortex_mass_fraction": 0.02}))
    scene = _scene(cfg, 0)
    # half-length 0.03" x (1e-22 eV / m_a) = 0.3"
    assert scene.values["vortex_length"] == pytest.approx(0.6)
    kw = scene.deflector.keywords
    mass = kw["lambda_k"] * 2 * kw["half_length"] * _sigma_crit(scene)
    assert mass == pytest.approx(0.02 * 10 ** scene.values["log10_halo_mass"], rel=1e-12)
    assert kw["x0"] == scene.values["vortex_x"] and kw["angle"] == scene.values["vortex_angle"]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_vortex_chain_image_converges_to_the_segment_image(index):
    from darklens.simulate.render import Renderer

    base = tiny("vortex", params={"log10_m_axion": -23.0, "vortex_mass_fraction": 0.03})
    images = {}
    for impl, n_chain in (("segment", 2), ("chain", 30), ("chain", 300)):
        cfg = load_sim_config({**base, "substructure": {
            "kind": "vortex", "implementation": impl, "n_chain": n_chain, "compensate": "none"}})
        scene = _scene(cfg, index)
        images[impl, n_chain] = Renderer(cfg).model_image(scene)
    smooth = Renderer(cfg).model_image(dataclasses.replace(scene, deflector=None))
    segment = images["segment", 2]
    effect = np.abs(segment - smooth).max()
    coarse = np.abs(images["chain", 30] - segment).max()
    fine = np.abs(images["chain", 300] - segment).max()
    assert effect > 0.01 * segment.max()  # the vortex visibly changes the image
    assert fine < 0.5 * coarse and fine < 0.03 * effect


def test_string_count_follows_density_times_area():
    cfg = load_sim_config(tiny("strings", params={"string_density": 0.5}))
    area = cfg.inst.field_of_view**2
    counts = np.array([_scene(cfg, i).values["n_strings"] for i in range(200)])
    assert counts.mean() == pytest.approx(0.5 * area, rel=0.1)


def test_expected_budget_keeps_the_mass_function_and_f_sub_on_average():
    from darklens.simulate.substructure.cdm import power_law_mean

    cfg = load_sim_config(tiny("cdm", params={"f_sub": 0.05}))  # mass: expected (default)
    assert cfg.sampled_names()[-1] == "f_sub" and "n_subhalos_mean" not in cfg.sampled_names()
    scenes = [_scene(cfg, i) for i in range(300)]
    realised = np.array([s.values["f_sub_realised"] for s in scenes])
    counts = np.array([s.values["n_subhalos"] for s in scenes])
    halo = np.array([10 ** s.values["log10_halo_mass"] for s in scenes])
    mean_n = 0.05 * halo / power_law_mean(-0.9, 1e6, 1e10)
    assert counts.mean() == pytest.approx(mean_n.mean(), rel=0.1)
    # the realised fraction scatters (few massive subhalos) but is f_sub on average
    assert realised.std() > 0.2 * 0.05
    assert realised.mean() == pytest.approx(0.05, rel=3 * realised.std() / 0.05 / np.sqrt(300))
    for s in scenes[:20]:
        if s.deflector is not None:
            m = s.deflector.keywords["m_k"] * _sigma_crit(s)
            assert m.min() >= 1e6 * (1 - 1e-9) and m.max() <= 1e10 * (1 + 1e-9)


def test_deeplense_budget_fixed_count_radius_uniform_no_rescaling():
    cfg = load_sim_config(tiny("cdm", substructure={
        "mass": "unscaled", "count": "fixed", "radial": "radius", "r_min": 0.25, "r_max": 2.0},
        params={"n_subhalos_mean": 25}))
    assert "f_sub" not in cfg.sampled_names()
    radii = []
    for i in range(40):
        scene = _scene(cfg, i)
        kw = scene.deflector.keywords
        assert scene.values["n_subhalos"] == 25 == len(kw["m_k"])
        m = kw["m_k"] * _sigma_crit(scene)
        assert scene.values["f_sub_realised"] == pytest.approx(
            m.sum() / 10 ** scene.values["log10_halo_mass"], rel=1e-12)
        assert m.min() >= 1e6 * (1 - 1e-9) and m.max() <= 1e10 * (1 + 1e-9)
        radii.append(np.hypot(kw["xc"], kw["yc"]))
    assert stats.kstest(np.concatenate(radii), stats.uniform(0.25, 1.75).cdf).pvalue > 1e-3


@pytest.mark.parametrize("kind", ["cdm", "vortex", "strings"])
def test_the_sheet_removes_exactly_the_substructure_mass(kind):
    # Gauss: the mean radial deflection on a circle of radius R is M(<R) / (pi R) (kappa-mass);
    # outside the substructure's region, substructure + sheet enclose no mass
    params = {"cdm": {"f_sub": 0.08}, "vortex": {"log10_m_axion": -22.5},
              "strings": {"string_density": 1.0}}[kind]
    cfg = load_sim_config(tiny(kind, params=params))
    scene = next(s for s in (_scene(cfg, i) for i in range(10)) if s.deflector is not None)
    x0, y0, radius = (scene.compensation.keywords[k] for k in ("xc", "yc", "radius"))
    far = 3.0 * radius + 4.0  # beyond every string, subhalo and the vortex
    phi = np.linspace(0, 2 * np.pi, 20000, endpoint=False)
    x, y = x0 + far * np.cos(phi), y0 + far * np.sin(phi)

    def radial(fn):
        ax, ay = fn(x, y)
        return np.mean(ax * np.cos(phi) + ay * np.sin(phi)) * np.pi * far

    sub, sheet = radial(scene.deflector), radial(scene.compensation)
    assert sub > 0 and sheet == pytest.approx(-sub, rel=2e-3)


def test_vortex_length_in_kpc_at_the_lens_redshift_and_linspace_chain():
    from darklens.simulate.cosmology import kpc_per_arcsec
    from darklens.simulate.profiles.line_segment import chain_points

    cfg = load_sim_config(tiny("vortex", substructure={"half_length": 0.2, "length_unit": "kpc"},
                               params={"log10_m_axion": -23.0}))
    scene = _scene(cfg, 0)
    assert scene.values["vortex_length"] == pytest.approx(2 * 2.0 / kpc_per_arcsec(0.5))
    xc, yc, m_k = chain_points(0.0, 0.0, 1.0, 0.0, 0.5, 100, endpoints=True)
    np.testing.assert_allclose(xc, np.linspace(-1, 1, 100))
    assert m_k.sum() == pytest.approx(1.0)  # 2 L lambda
