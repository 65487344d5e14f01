"""Simulator throughput, measured side by side in one run (ratios, not absolute times).

For every preset: images/s of darklens (scene sampling + rendering, ImageModel reused,
substructure as one vectorised deflector) against a naive reference loop on the *same* scenes
(plain lenstronomy, ImageModel rebuilt per image, one lens profile per subhalo, each vortex or
string as 100 POINT_MASS profiles; both with the preset's numerics and noise model, and without
the compensating mass sheet, which plain lenstronomy has no profile for). Then TNFW subhalos
(table vs analytic vs lenstronomy, with the table's accuracy), the speed-up of 2 worker
processes over 1, and a pyHalo CDM + line-of-sight population rendered by darklens against
lenstronomy multi-plane and paltas 0.2.0 (``benchmarks/pyhalo_speed.py``).

    python benchmarks/simulate_bench.py            # ~15 minutes on 2 cores
    python benchmarks/simulate_bench.py --quick    # fewer images
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from lenstronomy.Data.imaging_data import ImageData
from lenstronomy.Data.psf import PSF
from lenstronomy.ImSim.image_model import ImageModel
from lenstronomy.LensModel.lens_model import LensModel
from lenstronomy.LightModel.light_model import LightModel

from darklens.simulate import load_sim_config, run
from darklens.simulate.noise import NOISE_MODELS
from darklens.simulate.profiles.line_segment import chain_points
from darklens.simulate.render import Renderer
from darklens.simulate.runner import keep_freed_memory
from darklens.simulate.scene import build_scene, sample_values, streams

PRESETS = Path(__file__).parents[1] / "configs" / "sim"
CHAIN = 100  # point masses per line in the naive reference
NO_SHEET = ["substructure.compensate=none"]  # plain lenstronomy has no compensating disc


def scene_at(cfg, i):
    rng_params, rng_sub, rng_noise = streams(cfg.seed, i)
    return build_scene(cfg, sample_values(cfg, rng_params), rng_sub), rng_noise


def naive_lens(cfg, scene):
    """The scene's lens as lenstronomy profiles, one per subhalo / chain point."""
    models, kwargs = ["SIE", "SHEAR"], list(scene.kwargs_lens)
    d = scene.deflector
    if d is None:
        return models, kwargs
    if cfg.kind == "cdm" and cfg.sub_options.profile == "tnfw":
        for x, y, rs, a, rt in zip(d.xc, d.yc, d.rs, d.alpha_rs, d.r_trunc, strict=True):
            models.append("TNFW")
            kwargs.append({"Rs": rs, "alpha_Rs": a, "r_trunc": rt, "center_x": x, "center_y": y})
        return models, kwargs
    kw = d.keywords
    if cfg.kind == "cdm":
        xc, yc, m_k = kw["xc"], kw["yc"], kw["m_k"]
    else:  # vortex or strings: every line as a chain of point masses
        xc, yc, m_k = chain_points(
            kw["x0"], kw["y0"], kw["half_length"], kw["angle"], kw["lambda_k"], CHAIN
        )
    for x, y, m in zip(xc, yc, m_k, strict=True):
        models.append("POINT_MASS")
        kwargs.append({"theta_E": np.sqrt(m / np.pi), "center_x": x, "center_y": y})
    return models, kwargs


def naive_render(cfg, scene, rng_noise):
    """What a notebook does: build everything for each image and band, then render."""
    models, kwargs = naive_lens(cfg, scene)
    images = []
    for band_cfg, band in zip(cfg.band_list, scene.bands, strict=True):
        inst, n = band_cfg.inst, band_cfg.inst.num_pix
        half = (n - 1) / 2 * inst.pixel_scale
        data = ImageData(
            image_data=np.zeros((n, n)),
            ra_at_xy_0=-half,
            dec_at_xy_0=-half,
            transform_pix2angle=np.eye(2) * inst.pixel_scale,
        )
        model = ImageModel(
            data,
            PSF(psf_type="GAUSSIAN", fwhm=band.psf_fwhm, truncation=inst.psf_truncation),
            lens_model_class=LensModel(models),
            source_model_class=LightModel(cfg.source_kind.profiles(cfg.source_options)),
            lens_light_model_class=LightModel(
                cfg.lens_light_kind.profiles(cfg.lens_light_options)),
            kwargs_numerics={"supersampling_factor": cfg.supersampling,
                             "supersampling_convolution": cfg.supersampling_convolution},
        )
        light = bool(band.kwargs_lens_light)
        image = model.image(kwargs, band.kwargs_source,
                            kwargs_lens_light=band.kwargs_lens_light if light else None,
                            lens_light_add=light)
        images.append(NOISE_MODELS.get(cfg.noise).apply(image, band, rng_noise))
    return images, len(models)


def rate(fn, n, rounds=3):
    """Images/s: the best of ``rounds`` timed rounds of ``n`` calls (a shared machine's
    hiccups only ever slow a round down), after one warm-up call (compilation, caches)."""
    fn(0)
    best = 0.0
    for r in range(rounds):
        t = time.perf_counter()
        for i in range(1 + r * n, 1 + (r + 1) * n):
            fn(i)
        best = max(best, n / (time.perf_counter() - t))
    return best


