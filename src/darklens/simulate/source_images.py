"""Sources beyond a Sersic: galaxy stamps a user supplies, and random shapelet galaxies.

``source: {kind: images, path: stamps/, pixel_scale: 0.03}`` lenses real galaxy images
(a folder of FITS stamps, or an HDF5 file with a 3-D ``images`` dataset) through lenstronomy's
``INTERPOL`` light profile: each image draws a stamp, a flip and a size factor from the seeded
source stream, its orientation is the ``source_angle`` parameter and its magnitude
``source_mag``. Stamps should be sky-subtracted, centred on the galaxy and free of neighbours;
negative (noise) pixels are set to 0 so that the flux is positive. darklens ships no catalogue.

``source: {kind: shapelets, n_max: 6}`` draws a random Cartesian shapelet galaxy (lenstronomy
``SHAPELETS``): clumpy, irregular sources without any download.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from darklens.config import bounded
from darklens.errors import DarklensError
from darklens.simulate.light import SOURCES, LightKind

__all__ = ["ImagesSource", "ShapeletsSource", "load_stamps"]


def _fits_stamp(path: Path) -> tuple[np.ndarray, float | None]:
    from darklens.simulate.psf import read_kernel

    try:
        return read_kernel(str(path))
    except DarklensError as err:
        raise DarklensError(str(err).replace("PSF kernel", "galaxy stamp")) from None


@lru_cache(maxsize=8)
def load_stamps(path: str, dataset: str = "images",
                pixel_scale: float | None = None) -> tuple[tuple[np.ndarray, float], ...]:
    """Galaxy stamps of a FITS folder or HDF5 file, each with its pixel scale (arcsec).

    Cached per process: a dataset's workers read the stamps once.
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.name.lower().endswith((".fits", ".fits.gz")))
        if not files:
            raise DarklensError(f"{p}: no .fits stamps in this folder (source.path)")
        stamps = [_fits_stamp(f) + (f,) for f in files]
    elif p.is_file():
        import h5py

        try:
            with h5py.File(p, "r") as h:
                if dataset not in h or h[dataset].ndim != 3:
                    raise DarklensError(f"{p}: expected a 3-D dataset {dataset!r} (n, ny, nx) "
                                        f"of galaxy stamps (source.dataset)")
                scale = h[dataset].attrs.get("pixel_scale", h.attrs.get("pixel_scale"))
                data = np.asarray(h[dataset][()], float)
        except OSError:
            raise DarklensError(f"{p}: not a readable HDF5 file (source.path)") from None
        stamps = [(image, None if scale is None else float(scale), p) for image in data]
    else:
        raise DarklensError(f"{p}: no such file or folder (source.path)")
    out = []
    for image, scale, where in stamps:
        scale = pixel_scale or scale
        if not scale:
            raise DarklensError(f"{where}: no pixel scale in the file; give source.pixel_scale "
                                f"(arcsec per stamp pixel)")
        image = np.clip(np.nan_to_num(image), 0.0, None)
        if image.sum() <= 0:
            raise DarklensError(f"{where}: a galaxy stamp has no positive flux")
        out.append((image, float(scale)))
    return tuple(out)


@SOURCES.register("images")
class ImagesSource(LightKind):
    """Lensed galaxy stamps (see the module docstring)."""

    params = ("source_angle",)
    derived = ("source_stamp_index", "source_size_factor")

    @dataclass
    class Options:
        path: str = ""
        dataset: str = "images"
        pixel_scale: float | None = bounded(None, gt=0)
        flip: bool = True
        size_factor: list = field(default_factory=lambda: [0.8, 1.25])

        def validate(self, where):
            if not self.path:
                raise DarklensError(f"{where}.path: give a folder of FITS stamps or an HDF5 file")
            if len(self.size_factor) != 2 or not 0 < self.size_factor[0] <= self.size_factor[1]:
                raise DarklensError(f"{where}.size_factor: expected [low, high] with "
                                    f"0 < low <= high, got {self.size_factor!r}")

    @staticmethod
    def profiles(opts):
        return ["INTERPOL"]

    @staticmethod
    def unit_kwargs(rng, values, ctx, opts):
        stamps = load_stamps(opts.path, opts.dataset, opts.pixel_scale)
        index = int(rng.integers(len(stamps)))
        image, scale = stamps[index]
        if opts.flip and rng.random() < 0.5:
            image = image[:, ::-1]
        lo, hi = opts.size_factor
        factor = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        scale *= factor
        # INTERPOL's image is surface brightness: total flux = amp * sum(image) * scale^2
        kw = {"image": image, "amp": 1.0 / (image.sum() * scale**2), "scale": scale,
              "phi_G": values["source_angle"], "center_x": values["source_x"],
              "center_y": values["source_y"]}
        return [kw], {"source_stamp_index": index, "source_size_factor": factor}


@lru_cache(maxsize=64)
def _shapelet_grid(n_max: int):
    """Unit-beta shapelet basis integrated over the plane, one value per coefficient."""
    from lenstronomy.LightModel.light_model import LightModel

    n_coeff = (n_max + 1) * (n_max + 2) // 2
    x, y = np.meshgrid(*[np.linspace(-12, 12, 481)] * 2)
    model = LightModel(["SHAPELETS"])
    flux = np.empty(n_coeff)
    for k in range(n_coeff):
        amp = np.zeros(n_coeff)
        amp[k] = 1.0
        kw = [{"amp": amp, "beta": 1.0, "n_max": n_max, "center_x": 0.0, "center_y": 0.0}]
        flux[k] = model.surface_brightness(x.ravel(), y.ravel(), kw).sum() * (24 / 480) ** 2
    return flux


@SOURCES.register("shapelets")
class ShapeletsSource(LightKind):
    """A random shapelet galaxy: coefficient 0 is 1, order-n coefficients ~ N(0, decay^n),
    scale ``beta`` log-uniform in ``beta`` (arcsec). Shapelet sums may dip slightly below zero
    between clumps; the noise models keep such values as they are."""

    params = ()
    derived = ("source_shapelet_beta",)

    @dataclass
    class Options:
        n_max: int = bounded(6, ge=0, le=20)
        beta: list = field(default_factory=lambda: [0.05, 0.15])
        decay: float = bounded(0.5, gt=0, le=1)

        def validate(self, where):
            if len(self.beta) != 2 or not 0 < self.beta[0] <= self.beta[1]:
                raise DarklensError(f"{where}.beta: expected [low, high] arcsec with "
                                    f"0 < low <= high, got {self.beta!r}")

    @staticmethod
    def profiles(opts):
        return ["SHAPELETS"]

    @staticmethod
    def unit_kwargs(rng, values, ctx, opts):
        orders = np.concatenate([[n] * (n + 1) for n in range(opts.n_max + 1)])
        amp = rng.normal(0.0, opts.decay ** orders)
        amp[0] = 1.0
        lo, hi = opts.beta
        beta = float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        # lenstronomy keeps the shapelet amplitude fixed as beta changes: flux ∝ beta^2
        flux = float(amp @ _shapelet_grid(opts.n_max)) * beta**2
        if flux <= 0:  # rare: a draw whose clumps cancel the core; keep the core alone
            amp[1:], flux = 0.0, float(_shapelet_grid(opts.n_max)[0]) * beta**2
        kw = {"amp": amp / flux, "beta": beta, "n_max": opts.n_max,
              "center_x": values["source_x"], "center_y": values["source_y"]}
        return [kw], {"source_shapelet_beta": beta}
