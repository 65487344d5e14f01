"""pyHalo substructure speed, side by side in one run (ratios, not absolute times).

1. One pyHalo CDM realisation with line-of-sight halos (halos of 10^7-10^10 M_sun in an 8"
   cone, z_l = 0.5, z_s = 1.5) and the time pyHalo takes to draw it (both renderers share it).
2. Ray shooting of a 64x64 HST image at 8x8 rays per pixel (262,144 rays) through an SIE +
   shear and every halo plane: darklens (one vectorised call per profile type and plane,
   :func:`darklens.simulate.multiplane.ray_shoot`) against lenstronomy's
   ``LensModel(..., multi_plane=True).ray_shooting`` on the same rays and kwargs: the time
   ratio, the largest difference of the source-plane positions and of a Sersic source's image;
   first with glibc's default allocator (plain lenstronomy as a user runs it), then with both
   under the allocator setting of darklens' dataset workers (``keep_freed_memory``).
3. Whole images against paltas 0.2.0 (its DG19 subhalos and line of sight, from its
   paper_2203_00690 config, with a Sersic source and a Gaussian PSF because its COSMOS and PSF
   files are not in the pip package), in a separate virtual environment (paltas needs
   lenstronomy <= 1.12 and numpy <= 1.24): seconds per image of each, same grid and rays
   (darklens as its dataset workers run it).

    python benchmarks/pyhalo_speed.py             # ~3 minutes on 2 cores (+ venv)
    python benchmarks/pyhalo_speed.py --no-paltas --sigma-sub 0.05
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from astropy.cosmology import FlatLambdaCDM
from lenstronomy.LensModel.lens_model import LensModel
from lenstronomy.LightModel.light_model import LightModel

from darklens.config import from_dict
from darklens.simulate.cosmology import sigma_crit_angle, theta_E_to_mass
from darklens.simulate.multiplane import ray_shoot
from darklens.simulate.profiles.from_kwargs import plane_deflector
from darklens.simulate.render import Renderer
from darklens.simulate.runner import keep_freed_memory
from darklens.simulate.samples import as_config
from darklens.simulate.scene import build_scene, sample_values, streams
from darklens.simulate.substructure import Context
from darklens.simulate.substructure.pyhalo import PyHalo, draw, lens_groups

Z_L, Z_S, H0, OM0, THETA_E = 0.5, 1.5, 70.0, 0.3, 1.1
NUM_PIX, PIXEL, SUPER = 64, 0.08, 8
KWARGS = {"log_mlow": 7.0, "log_mhigh": 10.0, "cone_opening_angle_arcsec": 8.0}
KW_MAIN = [{"theta_E": THETA_E, "e1": 0.05, "e2": -0.03, "center_x": 0.0, "center_y": 0.0},
           {"gamma1": 0.02, "gamma2": -0.01, "ra_0": 0.0, "dec_0": 0.0}]
KW_SOURCE = [{"amp": 10.0, "R_sersic": 0.2, "n_sersic": 1.5, "e1": 0.1, "e2": 0.0,
              "center_x": 0.05, "center_y": -0.03}]
PALTAS = ["paltas==0.2.0", "lenstronomy<=1.12", "numpy<=1.24", "astropy==6.0.1",
          "drizzle<2"]  # paltas 0.2.0 imports drizzle.drizzle, gone in drizzle 2
PALTAS_VENV = Path.home() / ".cache" / "darklens" / "paltas-0.2.0-venv"


def rays():
    """Supersampled ray positions (arcsec) of a NUM_PIX^2 image, shape (NUM_PIX*SUPER,)^2."""
    n = NUM_PIX * SUPER
    g = (np.arange(n) - (n - 1) / 2) * PIXEL / SUPER
    x, y = np.meshgrid(g, g)
    return x.ravel(), y.ravel()


def binned(flux):
    """Mean over each pixel's SUPER x SUPER rays."""
    return flux.reshape(NUM_PIX, SUPER, NUM_PIX, SUPER).mean(axis=(1, 3))


