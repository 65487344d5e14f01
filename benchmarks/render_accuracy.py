"""Rendering accuracy: how far each numerics setting is from 16 x 16 rays per pixel.

For ``-n`` scenes of each preset, the summed (delta / sigma)^2 over the noise-free image against
a 16 x 16-ray render with the PSF supersampled, sigma the preset's own noise (Poisson on the
image + background); printed as median / 90th percentile / max per numerics setting. This is
the table of docs/science.md ("Rendering accuracy").

    python benchmarks/render_accuracy.py              # hst_halo_mass, hst_axion; 20 scenes
    python benchmarks/render_accuracy.py --presets euclid_axion model1_vortex -n 10
"""

from __future__ import annotations

import argparse

import numpy as np

from darklens.simulate.config import load_sim_config
from darklens.simulate.render import Renderer
from darklens.simulate.scene import build_scene, sample_values, streams

SETTINGS = [(2, False), (2, True), (4, True), (6, True), (8, False), (8, True)]


def chi2(preset: str, n: int) -> dict:
    path = f"configs/sim/{preset}.yaml"
    exact = load_sim_config(path, ["supersampling=16", "supersampling_convolution=true"])
    renderers = {s: Renderer(load_sim_config(path, [f"supersampling={s[0]}",
                                                   f"supersampling_convolution={s[1]}"]))
                 for s in SETTINGS}
    ref = Renderer(exact)
    out = {s: [] for s in SETTINGS}
    for index in range(n):
        rng_params, rng_sub, _ = streams(exact.seed, index)
        scene = build_scene(exact, sample_values(exact, rng_params), rng_sub)
        expected = ref.model_image(scene)
        var = np.maximum(expected, 0) / scene.exposure_time + scene.background_rms**2
        for s, renderer in renderers.items():
            out[s].append(float(((renderer.model_image(scene) - expected) ** 2 / var).sum()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=["hst_halo_mass", "hst_axion"])
    parser.add_argument("-n", type=int, default=20)
    args = parser.parse_args()
    for preset in args.presets:
        print(f"{preset}: summed (delta/sigma)^2 against 16 x 16 rays, {args.n} scenes")
        for (rays, conv), values in chi2(preset, args.n).items():
            med, p90, top = np.percentile(values, [50, 90, 100])
            psf = "PSF supersampled" if conv else "PSF on binned pixels"
            print(f"  {rays} x {rays} rays, {psf:<21} {med:9.3g} / {p90:9.3g} / {top:9.3g}")


if __name__ == "__main__":
    main()
