"""How well ``darklens infer --subtract-lens-light`` takes out the lens galaxy, and how fast.

Renders HST WFC3/F160W lenses (64x64, 0.08") from the priors of ``hst_halo_mass`` (theta_E
0.45"-1.8", Sersic source r_eff 0.1"-0.4") with a Sersic lens galaxy (r_eff 0.5"-1.2",
n 3-5, magnitude 19-21), and each again without it (the same parameters), noiseless and with
the instrument's noise. Fits :func:`darklens.infer.lens_light.fit_lens_light` to each and
prints the rms of (galaxy - fitted model), noise left out, as a fraction of the galaxy's
peak, the fractional errors of the fitted r_eff and n, and the time per image.

    python benchmarks/lens_light_fit.py [-n 48]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from darklens.infer.lens_light import fit_lens_light
from darklens.simulate.samples import as_config, render_image

BASE = {"n": 8, "seed": 3, "instrument": "hst-wfc3-f160w", "substructure": {"kind": "none"},
        "supersampling": 4,
        "params": {"z_lens": 0.5, "z_source": 2.0, "log10_halo_mass": {"uniform": [10.7, 11.9]}}}


def measure(n: int, noise: bool) -> np.ndarray:
    """Per image: seconds, residual rms / galaxy peak, r_eff and n fractional errors."""
    rows = []
    for i in range(n):
        on = dict(BASE, noise=noise, lens_light=True)
        image, values = render_image(on, index=i)
        off = dict(BASE, noise=False, lens_light=False)
        shared = {k: values[k] for k in as_config(off).sampled_names()}
        arcs = render_image(off, shared, index=i)[0]
        light = render_image(dict(on, noise=False), index=i)[0] - arcs  # the galaxy alone
        start = time.perf_counter()
        model, p = fit_lens_light(image, 0.08)
        took = time.perf_counter() - start
        rms = np.sqrt(np.mean((light - model) ** 2)) / light.max()  # the noise left out
        rows.append((took, rms, p["R_sersic"] / values["lens_light_r_eff"] - 1,
                     p["n_sersic"] / values["lens_light_n"] - 1))
    return np.array(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=48, help="lenses per setting")
    n = parser.parse_args().n
    fit_lens_light(render_image(dict(BASE, lens_light=True), index=0)[0], 0.08)  # warm up
    for noise in (False, True):
        a = measure(n, noise)
        both = np.mean((np.abs(a[:, 2]) < 0.2) & (np.abs(a[:, 3]) < 0.2))
        err_r, err_n = np.median(np.abs(a[:, 2])), np.median(np.abs(a[:, 3]))
        print(f"{'with noise' if noise else 'noiseless'} ({n} lenses): "
              f"{a[:, 0].mean():.2f} s/image (max {a[:, 0].max():.2f}); residual rms / peak "
              f"median {np.median(a[:, 1]):.4f}, max {a[:, 1].max():.4f}; |r_eff error| median "
              f"{err_r:.2f}, |n error| median {err_n:.2f} "
              f"(median n error {np.median(a[:, 3]):+.2f}); both within 20 %: {both:.0%}")


if __name__ == "__main__":
    main()