def compare(name, cfg, n_ours, n_naive):
    renderer = Renderer(cfg)

    def ours(i):
        scene, rng_noise = scene_at(cfg, i)
        renderer.render(scene, rng_noise)

    scenes = [scene_at(cfg, i) for i in range(3 * n_naive + 1)]
    profiles = []

    def naive(i):
        profiles.append(naive_render(cfg, *scenes[i])[1])

    r_ours, r_naive = rate(ours, n_ours), rate(naive, n_naive)
    print(
        f"{name:<34} {np.mean(profiles):>9.0f} {r_ours:>10.1f} {r_naive:>10.2f} "
        f"{r_ours / r_naive:>8.1f}x",
        flush=True,
    )
    return r_ours / r_naive


def tnfw_accuracy(cfg, n=5):
    """Tabulated vs analytic TNFW sums: worst image difference."""
    renderer, worst = Renderer(cfg), []
    for i in range(n):
        scene, _ = scene_at(cfg, i)
        table = renderer.model_image(scene)
        exact = renderer.model_image(
            dataclasses.replace(
                scene, deflector=dataclasses.replace(scene.deflector, method="exact")
            )
        )
        smooth = renderer.model_image(dataclasses.replace(scene, deflector=None))
        worst.append(
            (
                np.abs(table - exact).max() / np.abs(exact - smooth).max(),
                np.abs(table - exact).max() / scene.background_rms,
            )
        )
    worst = np.max(worst, axis=0)
    print(
        f"  table vs exact TNFW: max |image difference| = {worst[0]:.1e} of the subhalos' "
        f"largest effect on the image, {worst[1]:.1e} x background rms"
    )


def _render_loop(cfg, n):
    renderer = Renderer(cfg)
    for i in range(n):
        renderer.render(*scene_at(cfg, i))


def workers_speedup(n):
    """2 workers vs 1 for a whole `simulate` run, next to the machine's own ceiling: the same
    rendering loop in two independent processes vs one (no files, no coordination)."""
    import multiprocessing as mp

    cfg = load_sim_config(PRESETS / "model1_vortex.yaml", NO_SHEET)
    with tempfile.TemporaryDirectory() as tmp:
        times = {1: np.inf, 2: np.inf}
        for attempt in range(2):  # best of two, as in rate()
            for w in (1, 2):
                t = time.perf_counter()
                run(cfg, out=Path(tmp) / f"w{w}-{attempt}.h5", n=n, workers=w, progress=False)
                times[w] = min(times[w], time.perf_counter() - t)
    print(
        f"\nmodel1_vortex, {n} images written: 1 worker {n / times[1]:.1f} img/s, "
        f"2 workers {n / times[2]:.1f} img/s -> speed-up {times[1] / times[2]:.2f}x"
    )
    _render_loop(cfg, 2)
    t = time.perf_counter()
    _render_loop(cfg, n // 2)
    one = time.perf_counter() - t
    procs = [
        mp.get_context("fork").Process(target=_render_loop, args=(cfg, n // 2)) for _ in range(2)
    ]
    t = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    both = time.perf_counter() - t
    print(f"machine ceiling: 2 processes rendering side by side do {2 * one / both:.2f}x the work "
          "of one in the same time")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images per measurement")
    parser.add_argument("--no-paltas", action="store_true",
                        help="leave out the paltas 0.2.0 row (it installs its own venv)")
    args = parser.parse_args()
    n_ours, n_naive, n_workers = (10, 2, 160) if args.quick else (40, 5, 640)
    n_paltas = 1 if args.quick else 3
    keep_freed_memory()  # as every dataset worker does (the naive loop gains from it too)

    print(f"{'preset':<34} {'profiles':>9} {'ours img/s':>10} {'naive':>10} {'ratio':>9}")
    for path in sorted(PRESETS.rglob("*.yaml")):
        name = str(path.relative_to(PRESETS).with_suffix(""))
        cfg = load_sim_config(path, NO_SHEET)
        if cfg.kind == "pyhalo":  # hundreds of halos on many planes: the rows at the end
            print(f"{name:<34} (pyHalo populations: see the pyHalo rows below)")
            continue
        compare(name, cfg, n_ours, n_naive)

    print("\nTNFW subhalos (hst_cdm, profile tnfw):")
    for mean in (100, 300):
        for method in ("table", "exact"):
            cfg = load_sim_config(
                PRESETS / "hst_cdm.yaml",
                [*NO_SHEET,
                    "substructure.profile=tnfw",
                    f"substructure.method={method}",
                    "substructure.mass=exact", f"params.n_subhalos_mean={mean}",
                ],
            )
            compare(f"  {mean} TNFW, {method}", cfg, n_ours // 2, n_naive)
            if method == "table":
                tnfw_accuracy(cfg)

    print("\nvortex as a 100-point chain in darklens itself (hst_axion):")
    cfg = load_sim_config(PRESETS / "hst_axion.yaml",
                          [*NO_SHEET, "substructure.implementation=chain"])
    compare("  hst_axion, chain", cfg, n_ours, n_naive)

    workers_speedup(n_workers)

    print("\npyHalo CDM + line of sight (benchmarks/pyhalo_speed.py):", flush=True)
    # its own process: it times plain lenstronomy with glibc's default allocator first
    pyhalo = [sys.executable, "-W", "ignore", str(Path(__file__).with_name("pyhalo_speed.py")),
              "-n", str(n_paltas), *(["--no-paltas"] if args.no_paltas else [])]
    subprocess.run(pyhalo, check=False)


if __name__ == "__main__":
    main()
