"""Instruments: pixel grid, PSF, photometric zero point and noise.

Each preset is one registered entry. ``deeplense-model1`` reproduces the DeepLense "Model I"
simulations (150x150, 0.05" pixels, Gaussian PSF FWHM 0.087", background rms 0.01, exposure
10^U(3, 3.5) s); every band of lenstronomy's ``ObservationConfig`` (HST, Euclid, LSST, DES,
Roman, JWST, ZTF) is registered from lenstronomy's own numbers as ``<survey>-<band>``, e.g.
``euclid-vis``, ``hst-wfc3-f160w``, ``lsst-i``, ``roman-f106``, ``jwst-f200w``.

In a config, ``instrument`` is a preset name or a mapping of :class:`Instrument` fields; a
mapping may start from a preset with ``base:`` and change some fields, e.g.
``{base: hst-wfc3-f160w, psf_fwhm: 0.096}``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from darklens.config import bounded, from_dict
from darklens.errors import DarklensError
from darklens.registry import Registry

__all__ = ["INSTRUMENTS", "Instrument", "register_instrument", "resolve_instrument"]


@dataclass(frozen=True)
class Instrument:
    """An imaging set-up; image values are in counts per second (e-/s or data units).

    Attributes
    ----------
    pixel_scale : float
        Pixel size, arcsec.
    num_pix : int
        Image side, pixels (square images).
    psf_fwhm : float
        Gaussian PSF full width at half maximum, arcsec (0 = no PSF).
    psf_truncation : float
        The Gaussian PSF kernel is cut at this many standard deviations.
    psf : dict
        The PSF kind and its options (:mod:`darklens.simulate.psf`): ``{kind: gaussian}`` (of
        ``psf_fwhm``), ``{kind: pixel, file: psf.fits, pixel_scale: 0.01}`` (an empirical
        kernel with its own sampling) or ``{kind: lenstronomy}`` (lenstronomy's own kernel).
    magnitude_zero_point : float
        Magnitude giving one count per second.
    exposure_time : number or prior
        Time per exposure, s; may be a prior (drawn per image).
    num_exposures : int
        Co-added exposures; total time = num_exposures * exposure_time.
    background_rms : float or None
        Fixed Gaussian background rms per pixel, counts/s. If None it follows from
        ``sky_brightness`` and ``read_noise`` and the exposure time (lenstronomy's bkg_noise).
    sky_brightness : float or None
        Sky surface brightness, mag/arcsec^2.
    read_noise : float
        Read-out noise per exposure, e-.
    """

    name: str = "custom"
    pixel_scale: float = bounded(0.08, gt=0)
    num_pix: int = bounded(64, ge=8, le=4096)
    psf_fwhm: float = bounded(0.1, ge=0)
    psf_truncation: float = bounded(5.0, gt=0)
    psf: dict = dataclasses.field(default_factory=lambda: {"kind": "gaussian"})
    magnitude_zero_point: float = 25.0
    exposure_time: object = 1000.0
    num_exposures: int = bounded(1, ge=1)
    background_rms: float | None = bounded(None, ge=0)
    sky_brightness: float | None = None
    read_noise: float = bounded(0.0, ge=0)

    def validate(self, where: str) -> None:
        if self.background_rms is None and self.sky_brightness is None:
            raise DarklensError(f"{where}: give background_rms or sky_brightness")

    @property
    def field_of_view(self) -> float:
        """Side of the image, arcsec."""
        return self.num_pix * self.pixel_scale

    def background_noise(self, exposure_time: float) -> float:
        """Gaussian background rms per pixel (counts/s) for one exposure time (s)."""
        if self.background_rms is not None:
            return self.background_rms
        from lenstronomy.Util import data_util

        sky_cps = data_util.magnitude2cps(self.sky_brightness, self.magnitude_zero_point)
        return float(data_util.bkg_noise(
            self.read_noise, exposure_time, sky_cps, self.pixel_scale, self.num_exposures
        ))


#: preset name -> zero-argument factory returning an :class:`Instrument`
INSTRUMENTS: Registry[Callable[[], Instrument]] = Registry("instrument")


def register_instrument(name: str):
    """Decorator adding a zero-argument factory returning an :class:`Instrument`."""
    return INSTRUMENTS.register(name)


@register_instrument("deeplense-model1")
def deeplense_model1() -> Instrument:
    """DeepLense Model I: 150x150 at 0.05", Gaussian PSF 0.087", rms 0.01, t = 10^U(3, 3.5) s.

    DeepLense worked in arbitrary data units; the zero point 25 fixes what a magnitude means here
    (a 22 mag source gives ~16 counts/s in total, peak pixels of a few 0.1, as in their images).
    The PSF is cut at 4 sigma, as lenstronomy 1.9.2 convolved it (DeepLenseSim lens.py:250 asks
    for 3, which that version ignored).
    """
    return Instrument(
        name="deeplense-model1", pixel_scale=0.05, num_pix=150, psf_fwhm=0.087,
        psf_truncation=4.0, magnitude_zero_point=25.0,
        exposure_time={"loguniform": [1000.0, 10**3.5]}, background_rms=0.01,
    )


@register_instrument("deeplense-model2")
def deeplense_model2() -> Instrument:
    """DeepLense Model II: Euclid VIS as lenstronomy 1.9.2 shipped it, 64x64.

    0.101" pixels, Gaussian seeing 0.16", zero point 24.0, sky 22.35 mag/arcsec^2, 4 x 565 s,
    read noise 4.2 e- (lenstronomy 1.9.2 ``ObservationConfig/Euclid.py``; 1.14 changed VIS to a
    zero point of 25.72, which makes a 20 mag source 4.9x brighter).
    """
    return Instrument(
        name="deeplense-model2", pixel_scale=0.101, num_pix=64, psf_fwhm=0.16,
        psf_truncation=4.0, magnitude_zero_point=24.0, exposure_time=565.0, num_exposures=4,
        sky_brightness=22.35, read_noise=4.2,
    )


@register_instrument("deeplense-model3")
def deeplense_model3() -> Instrument:
    """DeepLense Model III: HST WFC3/F160W as lenstronomy ships it (0.08" pixels, Gaussian PSF
    0.08", zero point 25.96, sky 22.3 mag/arcsec^2, 5400 s, read noise 4 e-), 64x64.

    The DeepLenseSim copy that made Model III is not public; a fork uses lenstronomy's
    ``TDLMC_F160W`` band instead (zero point 25.9463, sky 22.0), 1.3 % fainter.
    """
    return Instrument(
        name="deeplense-model3", pixel_scale=0.08, num_pix=64, psf_fwhm=0.08,
        psf_truncation=4.0, magnitude_zero_point=25.96, exposure_time=5400.0,
        sky_brightness=22.3, read_noise=4.0,
    )


# lenstronomy ObservationConfig classes and their bands; the preset name is survey-band.
_LENSTRONOMY_BANDS = {
    "hst": ("HST", ["WFC3_F160W"]),
    "euclid": ("Euclid", ["VIS", "Y", "J", "H"]),
    "lsst": ("LSST", ["u", "g", "r", "i", "z", "y"]),
    "des": ("DES", ["g", "r", "i", "z", "Y"]),
    "roman": ("Roman", ["F062", "F087", "F106", "F129", "F158", "F184", "F146"]),
    "jwst": ("JWST", ["F115W", "F150W", "F200W", "F277W", "F356W", "F444W"]),
    "ztf": ("ZTF", ["g", "r", "i"]),
}


def _from_lenstronomy(survey: str, cls_name: str, band: str) -> Callable[[], Instrument]:
    def factory() -> Instrument:
        import importlib

        module = importlib.import_module(f"lenstronomy.SimulationAPI.ObservationConfig.{cls_name}")
        obs = getattr(module, cls_name)(band=band, psf_type="GAUSSIAN")
        kw = obs.kwargs_single_band()
        seeing = kw.get("seeing") or kw["pixel_scale"]  # drizzled HST: PSF ~ pixel
        return Instrument(
            name=f"{survey}-{band.lower().replace('_', '-')}",
            pixel_scale=kw["pixel_scale"], num_pix=64, psf_fwhm=seeing,
            magnitude_zero_point=kw["magnitude_zero_point"],
            exposure_time=float(kw["exposure_time"]), num_exposures=int(kw["num_exposures"]),
            sky_brightness=kw["sky_brightness"], read_noise=kw["read_noise"],
        )

    factory.__doc__ = f"lenstronomy's {cls_name} band {band} (Gaussian PSF), 64x64 pixels."
    return factory


for _survey, (_cls, _bands) in _LENSTRONOMY_BANDS.items():
    for _band in _bands:
        register_instrument(f"{_survey}-{_band.lower().replace('_', '-')}")(
            _from_lenstronomy(_survey, _cls, _band)
        )


def resolve_instrument(spec: str | dict, where: str = "instrument") -> Instrument:
    """A preset name, or a mapping of fields (optionally ``base: PRESET`` plus changes)."""
    if isinstance(spec, str):
        return INSTRUMENTS.get(spec, where)()
    if not isinstance(spec, dict):
        raise DarklensError(f"{where}: expected a preset name or a mapping, got {spec!r}")
    spec = dict(spec)
    base = spec.pop("base", None)
    start = dataclasses.asdict(resolve_instrument(base, f"{where}.base")) if base else {}
    start.update(spec)
    if base and "name" not in spec:
        start["name"] = f"{base}+custom" if spec else base
    return from_dict(Instrument, start, where)
