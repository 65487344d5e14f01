"""Every physical parameter of a darklens scene, declared once.

A :class:`Parameter` carries the name used everywhere (config key, HDF5 variable, training
target), its unit, a readable description, its physical bounds and its default prior. Config
validation, priors, dataset attributes and plot labels all read this table; nothing else
repeats a unit or a bound.

Parameters with ``derived=True`` are computed from the others while a scene is built (the
Einstein radius from the halo mass, the number of subhalos actually drawn ...): they are stored
in datasets and can be regressed, but cannot be given a prior.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from darklens.registry import Registry

__all__ = ["PARAMETERS", "Parameter", "band_name", "declare", "get", "known", "label",
           "with_units"]

PI = math.pi


@dataclass(frozen=True)
class Parameter:
    """Declaration of one scalar parameter.

    Attributes
    ----------
    name : str
        Identifier used in configs, datasets and as a training target.
    units : str
        Unit string as written to dataset attributes ("" for dimensionless).
    long_name : str
        Human description, used as the ``long_name`` attribute and in plot labels.
    low, high : float
        Closed physical bounds; every value a prior can produce must lie inside them.
    default : object
        Default prior specification (see :mod:`darklens.simulate.priors`); ``None`` for derived.
    derived : bool
        Computed while building the scene rather than drawn from a prior.
    integer : bool
        Stored as int64 (counts).
    per_band : bool
        A template: each band but the reference one has its own ``<name>_<band>`` parameter
        (a colour), with these units, bounds and default.
    """

    name: str
    units: str
    long_name: str
    low: float = -math.inf
    high: float = math.inf
    default: object = None
    derived: bool = False
    integer: bool = False
    per_band: bool = False

    @property
    def label(self) -> str:
        """Axis label such as ``'Einstein radius [arcsec]'``."""
        return f"{self.long_name} [{self.units}]" if self.units else self.long_name


PARAMETERS: Registry[Parameter] = Registry("parameter")


def declare(*params: Parameter) -> None:
    """Add parameters to the table; a name may be declared only once."""
    for p in params:
        PARAMETERS.register(p.name, p)


def band_name(template: str, band: str) -> str:
    """Name of a per-band parameter: ``band_name("source_color", "euclid_y")``."""
    return f"{template}_{band}"


def _per_band(name: str) -> Parameter | None:
    for p in PARAMETERS.values():
        if p.per_band and name.startswith(p.name + "_") and len(name) > len(p.name) + 1:
            band = name[len(p.name) + 1:]
            return dataclasses.replace(p, name=name, long_name=f"{p.long_name}, band {band}",
                                       per_band=False)
    return None


def known(name: str) -> bool:
    """Whether ``name`` is a declared parameter or a band's copy of a per-band one."""
    return name in PARAMETERS or _per_band(name) is not None


def get(name: str, where: str = "") -> Parameter:
    """Look a parameter up by name (an unknown name raises the one-line error)."""
    if name not in PARAMETERS:
        return _per_band(name) or PARAMETERS.get(name, where)
    return PARAMETERS.get(name, where)


def label(name: str) -> str:
    """Axis or table label of a variable: ``'Einstein radius [arcsec]'`` for a declared
    parameter, the bare name for anything else (a derived column, a user's variable)."""
    return get(name).label if known(name) else name


def with_units(name: str) -> str:
    """Table heading of a variable: ``'theta_E [arcsec]'``; the bare name without units."""
    units = get(name).units if known(name) else ""
    return f"{name} [{units}]" if units else name


# --- the main lens: halo, external shear, redshifts --------------------------------------
declare(
    Parameter("z_lens", "", "lens redshift", 1e-3, 10.0, default=0.5),
    Parameter("z_source", "", "source redshift", 1e-3, 20.0, default=1.0),
    Parameter(
        "log10_halo_mass", "log10(M_sun)", "log10 halo mass inside the Einstein radius",
        0.0, 15.0, default={"uniform": [10.8, 11.6]},
    ),
    Parameter("halo_q", "", "halo axis ratio", 0.2, 1.0, default={"uniform": [0.6, 1.0]}),
    Parameter("halo_angle", "rad", "halo position angle", -PI, PI, default={"uniform": [0, PI]}),
    Parameter("halo_x", "arcsec", "halo centre x", default=0.0),
    Parameter("halo_y", "arcsec", "halo centre y", default=0.0),
    Parameter("shear_gamma", "", "external shear strength", 0.0, 0.5,
              default={"uniform": [0.0, 0.05]}),
    Parameter("shear_angle", "rad", "external shear angle", -PI, PI,
              default={"uniform": [0, PI]}),
    Parameter("theta_E", "arcsec", "Einstein radius", 0.0, math.inf, derived=True),
)

