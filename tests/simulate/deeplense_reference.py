"""Plain-lenstronomy reference of the DeepLenseSim recipes (Models I, II, III).

This module re-implements, with lenstronomy only (no darklens imports), what
``mwt5345/DeepLenseSim`` does, so tests can feed the same drawn values to darklens and to
these functions and compare images pixel by pixel.

Source read (GitHub ``mwt5345/DeepLenseSim``):

* ``deeplense/lens.py`` at commit ``1b7fe07`` (the stored copy; cited as ``lens.py:LINE``);
* ``Model_I/sim_{no_sub,cdm,axion}.py`` at ``9f049a4``;
* ``Model_II/sim_{no_sub,cdm,axion}.py`` at ``d1fbd96``;
* ``Model_III/sim_{no_sub,cdm,axion}.py`` at ``effd599``.

Each recipe is ``DeepLens(...)`` -> ``make_single_halo(1e12)`` -> ``make_no_sub()`` /
``make_old_cdm()`` / ``make_vortex(3e10)`` -> [``set_instrument(...)``] -> source ->
``simple_sim()`` (Model I) or ``simple_sim_2()`` (Models II and III).

Things that cannot be reproduced value for value and are left out on purpose:

* ``DeepLens.__init__`` builds a pyHalo ``CDM`` realization (``lens.py:46``) that draws an
  unknown number of values from numpy's global random state before anything else, and it is
  thrown away (only its astropy cosmology is kept).  Draw order *after* that is reproduced
  by :func:`draw_params`, with a ``numpy.random.Generator`` instead of the global state.
* In the axion scripts all axion masses are drawn once up front
  (``Model_I/sim_axion.py:12``), not per image; :func:`draw_params` draws one per image.
* The Model III instrument: the stored ``lens.py`` (``1b7fe07``) has no ``'hst'`` branch in
  ``set_instrument`` (``lens.py:315-330``), so ``Model_III`` scripts would fail there.  The
  copy of ``lens.py`` in the fork ``Neetha10/DeepLenseSim`` (otherwise identical to upstream
  but for the pyHalo import) has ``HST(band='TDLMC_F160W', psf_type='GAUSSIAN')`` with
  ``seeing`` forced to 0.08 and ``psf_type`` to ``'GAUSSIAN'``; that is the default here,
  ``band='WFC3_F160W'`` is the alternative.

Units: Model I returns photon counts (integers, after ``np.random.poisson``) or, with
``noise='none'``, the noiseless lenstronomy image in counts per unit exposure time.  Models II
and III return electrons per second (lenstronomy ``data_count_unit='e-'``), and what
DeepLenseSim stores is ``image + image`` (twice the noiseless model, ``lens.py:313``); the noise
realisation is computed (``lens.py:312``) and never added.
"""

from __future__ import annotations

import inspect

import numpy as np
from lenstronomy.Data.imaging_data import ImageData
from lenstronomy.Data.psf import PSF
from lenstronomy.ImSim.image_model import ImageModel
from lenstronomy.ImSim.Numerics.numerics import Numerics
from lenstronomy.LensModel.lens_model import LensModel
from lenstronomy.LightModel.light_model import LightModel
from lenstronomy.SimulationAPI.sim_api import SimAPI
from lenstronomy.Util import util

from tests.simulate.deeplense_lens import (
    _source_kwargs,
    lens_kwargs,
    single_plane_equivalent,
)
from tests.simulate.deeplense_physics import (
    EUCLID_VIS_1_9_2,
    GAUSSIAN_CONV_TRUNCATION,
    HST_F160W,
    MODEL1_BACKGROUND_RMS,
    MODEL1_DELTA_PIX,
    MODEL1_FWHM,
    MODEL1_NUM_PIX,
    MODEL1_NUMERICS,
    MODEL1_PSF_TRUNCATION,
    PYHALO_COSMO,
    SIMAPI_NUM_PIX,
    SIMAPI_NUMERICS,
    SOURCE_AMP_MODEL1,
    SOURCE_MAGNITUDE,
    Z_LENS,
    Z_SOURCE,
    Z_SOURCE_CONVENTION,
    _check,
    multiplane_deflection_scale,
)

__all__ = ["deeplense_image", "model1_image", "model2_image", "model3_image"]