def ray_shooting_rows(sigma_sub: float) -> None:
    ctx = Context(Z_L, Z_S, H0, OM0, sigma_crit_angle(Z_L, Z_S, H0, OM0),
                  theta_E_to_mass(THETA_E, Z_L, Z_S, H0, OM0), THETA_E, (0.0, 0.0),
                  NUM_PIX * PIXEL)
    opts = from_dict(PyHalo.Options, {"model": "CDM", "kwargs": KWARGS}, "substructure")
    t = time.perf_counter()
    drawn = draw(np.random.default_rng(1), {"sigma_sub": sigma_sub, "los_normalization": 1.0},
                 ctx, opts)
    t_draw = time.perf_counter() - t
    names, redshifts, _, _ = drawn.lensing
    d = drawn.derived
    print(f"pyHalo CDM, sigma_sub {sigma_sub} kpc^-2, LOS 1.0, 10^7-10^10 M_sun, 8\" cone: "
          f"{d['n_subhalos']} subhalos + {d['n_los_halos']} LOS halos, {len(names)} profiles "
          f"on {len(set(np.round(redshifts, 6)))} planes; pyHalo draw + lensing_quantities "
          f"{t_draw:.2f} s (shared by both)")
    # plain lenstronomy as a user runs it, then both with the allocator setting every darklens
    # dataset worker makes (large temporaries stay in the heap): it speeds up both
    _time_ray_shooting(drawn, ctx, opts, "glibc's default allocator")
    keep_freed_memory()
    _time_ray_shooting(drawn, ctx, opts, "both with darklens' keep_freed_memory()")


def darklens_shoot(drawn, ctx, opts, x, y):
    """Source-plane positions through the SIE + shear and every halo plane, by darklens."""
    main = LensModel(["SIE", "SHEAR"])
    groups = lens_groups(drawn, ctx, opts)
    lens = plane_deflector(*groups.pop(Z_L))

    def lens_plane(u, v):
        ax, ay = main.alpha(u, v, KW_MAIN)
        bx, by = lens(u, v)
        return ax + bx, ay + by

    planes = [(Z_L, lens_plane)] + [(z, plane_deflector(*g)) for z, g in groups.items()]
    return ray_shoot(x, y, planes, Z_S, H0, OM0)


def lenstronomy_shoot(drawn, x, y):
    """The same by lenstronomy's multi-plane LensModel on pyHalo's own kwargs."""
    names, redshifts, kwargs, _ = drawn.lensing
    full = LensModel(["SIE", "SHEAR", *names], z_source=Z_S,
                     lens_redshift_list=[Z_L, Z_L, *redshifts], multi_plane=True,
                     z_source_convention=Z_S, cosmo=FlatLambdaCDM(H0=H0, Om0=OM0))
    return full.ray_shooting(x, y, KW_MAIN + list(kwargs))


def _time_ray_shooting(drawn, ctx, opts, label: str) -> None:
    x, y = rays()
    darklens_shoot(drawn, ctx, opts, x[:64], y[:64])  # warm-up: compiled kernels, imports
    lenstronomy_shoot(drawn, x[:64], y[:64])
    t = time.perf_counter()
    dx, dy = darklens_shoot(drawn, ctx, opts, x, y)
    t_dl = time.perf_counter() - t
    t = time.perf_counter()
    lx, ly = lenstronomy_shoot(drawn, x, y)
    t_lt = time.perf_counter() - t

    source = LightModel(["SERSIC_ELLIPSE"])
    img_dl = binned(source.surface_brightness(dx, dy, KW_SOURCE))
    img_lt = binned(source.surface_brightness(lx, ly, KW_SOURCE))
    print(f"ray shooting {x.size} rays ({NUM_PIX}x{NUM_PIX} at {SUPER}x{SUPER}), {label}: "
          f"darklens {t_dl:.2f} s, lenstronomy multi-plane {t_lt:.2f} s -> "
          f"{t_lt / t_dl:.1f}x; max |delta beta| {np.hypot(dx - lx, dy - ly).max():.2e} "
          f"arcsec; Sersic image max |delta| / max "
          f"{np.abs(img_dl - img_lt).max() / img_lt.max():.2e}")


