"""Line-segment (axion string) and point-mass deflections against lenstronomy and analytics."""

import numpy as np
import pytest
from lenstronomy.LensModel.Profiles.point_mass import PointMass

from darklens.simulate.profiles._chunking import as_components, summed_over_components
from darklens.simulate.profiles.line_segment import (
    LineSegment,
    _potential_kernel,
    chain_deflection,
    chain_points,
    segment_deflection,
    segment_hessian,
    segment_potential,
)
from darklens.simulate.profiles.point_mass import point_mass_deflection

SEG = {"x0": 0.2, "y0": -0.1, "half_length": 0.8, "angle": 0.7, "lambda_k": 0.01}


def _args(seg):
    return seg["x0"], seg["y0"], seg["half_length"], seg["angle"], seg["lambda_k"]


def _lenstronomy_chain(x, y, n_points, seg=SEG):
    """Deflection of the segment as a dense chain of lenstronomy POINT_MASS profiles."""
    xc, yc, m = chain_points(*_args(seg), n_points)
    pm = PointMass()
    ax, ay = np.zeros_like(x), np.zeros_like(y)
    for xi, yi, mi in zip(xc, yc, m, strict=True):
        dx, dy = pm.derivatives(x, y, theta_E=np.sqrt(mi / np.pi), center_x=xi, center_y=yi)
        ax += dx
        ay += dy
    return ax, ay


def _distance_to_segment(x, y, seg=SEG):
    t = np.array([np.cos(seg["angle"]), np.sin(seg["angle"])])
    u = (x - seg["x0"]) * t[0] + (y - seg["y0"]) * t[1]
    v = -(x - seg["x0"]) * t[1] + (y - seg["y0"]) * t[0]
    uc = np.clip(u, -seg["half_length"], seg["half_length"])
    return np.hypot(u - uc, v)


def test_segment_matches_dense_lenstronomy_point_mass_chain():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-2, 2, (2, 400))
    n_points = 800
    spacing = 2 * SEG["half_length"] / n_points
    far = _distance_to_segment(x, y) > 2 * spacing
    ax, ay = segment_deflection(x, y, *_args(SEG))
    cx, cy = _lenstronomy_chain(x, y, n_points)
    err = np.hypot(ax - cx, ay - cy)[far] / np.hypot(cx, cy)[far]
    assert far.sum() > 350
    assert err.max() < 0.01
    # Also the vectorised chain helper agrees with lenstronomy's point masses.
    vx, vy = chain_deflection(x, y, *_args(SEG), n_points)
    np.testing.assert_allclose(vx, cx, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(vy, cy, rtol=1e-9, atol=1e-14)


def test_coarse_chain_converges_to_segment_away_from_line():
    x, y = np.array([0.9, -0.5]), np.array([0.6, 0.7])
    exact = np.array(segment_deflection(x, y, *_args(SEG)))
    errs = [
        np.abs(np.array(chain_deflection(x, y, *_args(SEG), n)) - exact).max() for n in (4, 16, 64)
    ]
    assert errs[0] > errs[1] > errs[2]


def test_long_segment_approaches_infinite_line():
    lam = 0.02
    for v in (0.01, 0.3, -1.0):
        ax, ay = segment_deflection(0.0, v, 0.0, 0.0, 1e4, 0.0, lam)
        assert abs(ax) < 1e-9
        assert ay == pytest.approx(np.sign(v) * lam, rel=1e-3)


def test_far_field_is_point_mass_of_total_mass():
    r = 500.0
    ax, ay = segment_deflection(r, 0.3 * r, *_args(SEG))
    m_tot = 2 * SEG["half_length"] * SEG["lambda_k"]
    px, py = point_mass_deflection(r, 0.3 * r, SEG["x0"], SEG["y0"], m_tot)
    assert ax == pytest.approx(px, rel=1e-5)
    assert ay == pytest.approx(py, rel=1e-5)


def test_hessian_matches_finite_difference_of_deflection():
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-2, 2, (2, 50))
    x, y = x[_distance_to_segment(x, y) > 0.05], y[_distance_to_segment(x, y) > 0.05]
    h = 1e-6
    fxx, fxy, fyx, fyy = segment_hessian(x, y, *_args(SEG))
    axp, ayp = segment_deflection(x + h, y, *_args(SEG))
    axm, aym = segment_deflection(x - h, y, *_args(SEG))
    bxp, byp = segment_deflection(x, y + h, *_args(SEG))
    bxm, bym = segment_deflection(x, y - h, *_args(SEG))
    np.testing.assert_allclose(fxx, (axp - axm) / (2 * h), atol=1e-7)
    np.testing.assert_allclose(fxy, (ayp - aym) / (2 * h), atol=1e-7)
    np.testing.assert_allclose(fyx, (bxp - bxm) / (2 * h), atol=1e-7)
    np.testing.assert_allclose(fyy, (byp - bym) / (2 * h), atol=1e-7)
    np.testing.assert_allclose(fxx + fyy, 0.0, atol=1e-15)


