"""DeepLenseSim's physical set-up, instruments and random draws, in plain Python (the
parameters of the recipes in :mod:`tests.simulate.deeplense_reference`; sources and line
numbers cited there)."""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.constants import G, M_sun, c
from astropy.cosmology import FlatLambdaCDM

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


def _check(kind, model):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    if model not in (1, 2, 3):
        raise ValueError(f"model must be 1, 2 or 3, not {model!r}")