PALTAS_CONFIG = """
import numpy as np
from scipy.stats import uniform
from paltas.Substructure.los_dg19 import LOSDG19
from paltas.Substructure.subhalos_dg19 import SubhalosDG19
from paltas.MainDeflector.simple_deflectors import PEMDShear
from paltas.Sources.sersic import SingleSersicSource
from paltas.Sampling import distributions

kwargs_numerics = {{'supersampling_factor': {super}, 'supersampling_convolution': True,
                   'point_source_supersampling_factor': {super}}}
numpix = {num_pix}
seed = 3
# subhalo and los blocks: paltas/Configs/paper_2203_00690/config_train.py at its means
config_dict = {{
    'subhalo': {{'class': SubhalosDG19, 'parameters': {{
        'sigma_sub': 2e-3, 'shmf_plaw_index': -1.87, 'm_pivot': 1e10, 'm_min': 1e7,
        'm_max': 1e10, 'conc_m_ref': 1e8, 'k1': 0.0, 'k2': 0.0}}}},
    'los': {{'class': LOSDG19, 'parameters': {{
        'delta_los': 1.0, 'm_min': 1e7, 'm_max': 1e10, 'z_min': 0.01, 'dz': 0.01,
        'cone_angle': 8.0, 'r_min': 0.5, 'r_max': 10.0, 'conc_m_ref': 1e8,
        'alpha_dz_factor': 5.0}}}},
    'main_deflector': {{'class': PEMDShear, 'parameters': {{
        'M200': 1e13, 'z_lens': {z_l}, 'gamma': 2.0, 'theta_E': {theta_e}, 'e1': 0.05,
        'e2': -0.03, 'center_x': 0.0, 'center_y': 0.0, 'gamma1': 0.02, 'gamma2': -0.01,
        'ra_0': 0.0, 'dec_0': 0.0}}}},
    'source': {{'class': SingleSersicSource, 'parameters': {{
        'z_source': {z_s}, 'magnitude': 22.0, 'output_ab_zeropoint': 25.96, 'R_sersic': 0.2,
        'n_sersic': 1.5, 'e1': 0.1, 'e2': 0.0, 'center_x': 0.05, 'center_y': -0.03}}}},
    'cosmology': {{'parameters': {{'cosmology_name': 'planck18'}}}},
    'psf': {{'parameters': {{'psf_type': 'GAUSSIAN', 'fwhm': 0.1}}}},
    'detector': {{'parameters': {{
        'pixel_scale': {pixel}, 'ccd_gain': 2.5, 'read_noise': 4.0,
        'magnitude_zero_point': 25.96, 'exposure_time': 5400.0, 'sky_brightness': 22.3,
        'num_exposures': 1, 'background_noise': None}}}},
    'cross_object': {{'parameters': {{
        'subhalo:c_0,los:c_0': distributions.Duplicate(dist=uniform(loc=16, scale=2).rvs),
        'subhalo:conc_zeta,los:conc_zeta': distributions.Duplicate(
            dist=uniform(loc=-0.3, scale=0.1).rvs),
        'subhalo:conc_beta,los:conc_beta': distributions.Duplicate(
            dist=uniform(loc=0.55, scale=0.3).rvs),
        'subhalo:dex_scatter,los:dex_scatter': distributions.Duplicate(
            dist=uniform(loc=0.1, scale=0.06).rvs)}}}},
}}
"""

PALTAS_RUN = """
import json, sys, time
from paltas.Configs.config_handler import ConfigHandler
handler = ConfigHandler(sys.argv[1])
counts, draw = [], handler.get_lenstronomy_models_kwargs
def counted(*args, **kwargs):
    model, params = draw(*args, **kwargs)
    counts.append(sum(name in ('TNFW', 'NFW') for name in model['lens_model_list']))
    return model, params
handler.get_lenstronomy_models_kwargs = counted
seconds = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    handler.draw_image(new_sample=True)
    seconds.append(time.perf_counter() - t)
print(json.dumps({"seconds": seconds, "halos": counts}))
"""


def paltas_python(venv: Path) -> Path | None:
    """The venv's python with paltas installed (created on first use), or None."""
    python = venv / "bin" / "python"
    if (venv / ".darklens-ok").exists():
        return python
    for cmd in ([sys.executable, "-m", "venv", str(venv)],
                [str(python), "-m", "pip", "install", "-q", *PALTAS]):
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
            print(f"paltas row skipped: {' '.join(cmd[:4])} ... failed: {tail[0]}")
            return None
    (venv / ".darklens-ok").write_text(" ".join(PALTAS))
    return python