def test_deflection_matches_finite_difference_of_potential():
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-2, 2, (2, 50))
    h = 1e-6
    ax, ay = segment_deflection(x, y, *_args(SEG))
    fx = segment_potential(x + h, y, *_args(SEG)) - segment_potential(x - h, y, *_args(SEG))
    fy = segment_potential(x, y + h, *_args(SEG)) - segment_potential(x, y - h, *_args(SEG))
    np.testing.assert_allclose(ax, fx / (2 * h), atol=1e-8)
    np.testing.assert_allclose(ay, fy / (2 * h), atol=1e-8)


def test_potential_far_field_is_point_mass_potential():
    r = 1e4
    psi = segment_potential(r, 0.0, 0.0, 0.0, 1.0, 0.3, 0.01)
    pm = PointMass().function(r, 0.0, theta_E=np.sqrt(0.02 / np.pi))
    assert psi == pytest.approx(pm, rel=1e-8)


def test_rays_on_the_line_and_ends_are_finite():
    hl, ang = SEG["half_length"], SEG["angle"]
    s = np.array([-1.0, -0.5, 0.0, 0.3, 1.0, 1.5])
    x = SEG["x0"] + s * hl * np.cos(ang)
    y = SEG["y0"] + s * hl * np.sin(ang)
    for out in (
        segment_deflection(x, y, *_args(SEG)),
        (segment_potential(x, y, *_args(SEG)),),
        segment_hessian(x, y, *_args(SEG)),
    ):
        for arr in out:
            assert np.all(np.isfinite(arr))
    # On the interior the perpendicular part is the mean of both sides, i.e. zero.
    ax, ay = segment_deflection(x[2], y[2], *_args(SEG))
    assert np.hypot(ax, ay) < 1e-12


def test_many_segments_sum_equals_single_calls_and_keep_ray_shape():
    rng = np.random.default_rng(3)
    n = 7
    segs = dict(
        x0=rng.uniform(-1, 1, n),
        y0=rng.uniform(-1, 1, n),
        half_length=rng.uniform(0.1, 1, n),
        angle=rng.uniform(0, np.pi, n),
        lambda_k=rng.uniform(0.001, 0.01, n),
    )
    x, y = np.meshgrid(np.linspace(-2, 2, 9), np.linspace(-2, 2, 11))
    ax, ay = segment_deflection(x, y, *_args(segs))
    assert ax.shape == x.shape
    sx = sum(segment_deflection(x, y, *[a[i] for a in _args(segs)])[0] for i in range(n))
    sy = sum(segment_deflection(x, y, *[a[i] for a in _args(segs)])[1] for i in range(n))
    np.testing.assert_allclose(ax, sx, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ay, sy, rtol=1e-12, atol=1e-15)
    # Chunking (tiny chunks over rays and segments) does not change the potential.
    (chunked,) = summed_over_components(
        _potential_kernel, x, y, as_components(*_args(segs)), 1, max_pairs=5
    )
    np.testing.assert_allclose(chunked, segment_potential(x, y, *_args(segs)), rtol=1e-12)


def test_lenstronomy_style_class_wraps_pure_functions():
    prof = LineSegment()
    kw = dict(lambda_k=0.01, half_length=0.5, angle=0.2, center_x=0.1, center_y=0.0)
    x, y = np.array([0.3, -1.0]), np.array([0.5, 0.2])
    assert set(prof.param_names) == set(kw)
    assert set(prof.lower_limit_default) == set(kw) == set(prof.upper_limit_default)
    np.testing.assert_allclose(
        prof.derivatives(x, y, **kw), segment_deflection(x, y, 0.1, 0.0, 0.5, 0.2, 0.01)
    )
    np.testing.assert_allclose(
        prof.function(x, y, **kw), segment_potential(x, y, 0.1, 0.0, 0.5, 0.2, 0.01)
    )
    assert len(prof.hessian(x, y, **kw)) == 4


def test_point_masses_match_lenstronomy_and_stay_finite_at_centres():
    rng = np.random.default_rng(4)
    xc, yc = rng.uniform(-1, 1, (2, 30))
    m = rng.uniform(1e-4, 1e-2, 30)
    x, y = rng.uniform(-1.5, 1.5, (2, 200))
    ax, ay = point_mass_deflection(x, y, xc, yc, m)
    pm = PointMass()
    ex = np.zeros_like(x)
    ey = np.zeros_like(y)
    for xi, yi, mi in zip(xc, yc, m, strict=True):
        dx, dy = pm.derivatives(x, y, theta_E=np.sqrt(mi / np.pi), center_x=xi, center_y=yi)
        ex += dx
        ey += dy
    np.testing.assert_allclose(ax, ex, rtol=1e-10)
    np.testing.assert_allclose(ay, ey, rtol=1e-10)
    ox, oy = point_mass_deflection(xc[:3], yc[:3], xc, yc, m)
    assert np.all(np.isfinite(ox)) and np.all(np.isfinite(oy))
