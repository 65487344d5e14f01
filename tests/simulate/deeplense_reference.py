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
from astropy import units as u
from astropy.constants import G, M_sun, c
from astropy.cosmology import FlatLambdaCDM
from lenstronomy.Data.imaging_data import ImageData
from lenstronomy.Data.psf import PSF
from lenstronomy.ImSim.image_model import ImageModel
from lenstronomy.ImSim.Numerics.numerics import Numerics
from lenstronomy.LensModel.lens_model import LensModel
from lenstronomy.LightModel.light_model import LightModel
from lenstronomy.SimulationAPI.sim_api import SimAPI
from lenstronomy.Util import util

__all__ = [
    "KINDS",
    "Z_LENS",
    "Z_SOURCE",
    "Z_SOURCE_CONVENTION",
    "HALO_MASS",
    "VORTEX_MASS",
    "EUCLID_VIS_1_9_2",
    "HST_F160W",
    "PYHALO_COSMO",
    "deeplense_theta_e",
    "axion_half_length",
    "multiplane_deflection_scale",
    "subhalo_masses_from_uniform",
    "draw_params",
    "lens_kwargs",
    "single_plane_equivalent",
    "model1_image",
    "model2_image",
    "model3_image",
    "deeplense_image",
]

KINDS = ("no_sub", "cdm", "axion")

# --- physical set-up -------------------------------------------------------------------------
Z_LENS = 0.5  # DeepLens(z_halo=0.5), lens.py:37
Z_SOURCE = 1.0  # DeepLens(z_gal=1.0), lens.py:37; 'z_source': 1.0 in simple_sim_2, lens.py:291
Z_SOURCE_CONVENTION = 2.5  # 'z_source_convention': 2.5, lens.py:290
HALO_MASS = 1e12  # lens.make_single_halo(1e12), Model_*/sim_*.py (e.g. Model_I/sim_cdm.py:13)
VORTEX_MASS = 3e10  # lens.make_vortex(3e10), Model_I/sim_axion.py:17, Model_II/sim_axion.py:17
VORTEX_RES = 100  # make_vortex(..., res=100), lens.py:131
# mass_to_radius cosmology: DeepLens(H0=70, Om0=0.3, Ob0=0.05) defaults, lens.py:37, used lens.py:87
MASS_TO_RADIUS_COSMO = {"H0": 70.0, "Om0": 0.3, "Ob0": 0.05}
RAD_TO_ARCSEC = 206265  # lens.py:84 (rounded, not 180*3600/pi)

# SimAPI cosmology (Models II/III): pyHalo's CDM(...).astropy_instance (lens.py:46-47), i.e.
# pyHalo's default FlatLambdaCDM.  Every pyHalo release on PyPI with preset_models (0.2.0 ..
# 1.2.0 checked) uses the Planck-2018 defaults of pyHalo/defaults.py (CosmoDefaults):
# H0 = 67.5, Ob0 = 0.049, omega_DM = 0.26, Om0 = Ob0 + omega_DM = 0.309 (Tcmb0 = 0).
# (Older pyHalo git versions used WMAP9: H0 69.7, Ob0 0.0464, Om0 0.2814.)
PYHALO_COSMO = FlatLambdaCDM(H0=67.5, Om0=0.049 + 0.26, Ob0=0.049)

# SIE and shear: lens.py:112-114; e1 = 0.1, e2 = 0 -> q = 0.9/1.1 = 0.818, phi = 0.
SIE_E1, SIE_E2 = 0.1, 0.0
SHEAR_GAMMA1, SHEAR_GAMMA2 = 0.05, 0.0

# Source Sersic: lens.py:196-197 (amp, Model I) and lens.py:210-211 (magnitude, II/III):
# R 0.25", n 1, e1 -0.1, e2 0.1 -> q = 0.752, phi = 3*pi/8 = 1.178 rad.
SOURCE_R_SERSIC = 0.25
SOURCE_N_SERSIC = 1.0
SOURCE_E1, SOURCE_E2 = -0.1, 0.1
SOURCE_AMP_MODEL1 = 20.0  # lens.py:196
SOURCE_MAGNITUDE = 20.0  # lens.py:210
SOURCE_CENTER_RANGE = (-0.35, 0.35)  # np.random.uniform(-0.35, 0.35, 2), lens.py:193 / 207