# --- Model I -----------------------------------------------------------------------------------
def model1_image(kind, params, rng=None, noise="deeplense"):
    """Model I image (``DeepLens.simple_sim``, ``lens.py:219-277``).

    150 x 150 pixels of 0.05" (``lens.py:231-232``), grid from
    ``make_grid_with_coordtransform(..., subgrid_res=1, inverse=False)`` (``lens.py:237``; RA
    grows with the column index), Gaussian PSF FWHM 0.087" (``lens.py:233``; the PSF's
    ``truncation=3`` of ``lens.py:250`` is ignored by lenstronomy 1.9.2, which convolves with
    ``gaussian_filter(truncate=4)``, see ``GAUSSIAN_CONV_TRUNCATION``), supersampling 1
    (``lens.py:257``), single-plane ``LensModel`` (``lens.py:127``, ``165``, ``185``), source
    Sersic ``amp=20`` (``lens.py:196``).

    Noise (``noise='deeplense'``, ``lens.py:266-270``): ``poisson = N(0,1) * sqrt(|I|/t)``, then
    ``bkg = N(0,1) * 0.01`` (two full-image draws, in that order), ``image_real = t (I +
    poisson + bkg)``, stored image ``= Poisson(clip(image_real, 0))`` in counts: variance in
    counts ``2 t I + t**2 sigma_b**2`` (``2 I / t + sigma_b**2`` in flux units).

    Parameters
    ----------
    kind : {'no_sub', 'cdm', 'axion'}
        Substructure kind.
    params : dict
        Values from :func:`draw_params` (``model=1``); ``exp_time`` is needed for
        ``noise='deeplense'``.
    rng : numpy.random.Generator or numpy.random.RandomState, optional
        Random source for the noise (continue the one used by :func:`draw_params` to keep
        DeepLenseSim's draw order); a fresh ``default_rng()`` if None.
    noise : {'deeplense', 'none'}
        ``'deeplense'``: the stored DeepLenseSim image (int64 counts). ``'none'``: the noiseless
        lenstronomy image (counts per unit exposure time; times ``exp_time`` gives expected
        counts).

    Returns
    -------
    numpy.ndarray
        (150, 150) image.
    """
    _check(kind, 1)
    lens_model_list, kwargs_lens = lens_kwargs(kind, params)
    exp_time = params.get("exp_time", 1.0)
    _, _, ra0, dec0, _, _, pix2angle, _ = util.make_grid_with_coordtransform(
        MODEL1_NUM_PIX,
        MODEL1_DELTA_PIX,
        subgrid_res=1,
        center_ra=0,
        center_dec=0,
        left_lower=False,
        inverse=False,
    )
    data = ImageData(
        image_data=np.zeros((MODEL1_NUM_PIX, MODEL1_NUM_PIX)),
        background_rms=MODEL1_BACKGROUND_RMS,
        exposure_time=exp_time,
        ra_at_xy_0=ra0,
        dec_at_xy_0=dec0,
        transform_pix2angle=pix2angle,
    )
    psf = PSF(
        psf_type="GAUSSIAN",
        fwhm=MODEL1_FWHM,
        pixel_size=MODEL1_DELTA_PIX,
        truncation=MODEL1_PSF_TRUNCATION,
    )
    image_model = ImageModel(
        data,
        psf,
        lens_model_class=LensModel(lens_model_list),
        source_model_class=LightModel(["SERSIC_ELLIPSE"]),
        lens_light_model_class=None,
        kwargs_numerics=_numerics(MODEL1_NUMERICS),
    )
    kwargs_source = _source_kwargs(params, {"amp": SOURCE_AMP_MODEL1})
    image = image_model.image(kwargs_lens, kwargs_source, kwargs_lens_light=None, kwargs_ps=None)
    if noise == "none":
        return image
    if noise != "deeplense":
        raise ValueError(f"noise must be 'deeplense' or 'none', not {noise!r}")
    if "exp_time" not in params:
        raise KeyError("params['exp_time'] is needed for noise='deeplense'")
    rng = np.random.default_rng() if rng is None else rng
    shape = image.shape
    poisson = rng.standard_normal(shape) * np.sqrt(np.abs(image) / exp_time)  # add_poisson
    bkg = rng.standard_normal(shape) * MODEL1_BACKGROUND_RMS  # add_background
    image_real = exp_time * (image + poisson + bkg)
    return rng.poisson(image_real.clip(min=0))


# --- Models II and III -------------------------------------------------------------------------
def _simapi_image(kind, params, kwargs_single_band, stored, lens_mode, cosmo):
    lens_model_list, kwargs_lens = lens_kwargs(kind, params)
    kwargs_source_mag = _source_kwargs(params, {"magnitude": SOURCE_MAGNITUDE})
    if lens_mode == "multiplane":
        kwargs_model = {
            "lens_model_list": lens_model_list,
            "lens_redshift_list": [Z_LENS] * len(lens_model_list),
            "source_light_model_list": ["SERSIC_ELLIPSE"],
            "source_redshift_list": [Z_SOURCE],
            "cosmo": cosmo,
            "z_source_convention": Z_SOURCE_CONVENTION,
            "z_source": Z_SOURCE,
        }
    elif lens_mode == "single_plane_scaled":
        kwargs_model = {
            "lens_model_list": lens_model_list,
            "source_light_model_list": ["SERSIC_ELLIPSE"],
        }
        kwargs_lens = single_plane_equivalent(
            kwargs_lens, lens_model_list, multiplane_deflection_scale(cosmo)
        )
    else:
        raise ValueError(f"unknown lens_mode {lens_mode!r}")
    sim = SimAPI(SIMAPI_NUM_PIX, dict(kwargs_single_band), kwargs_model)  # positional: 1.9 & 1.14
    im_sim = sim.image_model_class(_numerics(SIMAPI_NUMERICS))
    _, kwargs_source, _ = sim.magnitude2amplitude(None, kwargs_source_mag)
    image = im_sim.image(kwargs_lens, kwargs_source, None)
    return image + image if stored else image