def darklens_config(sigma_sub: float) -> dict:
    mass = theta_E_to_mass(THETA_E, Z_L, Z_S, H0, OM0)
    return {"seed": 3, "instrument": {"base": "hst-wfc3-f160w", "psf_fwhm": 0.1},
            "num_pix": NUM_PIX, "supersampling": SUPER,
            "substructure": {"kind": "pyhalo", "compensate": "none", "model": "CDM",
                             "kwargs": KWARGS},
            "params": {"z_lens": Z_L, "z_source": Z_S, "log10_halo_mass": float(np.log10(mass)),
                       "halo_q": 0.9, "halo_angle": 0.3, "shear_gamma": 0.022,
                       "shear_angle": 0.0, "sigma_sub": sigma_sub, "los_normalization": 1.0}}


def paltas_row(n: int, sigma_sub: float, venv: Path) -> None:
    python = paltas_python(venv)
    if python is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "paltas_dg19_bench.py"
        config.write_text(PALTAS_CONFIG.format(super=SUPER, num_pix=NUM_PIX, z_l=Z_L, z_s=Z_S,
                                               theta_e=THETA_E, pixel=PIXEL))
        runner = Path(tmp) / "run_paltas.py"
        runner.write_text(PALTAS_RUN)
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        done = subprocess.run([str(python), str(runner), str(config), str(n)],
                              capture_output=True, text=True, env=env, cwd=tmp)
    if done.returncode:
        tail = done.stderr.strip().splitlines()[-1:] or ["?"]
        print(f"paltas row skipped: paltas failed: {tail[0]}")
        return
    paltas = json.loads(done.stdout.strip().splitlines()[-1])
    cfg = as_config(darklens_config(sigma_sub))
    renderer = Renderer(cfg)
    values, rng_sub, rng_noise = _streams(cfg, n)  # warm-up: numba, ImageModel, pyHalo
    renderer.render(build_scene(cfg, values, rng_sub), rng_noise)
    t_scene = t_render = 0.0
    halos = []
    for i in range(n):
        values, rng_sub, rng_noise = _streams(cfg, i)
        t = time.perf_counter()
        scene = build_scene(cfg, values, rng_sub)
        t_scene += time.perf_counter() - t
        t = time.perf_counter()
        renderer.render(scene, rng_noise)
        t_render += time.perf_counter() - t
        halos.append(scene.values["n_subhalos"] + scene.values["n_los_halos"])
    per_dl = (t_scene + t_render) / n
    per_pal = float(np.mean(paltas["seconds"][1:] or paltas["seconds"]))
    h_dl, h_pal = np.mean(halos), np.mean(paltas["halos"])
    print(f"whole {NUM_PIX}x{NUM_PIX} images at {SUPER}x{SUPER} rays, {n} each: darklens "
          f"(pyHalo CDM, {h_dl:.0f} halos) {per_dl:.2f} s/image ({t_scene / n:.2f} pyHalo "
          f"draw + {t_render / n:.2f} render), paltas 0.2.0 (DG19, {h_pal:.0f} halos) "
          f"{per_pal:.2f} s/image -> paltas / darklens = {per_pal / per_dl:.1f} per image, "
          f"{per_pal / h_pal / (per_dl / h_dl):.1f} per halo")


def _streams(cfg, i):
    rng_params, rng_sub, rng_noise = streams(cfg.seed, i)
    return sample_values(cfg, rng_params), rng_sub, rng_noise


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sigma-sub", type=float, default=0.025,
                    help="pyHalo subhalo amplitude, kpc^-2 (default: pyHalo's 0.025)")
    ap.add_argument("-n", type=int, default=3, help="images per simulator in the paltas row")
    ap.add_argument("--no-paltas", action="store_true")
    ap.add_argument("--paltas-venv", type=Path,
                    default=PALTAS_VENV)
    args = ap.parse_args()
    ray_shooting_rows(args.sigma_sub)
    if not args.no_paltas:
        paltas_row(args.n, args.sigma_sub, args.paltas_venv)


if __name__ == "__main__":
    main()