# CDM: draw_old_cdm_sub_masses(m_sub_min=1e6, m_sub_max=1e10, n_sub=25, beta=-0.9), lens.py:52
CDM_M_MIN, CDM_M_MAX, CDM_N_SUB, CDM_BETA = 1e6, 1e10, 25, -0.9
CDM_R_RANGE = (0.25, 2.0)  # r = np.random.uniform(0.25, 2.0), lens.py:179

# Axion mass prior: 10**np.random.uniform(-24, -22, num_sim), Model_I/sim_axion.py:12
LOG10_M_AXION_RANGE = (-24.0, -22.0)

# --- Model I instrument (simple_sim, lens.py:219-277) -----------------------------------------
MODEL1_NUM_PIX = 150  # lens.py:231
MODEL1_DELTA_PIX = 0.05  # lens.py:232
MODEL1_FWHM = 0.087  # lens.py:233
MODEL1_PSF_TRUNCATION = 3  # lens.py:250
MODEL1_BACKGROUND_RMS = 1e-2  # lens.py:229
MODEL1_LOG10_EXP_TIME_RANGE = (3.0, 3.5)  # exp_time = 10**np.random.uniform(3, 3.5), lens.py:230
MODEL1_NUMERICS = {"supersampling_factor": 1, "supersampling_convolution": False}  # lens.py:257
# Convolution truncation.  lenstronomy 1.9.2 convolves a GAUSSIAN psf with
# scipy.ndimage.gaussian_filter(truncate=4) from Numerics(truncation=4) (ImSim/Numerics/
# numerics.py:19, 95-96) and ignores the PSF's truncation=3 of lens.py:250; 1.14.2 uses the PSF
# truncation unless kwargs_numerics['truncation_conv'] is set.  For Model I (sigma = 0.739 px)
# 3 vs 4 changes the filter radius from 2 to 3 px (max relative change 2.6e-4), so 4 is pinned
# here.  For Models II/III both give the same radius (3 px Euclid, 2 px HST).
GAUSSIAN_CONV_TRUNCATION = 4

# --- Models II / III instrument (simple_sim_2, lens.py:279-313) --------------------------------
SIMAPI_NUM_PIX = 64  # numpix = 64, lens.py:295
SIMAPI_NUMERICS = {"point_source_supersampling_factor": 1}  # lens.py:300 (supersampling 1)

# Euclid(band='VIS', psf_type='GAUSSIAN', coadd_years=6).kwargs_single_band() (lens.py:327) as
# lenstronomy 1.9.2 ships it (SimulationAPI/ObservationConfig/Euclid.py:9-14, 48-51).
# lenstronomy 1.14.2 changed these (566 s, sky 22.3, zero point 25.72), so they are frozen here.
EUCLID_VIS_1_9_2 = {
    "read_noise": 4.2,
    "pixel_scale": 0.101,
    "ccd_gain": 3.1,
    "exposure_time": 565.0,
    "sky_brightness": 22.35,
    "magnitude_zero_point": 24.0,
    "num_exposures": 4,
    "seeing": 0.16,
    "psf_type": "GAUSSIAN",
}

# HST(band=..., psf_type='GAUSSIAN').kwargs_single_band() (lenstronomy HST.py, identical in
# 1.9.2 and 1.14.2), with seeing forced to 0.08 and psf_type to GAUSSIAN as in the fork's
# set_instrument('hst') (see module docstring).  Camera: read noise 4, pixel 0.08", gain 2.5.
_HST_CAMERA = {"read_noise": 4, "pixel_scale": 0.08, "ccd_gain": 2.5}
HST_F160W = {
    "TDLMC_F160W": {
        **_HST_CAMERA,
        "exposure_time": 5400.0,
        "sky_brightness": 22.0,
        "magnitude_zero_point": 25.9463,
        "num_exposures": 1,
        "seeing": 0.08,
        "psf_type": "GAUSSIAN",
    },
    "WFC3_F160W": {
        **_HST_CAMERA,
        "exposure_time": 5400.0,
        "sky_brightness": 22.3,
        "magnitude_zero_point": 25.96,
        "num_exposures": 1,
        "seeing": 0.08,
        "psf_type": "GAUSSIAN",
    },
}