def model2_image(kind, params, stored=True, lens_mode="multiplane", cosmo=PYHALO_COSMO):
    """Model II image (Euclid VIS, ``DeepLens.simple_sim_2``, ``lens.py:279-313``).

    ``SimAPI(numpix=64, Euclid VIS as in lenstronomy 1.9.2, kwargs_model)`` with
    ``lens_redshift_list = [0.5, ...]``, ``source_redshift_list = [1.0]``, cosmology pyHalo's
    default, ``z_source_convention = 2.5``, ``z_source = 1.0`` (``lens.py:285-291``); numerics
    ``{'point_source_supersampling_factor': 1}`` (``lens.py:300``, so supersampling 1, Gaussian
    PSF FWHM 0.16", convolution truncated at 4 sigma); source magnitude 20 converted with
    ``magnitude2amplitude`` (``lens.py:306``, zero point 24.0).  Script:
    ``Model_II/sim_*.py:12-18`` (``set_instrument('Euclid')``).

    Parameters
    ----------
    kind : {'no_sub', 'cdm', 'axion'}
        Substructure kind.
    params : dict
        Values from :func:`draw_params` (``model=2``).
    stored : bool
        True: what DeepLenseSim saves, ``image + image`` (``lens.py:313``). False: the model.
    lens_mode : {'multiplane', 'single_plane_scaled'}
        ``'multiplane'`` reproduces DeepLenseSim; ``'single_plane_scaled'`` builds the same image
        from a single-plane lens with deflections times :func:`multiplane_deflection_scale`.
    cosmo : astropy.cosmology.FLRW
        SimAPI cosmology (default pyHalo's default).

    Returns
    -------
    numpy.ndarray
        (64, 64) image in e-/s; no noise.
    """
    _check(kind, 2)
    return _simapi_image(kind, params, EUCLID_VIS_1_9_2, stored, lens_mode, cosmo)


def model3_image(
    kind, params, stored=True, band="TDLMC_F160W", lens_mode="multiplane", cosmo=PYHALO_COSMO
):
    """Model III image (HST F160W, ``simple_sim_2`` after ``set_instrument('hst')``).

    Same as :func:`model2_image` (``Model_III/sim_*.py:12-18``) with the HST F160W settings of
    ``HST_F160W[band]``: pixel 0.08", Gaussian PSF FWHM 0.08", zero point 25.9463
    (``TDLMC_F160W``, the default; see the module docstring for why this is unverified) or 25.96
    (``WFC3_F160W``).  Only the zero point, pixel scale and seeing matter: no noise is added.

    Parameters
    ----------
    kind : {'no_sub', 'cdm', 'axion'}
        Substructure kind.
    params : dict
        Values from :func:`draw_params` (``model=3``).
    stored : bool
        True: ``image + image`` as stored; False: the model.
    band : {'TDLMC_F160W', 'WFC3_F160W'}
        lenstronomy HST band.
    lens_mode : {'multiplane', 'single_plane_scaled'}
        See :func:`model2_image`.
    cosmo : astropy.cosmology.FLRW
        SimAPI cosmology.

    Returns
    -------
    numpy.ndarray
        (64, 64) image in e-/s; no noise.
    """
    _check(kind, 3)
    return _simapi_image(kind, params, HST_F160W[band], stored, lens_mode, cosmo)


def deeplense_image(model, kind, params, rng=None, **kwargs):
    """Dispatch to :func:`model1_image`, :func:`model2_image` or :func:`model3_image`.

    Parameters
    ----------
    model : {1, 2, 3}
        DeepLense model.
    kind : {'no_sub', 'cdm', 'axion'}
        Substructure kind.
    params : dict
        Values from :func:`draw_params`.
    rng : numpy.random.Generator, optional
        Noise source (Model I only).
    **kwargs
        Passed to the model function.

    Returns
    -------
    numpy.ndarray
        The image.
    """
    if model == 1:
        return model1_image(kind, params, rng=rng, **kwargs)
    if model == 2:
        return model2_image(kind, params, **kwargs)
    if model == 3:
        return model3_image(kind, params, **kwargs)
    raise ValueError(f"model must be 1, 2 or 3, not {model!r}")


def _numerics(base):
    """Kwargs_numerics with the 1.9.2 Gaussian convolution truncation where settable."""
    kwargs = dict(base)
    if "truncation_conv" in inspect.signature(Numerics.__init__).parameters:
        kwargs["truncation_conv"] = GAUSSIAN_CONV_TRUNCATION
    return kwargs
