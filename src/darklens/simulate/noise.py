"""Noise models: how a noise-free image (counts/s) becomes the stored one, one entry each.

``noise:`` in a simulation config names one (``true`` and ``false`` mean ``poisson_gaussian``
and ``none``). Each declares the units of what it stores; datasets record them as the
``image_units`` attribute. The DeepLense entries reproduce DeepLenseSim exactly, including
what it did by accident, so that its published numbers can be compared like for like.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from darklens.registry import Registry

__all__ = ["NOISE_MODELS", "NoiseModel", "add_noise"]


@dataclass(frozen=True)
class NoiseModel:
    """``apply(image counts/s, scene, rng) -> stored image``, the stored ``units``, and whether
    it adds noise (``noisy``: a model's exposure then sets its images' noise level)."""

    apply: Callable
    units: str
    noisy: bool = True


#: ``noise`` -> :class:`NoiseModel`
NOISE_MODELS: Registry[NoiseModel] = Registry("noise model")


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


NOISE_MODELS.register("poisson_gaussian", NoiseModel(
    lambda image, scene, rng: add_noise(image, scene.exposure_time, scene.background_rms, rng),
    "counts/s"))
NOISE_MODELS.register("none", NoiseModel(lambda image, scene, rng: image, "counts/s", False))


def deeplense_model1_noise(image: np.ndarray, exposure_time: float, background_rms: float,
                           rng: np.random.Generator) -> np.ndarray:
    """DeepLense Model I's noise (``lens.py:266-270``), stored in counts.

    A Gaussian approximation of Poisson noise ``N(0, 1) sqrt(|I| / t)`` and a Gaussian
    background ``N(0, 1) sigma_b`` (two full-image draws, in this order), the sum times the
    exposure time, clipped at 0, then a Poisson draw: the noise is applied twice (variance
    ``2 t I + t^2 sigma_b^2`` counts) and the clip leaves empty pixels a floor of about
    ``0.4 sigma_b t`` counts.

    Parameters
    ----------
    image : ndarray
        Noise-free image, counts/s.
    exposure_time : float
        Exposure time, s.
    background_rms : float
        Gaussian background per pixel, counts/s (0.01 in DeepLense).
    rng : numpy.random.Generator
        The image's noise stream.

    Returns
    -------
    ndarray
        Integer counts (as float).
    """
    poisson = rng.standard_normal(image.shape) * np.sqrt(np.abs(image) / exposure_time)
    background = rng.standard_normal(image.shape) * background_rms
    counts = exposure_time * (image + poisson + background)
    return rng.poisson(counts.clip(min=0)).astype(float)


NOISE_MODELS.register("deeplense_model1", NoiseModel(
    lambda image, scene, rng: deeplense_model1_noise(image, scene.exposure_time,
                                                    scene.background_rms, rng),
    "counts"))
# DeepLense Models II/III compute the noise but store image_model + image_model (lens.py:311-313)
NOISE_MODELS.register("deeplense_noiseless_x2",
                      NoiseModel(lambda image, scene, rng: 2.0 * image, "counts/s", False))