# --- small physics helpers ---------------------------------------------------------------------
def deeplense_theta_e(mass, z_lens=Z_LENS, z_source=Z_SOURCE, cosmo_kwargs=None):
    """Einstein radius (arcsec) of a point mass, the DeepLenseSim way.

    Reproduces ``DeepLens.mass_to_radius`` (``lens.py:68-102``): *luminosity* distances
    ``D_L``, ``D_S`` (``lens.py:89``, ``lens.py:92``), ``D_LS = D_S - D_L`` (``lens.py:95``),
    ``theta = sqrt(4 G M / c^2 * D_LS / (D_L D_S))`` (``lens.py:98``) times 206265
    (``lens.py:84``), in ``FlatLambdaCDM(H0=70, Om0=0.3, Ob0=0.05)`` (``lens.py:37, 87``).
    It is used both for the main SIE (``lens.py:111``) and every point mass (``lens.py:139``,
    ``lens.py:173``).  ``deeplense_theta_e(1e12) = 1.28149``; proper angular-diameter
    distances would give 1.6645".

    Parameters
    ----------
    mass : float or array_like
        Mass in solar masses.
    z_lens, z_source : float
        Redshifts (DeepLens defaults 0.5 and 1.0).
    cosmo_kwargs : dict, optional
        ``FlatLambdaCDM`` arguments; default ``H0=70, Om0=0.3, Ob0=0.05``.

    Returns
    -------
    float or numpy.ndarray
        Einstein radius in arcsec.
    """
    cosmo = FlatLambdaCDM(**(cosmo_kwargs or MASS_TO_RADIUS_COSMO))
    d_l = cosmo.luminosity_distance(z_lens).to(u.m)
    d_s = cosmo.luminosity_distance(z_source).to(u.m)
    d_ls = d_s - d_l
    theta = np.sqrt(4 * G * (np.asarray(mass) * M_sun) / c**2 * d_ls / (d_l * d_s))
    return (theta * RAD_TO_ARCSEC).value


def axion_half_length(m_axion):
    """Half-length (arcsec) of the vortex chain for an axion mass in eV.

    ``axion_mass_to_length(m) = axion_length_to_mass(m) = 0.06 / (2 m) * 1e-22``
    (``lens.py:17-25``), used as ``de_Broglie`` (``lens.py:141``) and the chain spans
    ``np.linspace(-de_Broglie, de_Broglie, 100)`` (``lens.py:143``): the *full* length is
    ``2 L = 0.06" * (1e-22 eV / m_a)``.

    Parameters
    ----------
    m_axion : float
        Axion mass in eV.

    Returns
    -------
    float
        ``L = 0.03 * 1e-22 / m_axion`` arcsec.
    """
    return 0.06 * np.power(2 * float(m_axion), -1) * 1e-22


def multiplane_deflection_scale(
    cosmo=PYHALO_COSMO, z_lens=Z_LENS, z_source=Z_SOURCE, z_convention=Z_SOURCE_CONVENTION
):
    """Factor by which ``simple_sim_2``'s multi-plane set-up scales every deflection.

    ``simple_sim_2`` passes ``lens_redshift_list`` (so lenstronomy's ``ModelAPI`` switches to
    multi-plane) with ``z_source_convention=2.5`` and the source at ``z=1`` (``lens.py:285-291``).
    The lens kwargs are then *reduced* deflections for a source at 2.5, and the ray reaching
    ``z=1`` is deflected by ``alpha * [D_ls(1)/D_s(1)] / [D_ls(2.5)/D_s(2.5)]``
    (angular-diameter distances in the SimAPI cosmology).  For pyHalo's default cosmology this
    is 0.633458 (0.634315 for WMAP9, 0.633738 for H0=70/Om0=0.3); lenstronomy 1.9.2 and 1.14.2
    ray-trace exactly this.

    Parameters
    ----------
    cosmo : astropy.cosmology.FLRW
        Cosmology of the SimAPI (default: pyHalo's default, see ``PYHALO_COSMO``).
    z_lens, z_source, z_convention : float
        Lens, source and convention redshifts.

    Returns
    -------
    float
        The deflection scale factor.
    """

    def dist(z1, z2):
        return cosmo.angular_diameter_distance_z1z2(z1, z2).value

    return (dist(z_lens, z_source) / dist(0.0, z_source)) / (
        dist(z_lens, z_convention) / dist(0.0, z_convention)
    )


