"""Render scenes into images with lenstronomy's ImageModel, built once per instrument.

lenstronomy's LensModel has a fixed list of profiles, while the substructure changes from image
to image (a Poisson number of subhalos, a vortex made of a new profile). :class:`_HaloPlusField`
is a LensModel for the main halo (SIE + SHEAR) whose ray shooting also subtracts the scene's
substructure deflection. The ImageModel (grid, PSF, supersampling, convolution) is therefore
built once and reused, and a substructure costs one compiled or vectorised call instead of one
Python step per profile.
"""

from __future__ import annotations

import numpy as np
from lenstronomy.Data.imaging_data import ImageData
from lenstronomy.Data.psf import PSF
from lenstronomy.ImSim.image_model import ImageModel
from lenstronomy.LensModel.lens_model import LensModel
from lenstronomy.LightModel.light_model import LightModel

from darklens.simulate.config import SimConfig
from darklens.simulate.scene import Scene

__all__ = ["Renderer", "add_noise"]


class _HaloPlusField(LensModel):
    """SIE + SHEAR, plus an extra deflection passed as the last element of ``kwargs``.

    ``kwargs = [kw_sie, kw_shear, {"deflector": fn_or_None}]``.
    """

    def __init__(self):
        super().__init__(["SIE", "SHEAR"])

    def alpha(self, x, y, kwargs, k=None):
        ax, ay = super().alpha(x, y, kwargs[:2], k=k)
        fn = kwargs[2]["deflector"] if len(kwargs) > 2 else None
        if fn is None:
            return ax, ay
        ex, ey = fn(np.asarray(x, float), np.asarray(y, float))
        return ax + ex, ay + ey

    def ray_shooting(self, x, y, kwargs, k=None):
        ax, ay = self.alpha(x, y, kwargs, k=k)
        return x - ax, y - ay


def add_noise(image: np.ndarray, exposure_time: float, background_rms: float,
              rng: np.random.Generator) -> np.ndarray:
    """Poisson noise on the source counts plus Gaussian background.

    Parameters
    ----------
    image : ndarray
        Noise-free image, counts/s per pixel.
    exposure_time : float
        Total exposure, s; the counts ``image * exposure_time`` are Poisson distributed.
    background_rms : float
        Gaussian rms per pixel, counts/s (sky + read-out, or a fixed level).
    rng : numpy.random.Generator
        The image's noise stream.

    Returns
    -------
    ndarray
        Noisy image, counts/s; variance = max(image, 0) / exposure_time + background_rms^2.
    """
    counts = rng.poisson(np.clip(image, 0.0, None) * exposure_time)
    noisy = counts / exposure_time + rng.normal(0.0, background_rms, size=image.shape)
    # the model can dip below zero only through numerics; keep its signed part
    return noisy + np.minimum(image, 0.0)


class Renderer:
    """Renders scenes of one config; keep one per process (the ImageModel is reused).

    Parameters
    ----------
    cfg : SimConfig
        Validated config: instrument, supersampling, lens light and noise settings.
    """

    def __init__(self, cfg: SimConfig):
        inst = cfg.inst
        self.noise = cfg.noise
        n, s = inst.num_pix, cfg.supersampling
        half = (n - 1) / 2.0
        data = ImageData(
            image_data=np.zeros((n, n)),
            ra_at_xy_0=-half * inst.pixel_scale,
            dec_at_xy_0=-half * inst.pixel_scale,
            transform_pix2angle=np.eye(2) * inst.pixel_scale,
        )
        if inst.psf_fwhm > 0:
            psf = PSF(psf_type="GAUSSIAN", fwhm=inst.psf_fwhm, truncation=5)
        else:
            psf = PSF(psf_type="NONE")
        self.lens_model = _HaloPlusField()
        self.model = ImageModel(
            data, psf, lens_model_class=self.lens_model,
            source_model_class=LightModel(["SERSIC_ELLIPSE"]),
            lens_light_model_class=LightModel(["SERSIC_ELLIPSE"] if cfg.lens_light else []),
            kwargs_numerics={"supersampling_factor": s, "supersampling_convolution": False},
        )

    def model_image(self, scene: Scene) -> np.ndarray:
        """Noise-free image (counts/s per pixel, float64)."""
        kwargs_lens = scene.kwargs_lens + [{"deflector": scene.deflector}]
        return self.model.image(
            kwargs_lens=kwargs_lens, kwargs_source=scene.kwargs_source,
            kwargs_lens_light=scene.kwargs_lens_light or None,
            lens_light_add=bool(scene.kwargs_lens_light),
        )

    def render(self, scene: Scene, rng_noise: np.random.Generator) -> np.ndarray:
        """Image as stored: float32, with noise unless the config switched it off."""
        image = self.model_image(scene)
        if self.noise:
            image = add_noise(image, scene.exposure_time, scene.background_rms, rng_noise)
        return image.astype(np.float32)
