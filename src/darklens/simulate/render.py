"""Render scenes into images with lenstronomy's ImageModel, built once per band.

lenstronomy's LensModel has a fixed list of profiles, while the substructure changes from image
to image (a Poisson number of subhalos, a vortex made of a new profile). :class:`_HaloPlusField`
is a LensModel for the main halo (SIE + SHEAR) whose ray shooting also subtracts the scene's
substructure deflection, and traces rays through the scene's line-of-sight planes when it has
any. The ImageModels (grid, PSF, supersampling, convolution) are therefore built once and
reused, and a substructure costs one compiled or vectorised call per plane instead of one
Python step per profile.
"""

from __future__ import annotations

import numpy as np
from lenstronomy.Data.imaging_data import ImageData
from lenstronomy.ImSim.image_model import ImageModel
from lenstronomy.LensModel.lens_model import LensModel
from lenstronomy.LightModel.light_model import LightModel

from darklens.simulate.config import SimConfig
from darklens.simulate.multiplane import ray_shoot
from darklens.simulate.noise import NOISE_MODELS
from darklens.simulate.psf import build_psf
from darklens.simulate.scene import Scene

__all__ = ["Renderer"]


class _HaloPlusField(LensModel):
    """SIE + SHEAR, plus extra deflections and planes passed as the last element of ``kwargs``.

    ``kwargs = [kw_sie, kw_shear, {"deflectors": [fn, ...], "scene": Scene}]``: deflectors of
    the lens plane (substructure, compensation) and the scene, whose planes and redshifts make
    the ray shooting multi-plane.
    """

    def __init__(self):
        super().__init__(["SIE", "SHEAR"])

    def alpha(self, x, y, kwargs, k=None):
        ax, ay = super().alpha(x, y, kwargs[:2], k=k)
        for fn in kwargs[2]["deflectors"] if len(kwargs) > 2 else ():
            ex, ey = fn(np.asarray(x, float), np.asarray(y, float))
            ax, ay = ax + ex, ay + ey
        return ax, ay

    def ray_shooting(self, x, y, kwargs, k=None):
        scene = kwargs[2].get("scene") if len(kwargs) > 2 else None
        if scene is not None and scene.planes:
            ctx = scene.context
            planes = [(ctx.z_lens, lambda u, v: self.alpha(u, v, kwargs, k=k))]
            planes += [(p.z, p.deflector) for p in scene.planes]
            return ray_shoot(x, y, planes, ctx.z_source, ctx.H0, ctx.Om0)
        ax, ay = self.alpha(x, y, kwargs, k=k)
        return x - ax, y - ay


class Renderer:
    """Renders scenes of one config; keep one per process (the ImageModels are reused).

    Parameters
    ----------
    cfg : SimConfig
        Validated config: bands, supersampling, light kinds and noise settings.

    Notes
    -----
    Pixels are integrated with ``supersampling`` x ``supersampling`` rays and, with
    ``supersampling_convolution`` (the default), the PSF is applied at that resolution before
    the rays are summed into pixels. Convolving the already binned image instead applies the
    PSF without the pixel's own width: a 1-pixel PSF (HST F160W) comes out ~20 % too narrow.
    """

    def __init__(self, cfg: SimConfig):
        self.cfg = cfg
        self.noise = NOISE_MODELS.get(cfg.noise)
        self.subtract_lens_light = cfg.lens_light.get("subtract", False)
        self.lens_model = _HaloPlusField()
        self.models = [self._image_model(band.inst, band.inst.psf_fwhm)
                       for band in cfg.band_list]
        self._fwhm = [band.inst.psf_fwhm for band in cfg.band_list]

    def _psf(self, inst, fwhm: float):
        return build_psf(inst.psf, inst.pixel_scale, self.cfg.supersampling, fwhm,
                         inst.psf_truncation, f"instrument {inst.name}.psf")

    def _image_model(self, inst, fwhm: float) -> ImageModel:
        n, cfg = inst.num_pix, self.cfg
        half = (n - 1) / 2.0
        data = ImageData(
            image_data=np.zeros((n, n)),
            ra_at_xy_0=-half * inst.pixel_scale,
            dec_at_xy_0=-half * inst.pixel_scale,
            transform_pix2angle=np.eye(2) * inst.pixel_scale,
        )
        return ImageModel(
            data, self._psf(inst, fwhm), lens_model_class=self.lens_model,
            source_model_class=LightModel(cfg.source_kind.profiles(cfg.source_options)),
            lens_light_model_class=LightModel(
                cfg.lens_light_kind.profiles(cfg.lens_light_options)),
            kwargs_numerics={"supersampling_factor": cfg.supersampling,
                             "supersampling_convolution": cfg.supersampling_convolution},
        )

    def _use_psf(self, b: int, fwhm: float) -> ImageModel:
        """The band's ImageModel with the scene's PSF width (rebuilt only when it changes)."""
        if fwhm != self._fwhm[b]:
            inst = self.cfg.band_list[b].inst
            self.models[b].update_psf(self._psf(inst, fwhm))
            self._fwhm[b] = fwhm
        model = self.models[b]
        # INTERPOL keeps the first stamp it interpolated; each scene may carry another one
        model.SourceModel.delete_interpol_caches()
        model.LensLightModel.delete_interpol_caches()
        return model

    def model_images(self, scene: Scene, lens_light: bool = True) -> np.ndarray:
        """Noise-free images, shape (bands, num_pix, num_pix), counts/s per pixel (float64).

        With ``lens_light=False`` only the lensed source is drawn.
        """
        extra = [fn for fn in (scene.deflector, scene.compensation) if fn is not None]
        kwargs_lens = scene.kwargs_lens + [{"deflectors": extra, "scene": scene}]
        out = []
        for b, band in enumerate(scene.bands):
            light = lens_light and bool(band.kwargs_lens_light)
            out.append(self._use_psf(b, band.psf_fwhm).image(
                kwargs_lens=kwargs_lens, kwargs_source=band.kwargs_source,
                kwargs_lens_light=band.kwargs_lens_light if light else None,
                lens_light_add=light,
            ))
        return np.stack(out)

    def model_image(self, scene: Scene) -> np.ndarray:
        """Noise-free image of the reference band (counts/s per pixel, float64)."""
        return self.model_images(scene)[0]

    def _lens_light_images(self, scene: Scene) -> np.ndarray:
        return np.stack([
            self._use_psf(b, band.psf_fwhm).lens_surface_brightness(band.kwargs_lens_light)
            for b, band in enumerate(scene.bands)
        ])

    def render(self, scene: Scene, rng_noise: np.random.Generator) -> np.ndarray:
        """Image as stored: float32, with the config's noise model (units: ``noise.units``),
        shape (num_pix, num_pix) for one band and (bands, num_pix, num_pix) for several.

        With ``lens_light.subtract`` the noise-free lens light is taken out again after the
        noise, as a perfect lens-light model would (its noise stays).
        """
        images = self.model_images(scene)
        out = np.stack([self.noise.apply(image, band, rng_noise)
                        for image, band in zip(images, scene.bands, strict=True)])
        if self.subtract_lens_light and scene.kwargs_lens_light:
            out = out - self._lens_light_images(scene)
        out = out.astype(np.float32)
        return out[0] if len(out) == 1 else out