def subhalo_masses_from_uniform(uniforms, m_min=CDM_M_MIN, m_max=CDM_M_MAX, beta=CDM_BETA):
    """Map U(0, 1) values to subhalo masses, p(m) proportional to m**beta on [m_min, m_max].

    ``(m_min**(b+1) + (m_max**(b+1) - m_min**(b+1)) * u) ** (1/(b+1))`` with ``b = -0.9``
    (``lens.py:52, 63-65``).  The docstring of ``make_old_cdm`` says beta = -1.9
    (``lens.py:170``); the code uses -0.9.

    Parameters
    ----------
    uniforms : array_like
        Values in [0, 1).
    m_min, m_max, beta : float
        Mass range (M_sun) and slope.

    Returns
    -------
    numpy.ndarray
        Masses in M_sun.
    """
    lo, hi = m_min ** (beta + 1), m_max ** (beta + 1)
    return (lo + (hi - lo) * np.asarray(uniforms, dtype=float)) ** (1.0 / (beta + 1.0))


# --- random draws --------------------------------------------------------------------------------
def draw_params(kind, rng, model=1, axion_mass=None):
    """Draw one image's random values in DeepLenseSim's order.

    Order after ``DeepLens.__init__`` (whose pyHalo draws are not reproduced):

    1. axion only: ``axion_mass = 10**U(-24, -22)`` eV (``Model_I/sim_axion.py:12``; the script
       draws all masses up front, pass ``axion_mass`` to use such a value);
       ``vortex_angle = 2 pi U[0, 1)`` (``lens.py:147``).
    2. cdm only: ``n = Poisson(25)``, drawn and never used (``lens.py:62``), then 25 uniforms
       for the masses (``lens.py:63``; fixed N = 25), then per subhalo ``r ~ U(0.25, 2)``
       followed by ``theta ~ U(0, 2 pi)`` (``lens.py:179``): uniform in radius, not area.
    3. source centre ``(x, y) ~ U(-0.35, 0.35)`` (``lens.py:193`` / ``207``).
    4. Model I only: ``exp_time = 10**U(3, 3.5)`` (``lens.py:230``).

    The noise of Model I is drawn afterwards, in :func:`model1_image`.

    Parameters
    ----------
    kind : {'no_sub', 'cdm', 'axion'}
        Substructure kind.
    rng : numpy.random.Generator or numpy.random.RandomState
        Random source.
    model : {1, 2, 3}
        DeepLense model (only Model I draws an exposure time).
    axion_mass : float, optional
        Use this axion mass (eV) instead of drawing one.

    Returns
    -------
    dict
        Keys ``source_x``, ``source_y``; ``exp_time`` (Model I); ``axion_mass``,
        ``vortex_angle`` (axion); ``sub_masses``, ``sub_r``, ``sub_theta``,
        ``n_sub_poisson_unused`` (cdm).
    """
    _check(kind, model)
    params = {}
    if kind == "axion":
        if axion_mass is None:
            axion_mass = 10 ** rng.uniform(*LOG10_M_AXION_RANGE)
        params["axion_mass"] = float(axion_mass)
        params["vortex_angle"] = 2 * np.pi * rng.random()
    elif kind == "cdm":
        params["n_sub_poisson_unused"] = int(rng.poisson(CDM_N_SUB))
        params["sub_masses"] = subhalo_masses_from_uniform(rng.uniform(0, 1, size=CDM_N_SUB))
        r, theta = np.empty(CDM_N_SUB), np.empty(CDM_N_SUB)
        for i in range(CDM_N_SUB):
            r[i], theta[i] = rng.uniform(*CDM_R_RANGE), rng.uniform(0, 2 * np.pi)
        params["sub_r"], params["sub_theta"] = r, theta
    centre = rng.uniform(*SOURCE_CENTER_RANGE, 2)
    params["source_x"], params["source_y"] = float(centre[0]), float(centre[1])
    if model == 1:
        params["exp_time"] = float(10 ** rng.uniform(*MODEL1_LOG10_EXP_TIME_RANGE))
    return params