# --- the source galaxy (Sersic) and the optional lens light (Sersic) ------------------------
declare(
    Parameter("source_mag", "mag", "source apparent magnitude", -10.0, 40.0,
              default={"uniform": [21.0, 23.0]}),
    Parameter("source_r_eff", "arcsec", "source half-light radius", 1e-3, 10.0,
              default={"uniform": [0.1, 0.4]}),
    Parameter("source_n", "", "source Sersic index", 0.3, 8.0, default={"uniform": [0.8, 2.5]}),
    Parameter("source_q", "", "source axis ratio", 0.1, 1.0, default={"uniform": [0.5, 1.0]}),
    Parameter("source_angle", "rad", "source position angle", -PI, PI,
              default={"uniform": [0, PI]}),
    Parameter("source_x", "arcsec", "source centre x", default={"uniform": [-0.15, 0.15]}),
    Parameter("source_y", "arcsec", "source centre y", default={"uniform": [-0.15, 0.15]}),
    Parameter("lens_light_mag", "mag", "lens galaxy apparent magnitude", -10.0, 40.0,
              default={"uniform": [19.0, 21.0]}),
    Parameter("lens_light_r_eff", "arcsec", "lens galaxy half-light radius", 1e-3, 10.0,
              default={"uniform": [0.5, 1.2]}),
    Parameter("lens_light_n", "", "lens galaxy Sersic index", 0.3, 8.0,
              default={"uniform": [3.0, 5.0]}),
    Parameter("exposure_time", "s", "exposure time", 1e-6, math.inf, default=None),
    Parameter("lens_light_bulge_fraction", "", "lens galaxy bulge / total light", 0.0, 1.0,
              default={"uniform": [0.6, 1.0]}),
    Parameter("lens_light_disc_ratio", "", "lens galaxy disc / bulge half-light radius", 1.0,
              20.0, default={"uniform": [1.5, 4.0]}),
    Parameter("lens_light_disc_q", "", "lens galaxy disc axis ratio", 0.1, 1.0,
              default={"uniform": [0.4, 1.0]}),
    Parameter("source_stamp_index", "", "index of the source's galaxy stamp", 0, math.inf,
              derived=True, integer=True),
    Parameter("source_size_factor", "", "size factor applied to the galaxy stamp", 0.0,
              math.inf, derived=True),
    Parameter("source_shapelet_beta", "arcsec", "shapelet scale of the source", 0.0, math.inf,
              derived=True),
    Parameter("psf_fwhm", "arcsec", "PSF FWHM (reference band; others scale with it)", 0.0,
              10.0, default=None),
)

# --- colours: one per band after the reference band (multi-band configs) --------------------
declare(
    Parameter("source_color", "mag", "source colour (band minus reference band)", -5.0, 5.0,
              default={"uniform": [-0.5, 0.5]}, per_band=True),
    Parameter("lens_light_color", "mag", "lens galaxy colour (band minus reference band)", -5.0,
              5.0, default={"uniform": [0.0, 1.0]}, per_band=True),
)

# --- substructure: CDM subhalos ------------------------------------------------------------
declare(
    Parameter("f_sub", "", "substructure mass fraction (expected, or exact by rescaling)", 0.0,
              1.0,
              default={"uniform": [0.0, 0.1]}),
    Parameter("n_subhalos_mean", "", "mean number of subhalos", 0.0, 1e5, default=25.0),
    Parameter("n_subhalos", "", "number of subhalos", 0, math.inf, derived=True, integer=True),
    Parameter("f_sub_realised", "", "realised subhalo mass / halo mass", 0.0, math.inf,
              derived=True),
)

# --- substructure: axion vortex and axion strings ------------------------------------------
declare(
    Parameter("log10_m_axion", "log10(eV)", "log10 axion mass", -30.0, -15.0,
              default={"uniform": [-24.0, -22.0]}),
    Parameter("vortex_mass_fraction", "", "vortex mass / halo mass", 0.0, 1.0,
              default={"uniform": [0.01, 0.03]}),
    Parameter("vortex_x", "arcsec", "vortex centre x", derived=True),
    Parameter("vortex_y", "arcsec", "vortex centre y", derived=True),
    Parameter("vortex_angle", "rad", "vortex orientation", -PI, PI, derived=True),
    Parameter("vortex_length", "arcsec", "vortex length", 0.0, math.inf, derived=True),
    Parameter("string_density", "arcsec^-2", "axion string density", 0.0, 1e3,
              default={"uniform": [0.0, 1.0]}),
    Parameter("n_strings", "", "number of axion strings", 0, math.inf, derived=True,
              integer=True),
)

# --- substructure: pyHalo populations (subhalos and line-of-sight halos) ---------------------
# sampled: pyHalo's mass-function amplitudes and dark-matter model parameters (only those the
# chosen model uses); derived: summaries of each image's realised population
declare(
    Parameter("sigma_sub", "kpc^-2", "subhalo mass function amplitude at 10^8 M_sun (pyHalo)",
              0.0, 10.0, default={"uniform": [0.0, 0.1]}),
    Parameter("los_normalization", "", "line-of-sight halo mass function / Sheth-Tormen", 0.0,
              10.0, default=1.0),
    Parameter("log10_m_hm", "log10(M_sun)", "log10 WDM half-mode mass", 0.0, 20.0,
              default={"uniform": [6.0, 9.0]}),
    Parameter("log10_m_uldm", "log10(eV)", "log10 ultra-light dark matter particle mass", -26.0,
              -15.0, default={"uniform": [-22.0, -20.0]}),
    Parameter("n_los_halos", "", "number of line-of-sight halos", 0, math.inf, derived=True,
              integer=True),
    Parameter("log10_m_sub_ring", "log10(M_sun)", "log10 subhalo mass near the Einstein ring",
              0.0, 20.0, derived=True),
    Parameter("kappa_sub_ring", "", "mean subhalo convergence near the Einstein ring", 0.0,
              math.inf, derived=True),
    Parameter("log10_m_los", "log10(M_sun)", "log10 total line-of-sight halo mass", 0.0, 20.0,
              derived=True),
)
