"""Sources beyond a Sersic: galaxy stamps a user supplies, and random shapelet galaxies.

``source: {kind: images, path: stamps/, pixel_scale: 0.03}`` lenses real galaxy images
(a folder of FITS stamps, or an HDF5 file with a 3-D ``images`` dataset) through lenstronomy's
``INTERPOL`` light profile. Each image draws, from the seeded source stream, a stamp, a mirror
flip, a half-turn and a size factor; its orientation is the ``source_angle`` parameter (plus
the half-turn: the default ``source_angle`` prior covers [0, pi), all a Sersic needs but half
the orientations of a real galaxy), its magnitude ``source_mag``. Stamps should be
sky-subtracted, centred on the galaxy (the array centre is put at ``source_x, source_y``) and
free of neighbours; row index runs along +y and column index along +x, as in a FITS image.
Negative (noise) pixels are set to 0 so that the flux is positive, which adds a little flux
from the noise of the stamp's sky. darklens ships no catalogue.

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


def _file_stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def load_stamps(path: str, dataset: str = "images",
                pixel_scale: float | None = None) -> tuple[tuple[np.ndarray, float], ...]:
    """Galaxy stamps of a FITS folder or HDF5 file, each with its pixel scale (arcsec).

    Cached per process (a dataset's workers read the stamps once), and read again when the
    HDF5 file changes or files are added to or removed from the folder (a FITS stamp
    rewritten in place is not noticed until the process restarts).
    """
    p = Path(path)
    if not p.exists():
        raise DarklensError(f"{p}: no such file or folder (source.path)")
    return _load_stamps(str(p), _file_stamp(p), dataset, pixel_scale)


def _fits_stamps(p: Path) -> list:
    from darklens.simulate.psf import read_fits_image

    files = sorted(f for f in p.iterdir() if f.name.lower().endswith((".fits", ".fits.gz")))
    if not files:
        raise DarklensError(f"{p}: no .fits stamps in this folder (source.path)")
    return [read_fits_image(str(f), "galaxy stamp", "source.path") + (f,) for f in files]


def _hdf5_stamps(p: Path, dataset: str) -> list:
    import h5py

    try:
        with h5py.File(p, "r") as h:
            if dataset not in h or getattr(h[dataset], "ndim", 0) != 3:
                raise DarklensError(f"{p}: expected a 3-D dataset {dataset!r} (n, ny, nx) of "
                                    f"galaxy stamps (source.dataset)")
            scale = h[dataset].attrs.get("pixel_scale", h.attrs.get("pixel_scale"))
            data = np.asarray(h[dataset][()], float)
    except OSError:
        raise DarklensError(f"{p}: not a readable HDF5 file (source.path)") from None
    return [(image, None if scale is None else float(scale), p) for image in data]


@lru_cache(maxsize=8)
def _load_stamps(path: str, stamp, dataset: str, pixel_scale: float | None):
    p = Path(path)
    stamps = _fits_stamps(p) if p.is_dir() else _hdf5_stamps(p, dataset)
    if not stamps:
        raise DarklensError(f"{p}: no galaxy stamps in {dataset!r} (source.path)")
    out = []
    for image, scale, where in stamps:
        scale = pixel_scale or scale
        if not scale:
            raise DarklensError(f"{where}: no pixel scale in the file; give source.pixel_scale "
                                f"(arcsec per stamp pixel)")
        image = np.clip(np.nan_to_num(image), 0.0, None)  # masked (NaN) and noise pixels
        if image.sum() <= 0:
            raise DarklensError(f"{where}: a galaxy stamp has no positive flux (source.path)")
        image.setflags(write=False)
        out.append((image, float(scale)))
    return tuple(out)


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _check_range(values: list, where: str, unit: str = "") -> None:
    if len(values) != 2 or not 0 < values[0] <= values[1]:
        raise DarklensError(f"{where}: expected [low, high]{unit} with 0 < low <= high, "
                            f"got {values!r}")


@SOURCES.register("images")
class ImagesSource(LightKind):
    """Lensed galaxy stamps (see the module docstring).

    Options: ``path``; ``dataset`` (HDF5); ``pixel_scale`` (arcsec per stamp pixel, else the
    FITS header's PIXSCALE/CDELT1/CD1_1 or the HDF5 ``pixel_scale`` attribute); ``flip``
    (mirror half the images); ``half_turn`` (turn half the images by 180 degrees);
    ``size_factor`` ([low, high], log-uniform: the stamp's pixel scale is multiplied by it).
    """

    params = ("source_angle",)
    derived = ("source_stamp_index", "source_size_factor")

    @dataclass
    class Options:
        path: str = ""
        dataset: str = "images"
        pixel_scale: float | None = bounded(None, gt=0)
        flip: bool = True
        half_turn: bool = True
        size_factor: list = field(default_factory=lambda: [0.8, 1.25])

        def validate(self, where):
            if not self.path:
                raise DarklensError(f"{where}.path: give a folder of FITS stamps or an HDF5 file")
            _check_range(self.size_factor, f"{where}.size_factor")

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
        factor = _log_uniform(rng, *opts.size_factor)
        scale *= factor
        angle = values["source_angle"]
        if opts.half_turn and rng.random() < 0.5:
            angle += math.pi
        # INTERPOL's image is surface brightness, bilinearly interpolated between pixel
        # centres (zero beyond the edge): total flux = amp * sum(image) * scale^2 exactly
        kw = {"image": image, "amp": 1.0 / (image.sum() * scale**2), "scale": scale,
              "phi_G": angle, "center_x": values["source_x"], "center_y": values["source_y"]}
        return [kw], {"source_stamp_index": index, "source_size_factor": factor}


@lru_cache(maxsize=32)
def _shapelet_basis(n_max: int):
    """lenstronomy's 1-D shapelets phi_n(u) at unit scale on a grid (n_max + 1, m), their
    integrals over u, and each 2-D coefficient's (n1, n2) in lenstronomy's order."""
    from lenstronomy.LightModel.Profiles.shapelets import Shapelets

    half = math.sqrt(2 * n_max + 1) + 6.0  # the highest order's extent plus Gaussian tails
    u = np.linspace(-half, half, 2 * math.ceil(half / 0.1) + 1)
    phi, _ = Shapelets(precalc=True).pre_calc(u, u, 1.0, n_max, 0.0, 0.0)
    integral = phi.sum(1) * (u[1] - u[0])  # exact to round-off for Gaussian-tailed functions
    n1 = np.array([a for n in range(n_max + 1) for a in range(n, -1, -1)])
    return phi, integral, n1, np.concatenate([np.arange(n + 1) for n in range(n_max + 1)])


def _negative_fraction(amp: np.ndarray, n_max: int) -> float:
    """Flux in negative pixels / total flux of a shapelet sum (inf if the total is <= 0)."""
    phi, _, n1, n2 = _shapelet_basis(n_max)
    coeff = np.zeros((n_max + 1, n_max + 1))
    coeff[n1, n2] = amp
    image = phi.T @ coeff @ phi
    total = image.sum()
    return -image[image < 0].sum() / total if total > 0 else math.inf


@SOURCES.register("shapelets")
class ShapeletsSource(LightKind):
    """A random shapelet galaxy.

    Coefficient (0, 0) is 1 and every coefficient of order n = n1 + n2 >= 1 is drawn from
    N(0, decay^n) (independent and of equal variance within an order, so the galaxy's
    orientation is uniform). Shapelet sums go negative between clumps, and lenstronomy cannot
    clip them: when more than ``max_negative`` of the flux would be negative, the higher
    orders are shrunk by the largest common factor that keeps it within (bisection; the
    (0, 0) Gaussian is positive everywhere). The scale ``beta`` is log-uniform in ``beta``
    (arcsec). Stored: ``source_shapelet_beta``.
    """

    params = ()
    derived = ("source_shapelet_beta",)

    @dataclass
    class Options:
        n_max: int = bounded(6, ge=0, le=20)
        beta: list = field(default_factory=lambda: [0.05, 0.15])
        decay: float = bounded(0.5, gt=0, le=1)
        max_negative: float = bounded(0.01, ge=0, le=1)

        def validate(self, where):
            _check_range(self.beta, f"{where}.beta", " arcsec")

    @staticmethod
    def profiles(opts):
        return ["SHAPELETS"]

    @staticmethod
    def unit_kwargs(rng, values, ctx, opts):
        _, integral, n1, n2 = _shapelet_basis(opts.n_max)
        amp = rng.normal(0.0, opts.decay ** (n1 + n2))
        amp[0] = 1.0
        beta = _log_uniform(rng, *opts.beta)
        if _negative_fraction(amp, opts.n_max) > opts.max_negative:
            lo, hi = 0.0, 1.0
            for _ in range(20):
                mid = (lo + hi) / 2
                ok = _negative_fraction(np.r_[1.0, amp[1:] * mid], opts.n_max) <= opts.max_negative
                lo, hi = (mid, hi) if ok else (lo, mid)
            amp[1:] *= lo
        # lenstronomy keeps a shapelet's amplitude as beta changes: flux ∝ beta^2
        flux = float(amp @ (integral[n1] * integral[n2])) * beta**2
        kw = {"amp": amp / flux, "beta": beta, "n_max": opts.n_max,
              "center_x": values["source_x"], "center_y": values["source_y"]}
        return [kw], {"source_shapelet_beta": beta}