# --- lens and source -----------------------------------------------------------------------------
def lens_kwargs(kind, params):
    """Lens model list and kwargs exactly as DeepLenseSim builds them.

    ``['SIE', 'SHEAR']`` with ``theta_E = deeplense_theta_e(1e12)``, ``e1 = 0.1``, ``e2 = 0``,
    centre (0, 0), ``gamma1 = 0.05``, ``gamma2 = 0`` (``lens.py:111-116``), then:

    * axion: 100 ``POINT_MASS`` of 3e8 M_sun each (``lens.py:136-139``) at
      ``c_i cos(ang), c_i sin(ang)``, ``c = linspace(-L, L, 100)`` (end points included), centre
      (0, 0) (``lens.py:141-163``);
    * cdm: 25 ``POINT_MASS`` at ``x = r sin(theta)``, ``y = r cos(theta)`` (``lens.py:180``) with
      masses from :func:`subhalo_masses_from_uniform`; no rescaling of the total mass.

    Every point mass has ``theta_E = deeplense_theta_e(m)`` (``lens.py:139``, ``lens.py:173``).

    Parameters
    ----------
    kind : {'no_sub', 'cdm', 'axion'}
        Substructure kind.
    params : dict
        Values from :func:`draw_params` (``axion_mass``, ``vortex_angle`` or ``sub_masses``,
        ``sub_r``, ``sub_theta``).

    Returns
    -------
    lens_model_list : list of str
    kwargs_lens : list of dict
    """
    _check(kind, 1)
    theta_e = float(deeplense_theta_e(HALO_MASS))
    lens_model_list = ["SIE", "SHEAR"]
    kwargs_lens = [
        {"theta_E": theta_e, "e1": SIE_E1, "e2": SIE_E2, "center_x": 0.0, "center_y": 0.0},
        {"gamma1": SHEAR_GAMMA1, "gamma2": SHEAR_GAMMA2},
    ]
    if kind == "axion":
        theta_pm = deeplense_theta_e(VORTEX_MASS / VORTEX_RES * np.ones(VORTEX_RES))
        coords = np.linspace(
            -axion_half_length(params["axion_mass"]),
            axion_half_length(params["axion_mass"]),
            VORTEX_RES,
        )
        ang = params["vortex_angle"]
        xs, ys = coords * np.cos(ang) - 0.0, coords * np.sin(ang) - 0.0
        for te, x, y in zip(theta_pm, xs, ys, strict=True):
            lens_model_list.append("POINT_MASS")
            kwargs_lens.append({"theta_E": float(te), "center_x": float(x), "center_y": float(y)})
    elif kind == "cdm":
        theta_pm = deeplense_theta_e(np.asarray(params["sub_masses"], dtype=float))
        xs = np.asarray(params["sub_r"]) * np.sin(params["sub_theta"])
        ys = np.asarray(params["sub_r"]) * np.cos(params["sub_theta"])
        for te, x, y in zip(theta_pm, xs, ys, strict=True):
            lens_model_list.append("POINT_MASS")
            kwargs_lens.append({"theta_E": float(te), "center_x": float(x), "center_y": float(y)})
    return lens_model_list, kwargs_lens


def single_plane_equivalent(kwargs_lens, lens_model_list, scale):
    """Single-plane kwargs whose deflections are ``scale`` times the given ones.

    Used to show that the multi-plane ``simple_sim_2`` equals a single-plane lens with every
    deflection multiplied by :func:`multiplane_deflection_scale`: SIE ``theta_E * s``, shear
    ``gamma * s`` and point mass ``theta_E * sqrt(s)`` (its deflection goes as theta_E**2).

    Parameters
    ----------
    kwargs_lens : list of dict
        Kwargs from :func:`lens_kwargs`.
    lens_model_list : list of str
        Matching model names (``SIE``, ``SHEAR``, ``POINT_MASS``).
    scale : float
        Deflection scale factor.

    Returns
    -------
    list of dict
        New kwargs (inputs are not modified).
    """
    out = []
    for name, kw in zip(lens_model_list, kwargs_lens, strict=True):
        kw = dict(kw)
        if name == "SIE":
            kw["theta_E"] *= scale
        elif name == "SHEAR":
            kw["gamma1"] *= scale
            kw["gamma2"] *= scale
        elif name == "POINT_MASS":
            kw["theta_E"] *= np.sqrt(scale)
        else:
            raise ValueError(f"no deflection scaling rule for {name}")
        out.append(kw)
    return out


def _source_kwargs(params, brightness):
    return [
        {
            **brightness,
            "R_sersic": SOURCE_R_SERSIC,
            "n_sersic": SOURCE_N_SERSIC,
            "e1": SOURCE_E1,
            "e2": SOURCE_E2,
            "center_x": float(params["source_x"]),
            "center_y": float(params["source_y"]),
        }
    ]


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


def _check(kind, model):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if model not in (1, 2, 3):
        raise ValueError(f"model must be 1, 2 or 3, not {model!r}")
