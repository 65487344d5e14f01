"""How well one image can determine the axion mass at all: the Fisher information bound.

    python benchmarks/science/information.py configs/sim/hst_axion.yaml -n 60
    python benchmarks/science/information.py configs/sim/deeplense/model3_axion.yaml -n 40

For each of ``n`` scenes of a vortex preset it renders the noise-free image and its derivatives
(central differences) with respect to log10 m_a and every nuisance parameter: the halo (mass,
axis ratio, angle), the shear, the Sersic source (magnitude, size, index, shape, position) and
the vortex's own mass fraction, centre and orientation. With the preset's per-pixel noise
variance (Poisson + background) the Fisher matrix F = J^T C^-1 J gives the Cramer-Rao bound of
an unbiased estimate from that one image: ``sqrt((F^-1)_aa)`` with every nuisance unknown
(marginal) and ``1 / sqrt(F_aa)`` with every nuisance known (conditional). It prints the bound
per bin of log10 m_a, clipped at the prior's standard deviation (0.577 dex for a 2-dex uniform
prior: an image that carries no information cannot do worse than the prior), and the mean over
the prior. A network's MAE far above the bound means it has not learnt what the data hold; near
it, more training will not help.
"""

from __future__ import annotations

import argparse
import dataclasses
from functools import partial

import numpy as np

from darklens.simulate import load_sim_config
from darklens.simulate.render import Renderer
from darklens.simulate.scene import build_scene, sample_values, streams
from darklens.simulate.substructure.base import COMPENSATIONS, Context, Realisation

#: sampled parameters that move the image (redshifts and exposure are fixed in the presets)
NUISANCE = ("log10_halo_mass", "halo_q", "halo_angle", "shear_gamma", "shear_angle",
            "source_mag", "source_r_eff", "source_n", "source_q", "source_angle", "source_x",
            "source_y", "vortex_mass_fraction")
#: the vortex's own random geometry, drawn by the substructure stream
GEOMETRY = ("vortex_x", "vortex_y", "vortex_angle")
STEPS = {"log10_m_axion": 0.02, "log10_halo_mass": 0.002, "halo_q": 0.005, "halo_angle": 0.01,
         "shear_gamma": 0.002, "shear_angle": 0.02, "source_mag": 0.01, "source_r_eff": 0.003,
         "source_n": 0.02, "source_q": 0.005, "source_angle": 0.01, "source_x": 0.003,
         "source_y": 0.003, "vortex_mass_fraction": 0.001, "vortex_x": 0.005,
         "vortex_y": 0.005, "vortex_angle": 0.005}


def _image(cfg, renderer, values, geometry):
    """Noise-free image of the scene ``values`` with the vortex at ``geometry``."""
    from darklens.simulate.substructure.vortex import LINE_MASSES

    rng = np.random.default_rng(0)  # the vortex's own draws are replaced below
    scene = build_scene(cfg, values, rng)
    v, opts = scene.values, cfg.sub_options
    x0, y0, angle = (geometry[k] for k in GEOMETRY)
    half = opts.half_length * 10.0 ** (-22.0 - v["log10_m_axion"])
    mass = v["vortex_mass_fraction"] * 10.0 ** v["log10_halo_mass"]
    from darklens.simulate.cosmology import sigma_crit_angle

    sigma = sigma_crit_angle(v["z_lens"], v["z_source"], cfg.cosmology.H0, cfg.cosmology.Om0)
    kw = dict(x0=x0, y0=y0, half_length=half, angle=angle, lambda_k=mass / sigma / (2 * half))
    real = Realisation({}, LINE_MASSES.get(opts.implementation)(kw, opts), mass, (x0, y0, half))
    ctx = Context(v["z_lens"], v["z_source"], cfg.cosmology.H0, cfg.cosmology.Om0, sigma,
                  10.0 ** v["log10_halo_mass"], v["theta_E"], (v["halo_x"], v["halo_y"]),
                  cfg.inst.field_of_view)
    scene = dataclasses.replace(scene, deflector=real.deflector,
                                compensation=COMPENSATIONS.get(cfg.compensate)(real, ctx))
    return renderer.model_image(scene), scene


def bounds(cfg, renderer, index: int) -> tuple[float, float, float]:
    """(true log10 m_a, marginal bound, conditional bound) of image ``index``, dex."""
    rng_params, rng_sub, _ = streams(cfg.seed, index)
    values = sample_values(cfg, rng_params)
    geometry = build_scene(cfg, values, rng_sub).values
    geometry = {k: geometry[k] for k in GEOMETRY}
    image, scene = _image(cfg, renderer, values, geometry)
    variance = np.maximum(image, 0) / scene.exposure_time + scene.background_rms**2
    names = ["log10_m_axion", *[n for n in NUISANCE if n in values], *GEOMETRY]
    columns = []
    for name in names:
        h = STEPS[name]
        plus, minus = (dict(values), dict(geometry)), (dict(values), dict(geometry))
        for sign, (vals, geo) in ((1, plus), (-1, minus)):
            (vals if name in vals else geo)[name] += sign * h
        d = (_image(cfg, renderer, *plus)[0] - _image(cfg, renderer, *minus)[0]) / (2 * h)
        columns.append((d / np.sqrt(variance)).ravel())
    jac = np.stack(columns, axis=1)
    fisher = jac.T @ jac
    conditional = 1.0 / np.sqrt(fisher[0, 0])
    marginal = float(np.sqrt(np.linalg.pinv(fisher, rcond=1e-12)[0, 0]))
    return values["log10_m_axion"], marginal, conditional


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("config", help="a vortex simulation preset")
    p.add_argument("-n", type=int, default=60, help="scenes (default 60)")
    p.add_argument("--bins", type=int, default=5)
    args = p.parse_args()
    cfg = load_sim_config(args.config)
    if cfg.kind != "vortex":
        raise SystemExit(f"{args.config}: information.py is for vortex presets")
    lo, hi = cfg.priors["log10_m_axion"].support()
    prior_sd = (hi - lo) / np.sqrt(12)
    renderer = Renderer(cfg)
    rows = np.array([bounds(cfg, renderer, i) for i in range(args.n)])
    clip = partial(np.minimum, prior_sd)
    edges = np.linspace(lo, hi, args.bins + 1)
    print(f"{args.config}: Cramer-Rao bound on log10 m_a per image (dex), n = {args.n}, "
          f"clipped at the prior sd {prior_sd:.3f}")
    print(f"{'bin':>16} {'n':>4} {'marginal':>9} {'conditional':>12}")
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        sel = (rows[:, 0] >= a) & (rows[:, 0] <= b)
        if sel.any():
            print(f"[{a:6.2f}, {b:6.2f}] {sel.sum():>4} {np.median(clip(rows[sel, 1])):>9.3f} "
                  f"{np.median(clip(rows[sel, 2])):>12.3f}")
    print(f"{'mean over prior':>16} {args.n:>4} {clip(rows[:, 1]).mean():>9.3f} "
          f"{clip(rows[:, 2]).mean():>12.3f}")


if __name__ == "__main__":
    main()
