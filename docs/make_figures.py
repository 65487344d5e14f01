"""Draw the figures of ``docs/science.md`` with darklens' own simulator.

Run from anywhere (paths are relative to this file)::

    python docs/make_figures.py

and the PNGs land in ``docs/figures/``. Every image comes from
:func:`darklens.simulate.render_image` on the HST presets in ``configs/sim/`` with one fixed
seed, so the figures are reproducible (a few seconds on one CPU core, offline). Matplotlib is
used through :class:`matplotlib.figure.Figure`, which writes PNGs with the Agg renderer and never
touches a display or the global pyplot state.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Circle

from darklens.simulate import load_sim_config, render_image

HERE = Path(__file__).resolve().parent
SIM = HERE.parent / "configs" / "sim"
OUT = HERE / "figures"
SEED = 31  # image 0 of this seed: an off-centre compact source, i.e. arcs rather than a ring
DPI = 100
SOFT = 0.02  # asinh softening, counts/s: ~3x the HST preset's background rms (0.006)
ZOOM = 1.9  # residual panels show |x|, |y| < ZOOM arcsec: the signal lives on the arcs

PRESETS = {"none": "hst_halo_mass", "cdm": "hst_cdm", "vortex": "hst_axion",
           "strings": "hst_strings"}
# Illustrative values at the strong end of each preset's prior, so the perturbation is
# visible by eye; datasets draw them from the priors instead.
SUB = {"none": {}, "cdm": {"f_sub": 0.1}, "strings": {"string_density": 0.5},
       "vortex": {"log10_m_axion": -23.0, "vortex_mass_fraction": 0.03}}
LABELS = {"none": "smooth SIE + shear", "cdm": "f_sub = {f_sub:.2f}, {n_subhalos} subhalos",
          "vortex": 'log10_m_axion = {log10_m_axion:g}, L = {vortex_length:.2f}"',
          "strings": "string_density = {string_density:g}, {n_strings} strings"}


def config(kind: str, noise: bool = True):
    """Load the HST preset of substructure ``kind``; ``noise=False`` renders the model only."""
    return load_sim_config(SIM / f"{PRESETS[kind]}.yaml", [f"noise={str(noise).lower()}"])


PIXEL = config("none").inst.pixel_scale  # arcsec; the same instrument in every HST preset


def render(kind: str, params: dict, noise: bool = True):
    """Image and values of ``kind`` with ``params`` imposed (seed :data:`SEED`, image 0)."""
    return render_image(config(kind, noise), params, seed=SEED)


def shared_lens() -> dict:
    """Main-lens values (halo, shear, source, redshifts) drawn once, imposed on every kind.

    The presets differ in their halo-mass prior and ``hst_halo_mass`` has z_s = 2 instead of
    1, so the same seed alone would give four different lenses; imposing one set of main
    values leaves the substructure as the only difference between panels.
    """
    _, values = render("cdm", {})
    return {name: values[name] for name in config("none").sampled_names()}


def residual(kind: str, params: dict, lens: dict):
    """Noise-free image with substructure minus the same lens without it, in units of noise.

    Both renders impose the same main-lens values on noise-free configs, so halo, source and
    pixel grid coincide and only the substructure deflection differs. The yardstick is the
    per-pixel noise rms the preset adds to the smooth image (Poisson + background, as
    :func:`darklens.simulate.noise.add_noise`), so 1 means "one sigma in one pixel".

    Returns
    -------
    diff : ndarray
        (with - without) / sigma.
    smooth : ndarray
        The smooth image, counts/s per pixel.
    values : dict
        Every parameter of the perturbed image (vortex geometry included).
    """
    image, values = render(kind, {**lens, **params}, noise=False)
    smooth, _ = render("none", lens, noise=False)
    inst, t = config("none").inst, lens["exposure_time"]
    sigma = np.sqrt(np.clip(smooth, 0, None) / (t * inst.num_exposures)
                    + inst.background_noise(t) ** 2)
    return (image - smooth) / sigma, smooth, values


def show(fig, ax, image, title, *, diverging=False, vmax=None, zoom=None):
    """Draw ``image`` in sky coordinates (arcsec, centred) with a 1 arcsec scale bar."""
    half = image.shape[0] * PIXEL / 2
    extent = (-half, half, -half, half)
    if diverging:  # centred on zero: red = brighter than the smooth lens
        vmax = vmax or float(np.abs(image).max()) or 1.0
        im = ax.imshow(image, origin="lower", extent=extent, cmap="RdBu_r", vmin=-vmax,
                       vmax=vmax)
        fig.colorbar(im, ax=ax, shrink=0.8, pad=0.02).ax.tick_params(labelsize=7)
    else:  # asinh: linear near the noise, logarithmic in the bright arcs
        ax.imshow(np.arcsinh(image / SOFT), origin="lower", extent=extent, cmap="magma",
                  vmin=-1.0, vmax=math.asinh(vmax / SOFT))
    lim = zoom or half
    ax.set_xlim(-lim, lim)  # fixed limits also stop overlays from rescaling the axes
    ax.set_ylim(-lim, lim)
    colour = "black" if diverging else "white"
    x0 = -0.8 * lim
    ax.plot([x0, x0 + 1.0], [x0, x0], color=colour, lw=2)
    ax.text(x0 + 0.5, x0 + 0.06 * lim, '1"', color=colour, ha="center", va="bottom")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def draw_vortex(ax, values):
    """Overlay the vortex line where the simulator put it (centre, angle, length)."""
    dx = 0.5 * values["vortex_length"] * math.cos(values["vortex_angle"])
    dy = 0.5 * values["vortex_length"] * math.sin(values["vortex_angle"])
    x, y = values["vortex_x"], values["vortex_y"]
    ax.plot([x - dx, x + dx], [y - dy, y + dy], color="green", lw=1.2)


def save(fig, name):
    fig.savefig(OUT / name, dpi=DPI)
    print(f"wrote {OUT / name} ({(OUT / name).stat().st_size // 1024} KB)")


def substructure_kinds(lens):
    """(a) One noisy HST image per kind: same lens, same seed, common asinh stretch."""
    shots = {kind: render(kind, {**lens, **SUB[kind]}) for kind in PRESETS}
    vmax = max(float(image.max()) for image, _ in shots.values())
    fig = Figure(figsize=(12, 3.4), layout="constrained")
    for ax, (kind, (image, v)) in zip(fig.subplots(1, 4), shots.items(), strict=True):
        show(fig, ax, image, f"{kind}\n" + LABELS[kind].format(**v), vmax=vmax)
    save(fig, "substructure_kinds.png")


def residuals(lens):
    """(b) Substructure signal of each kind, (with - without) / noise, own colour scale."""
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    for ax, kind in zip(fig.subplots(1, 3), ("cdm", "vortex", "strings"), strict=True):
        diff, smooth, values = residual(kind, SUB[kind], lens)
        show(fig, ax, diff, f"{kind} minus none [σ per pixel]", diverging=True, zoom=ZOOM)
        # grey contour: where the arcs of the smooth lens are
        ax.contour(smooth, levels=[0.1 * smooth.max()], colors="0.5", linewidths=0.6,
                   origin="lower", extent=ax.get_images()[0].get_extent())
        if kind == "vortex":
            draw_vortex(ax, values)
    save(fig, "residuals.png")


def axion_mass(lens):
    """(c) Vortex residuals vs axion mass at a fixed vortex mass (3 % of the halo).

    Top row: vortex minus smooth lens. Bottom row: vortex minus a point-like vortex of the same
    mass at the same place (log10 m_a = -20, L = 6e-4"): the part of the signal that depends on
    the length, i.e. on m_a; the colours saturate at 5 sigma per pixel.
    """
    masses = (-24.0, -23.5, -23.0, -22.5, -22.0)
    fraction = SUB["vortex"]["vortex_mass_fraction"]
    point, _, _ = residual("vortex", {"log10_m_axion": -20.0, "vortex_mass_fraction": fraction},
                           lens)
    shots = [residual("vortex", {"log10_m_axion": m, "vortex_mass_fraction": fraction}, lens)
             for m in masses]
    top = max(float(np.abs(d).max()) for d, _, _ in shots)  # same mass: one colour scale
    fig = Figure(figsize=(14, 6), layout="constrained")
    axes = fig.subplots(2, 5)
    for k, (m, (diff, _, v)) in enumerate(zip(masses, shots, strict=True)):
        title = f"log10_m_axion = {m:g}, L = {v['vortex_length']:.2f}\"\nminus smooth lens [σ]"
        show(fig, axes[0, k], diff, title, diverging=True, vmax=top, zoom=ZOOM)
        show(fig, axes[1, k], diff - point, "minus point-like vortex [σ, ±5]", diverging=True,
             vmax=5.0, zoom=ZOOM)
        for ax in axes[:, k]:
            draw_vortex(ax, v)
    save(fig, "axion_mass.png")


def halo_mass():
    """(d) Smooth lenses of growing mass (hst_halo_mass as is, z_s = 2) with theta_E circles."""
    shots = [render("none", {"log10_halo_mass": m}) for m in (10.8, 11.35, 11.9)]
    vmax = max(float(image.max()) for image, _ in shots)
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    for ax, (image, v) in zip(fig.subplots(1, 3), shots, strict=True):
        title = f"log10_halo_mass = {v['log10_halo_mass']:g}\nθ_E = {v['theta_E']:.2f}\""
        show(fig, ax, image, title, vmax=vmax)
        # radius theta_E: same area as the SIE's ellipse of mean convergence one
        ax.add_patch(Circle((v["halo_x"], v["halo_y"]), v["theta_E"], fill=False,
                            color="cyan", lw=0.8, ls="--"))
    save(fig, "halo_mass.png")


def main():
    start = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    lens = shared_lens()
    substructure_kinds(lens)
    residuals(lens)
    axion_mass(lens)
    halo_mass()
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
