"""pyHalo populations: subhalos and line-of-sight halos from pyHalo's preset models.

pyHalo (Gilman et al. 2020, MNRAS 491, 6077; github.com/dangilman/pyHalo) draws the halos of a
lens system (subhalos of the main deflector, and field halos in a double cone between observer
and source) with their mass functions, concentrations and tidal truncation. Each image draws a
new realisation with its own seeded stream; the halos become lenstronomy profiles
(``Realization.lensing_quantities``), grouped by redshift:

- the main lens plane (subhalos, field halos at z_lens, their mass sheets) is the
  :class:`Realisation` deflector, added to the main halo;
- every other redshift is one :class:`Plane`, ray traced through all planes by
  :mod:`darklens.simulate.multiplane`.

Each plane is one call per profile type (:func:`darklens.simulate.profiles.from_kwargs.
plane_deflector`): TNFW halos by the tabulated TNFW kernel, point masses and uniform sheets by
darklens kernels, ULDM fluctuations (``GAUSSIAN``) as point masses plus an exact near field;
the ULDM models' cored NFW (``CNFW``) and soliton (``ULDM``) profiles, and NFW or SIS halos if
asked for, fall back to lenstronomy's profile classes.

pyHalo adds its own negative convergence sheets for the mean mass of the halos it renders
(``mass_sheets``), so ``substructure.compensate`` has nothing to remove (the realisation
reports no mass) and configs say ``compensate: none``. pyHalo renders around the optical axis;
subhalos (and ULDM fluctuations) move with the halo centre (halo_x, halo_y). pyHalo's lens
planes are 0.01 apart in redshift, so z_lens must have at most two decimals. pyHalo draws from
numpy's global random state: it is seeded from the image's stream and restored afterwards
(:func:`global_seed`), so realisations are reproducible (and not thread safe).

Derived summaries: ``n_subhalos``, ``n_los_halos`` (field halos, including those at z_lens),
``log10_m_sub_ring`` (log10 of the mass, M_sun, of the subhalos centred within ``ring_width``
arcsec of the Einstein radius: theta_E +- 0.3" by default; bound mass for truncated NFW
subhalos, pyHalo's ``mass`` otherwise; 0 when there are none), ``kappa_sub_ring`` (that mass
over Sigma_cr times the annulus area) and ``log10_m_los`` (log10 of the summed M200 of the field
halos, 0 when none). ULDM fluctuations are not counted as halos.

Needs ``pip install 'darklens[pyhalo]'``: pyHalo 1.4.6. pyHalo 1.4.7 and later import
lenstronomy profiles (``king``, ``core_collapsed_halo``) that no lenstronomy release (1.14.2)
has; pyHalo's SIDM models call ``numpy.trapz``, removed in numpy 2, and are not offered.
"""

from __future__ import annotations

import copy
import inspect
import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from darklens.config import bounded
from darklens.errors import DarklensError
from darklens.registry import Registry
from darklens.simulate.substructure.base import SUBSTRUCTURE, Kind, Plane, Realisation

__all__ = ["MODELS", "Drawn", "Model", "PyHalo", "draw", "global_seed", "lens_groups", "preset",
           "summarise"]

#: ``substructure.model`` -> :class:`Model`
MODELS: Registry = Registry("pyhalo model")

#: darklens parameter turning the line-of-sight abundance up or down (with ``los: true``)
LOS_PARAM = ("los_normalization", "LOS_normalization")
#: preset keywords darklens sets itself, or that would override a sampled parameter
RESERVED = ("z_lens", "z_source", "kwargs_cosmo", "log10_sigma_sub", "log10_dNdA")
#: halos within this of z_lens (pyHalo rounds plane redshifts to 0.01) are on the lens plane
_Z_TOL = 1e-6


@dataclass(frozen=True)
class Model:
    """A pyHalo preset model.

    Attributes
    ----------
    preset : str
        Name for ``pyHalo.preset_models.preset_model_from_name``.
    params : tuple of (str, str)
        (darklens parameter, preset keyword) pairs sampled per image.
    defaults : dict
        Preset keywords darklens sets unless the config's ``kwargs`` do.
    """

    preset: str
    params: tuple[tuple[str, str], ...]
    defaults: dict = field(default_factory=dict)


MODELS.register("CDM", Model("CDM", (("sigma_sub", "sigma_sub"),)))
MODELS.register("WDM", Model("WDM", (("sigma_sub", "sigma_sub"), ("log10_m_hm", "log_mc"))))
# the ULDM preset's log10_sigma_sub = -1 would override sigma_sub; its density fluctuations
# need a geometry (flucs_shape, flucs_args), so they are off unless the config sets them
MODELS.register("ULDM", Model("ULDM", (("sigma_sub", "sigma_sub"),
                                       ("log10_m_uldm", "log10_m_uldm")),
                              {"log10_sigma_sub": None, "flucs": False}))


def preset(name: str):
    """pyHalo's preset model function ``name`` (a one-line error without pyHalo)."""
    try:
        from pyHalo.preset_models import preset_model_from_name
    except ImportError as err:
        raise DarklensError(
            f"substructure.kind pyhalo needs pyHalo 1.4.6 (pip install 'darklens[pyhalo]'): "
            f"{err}") from None
    return preset_model_from_name(name)


@contextmanager
def global_seed(rng: np.random.Generator):
    """Seed numpy's global RandomState from ``rng`` and restore the previous state on exit."""
    # pyHalo (and the scipy.stats draws it makes) use the legacy global state
    saved = np.random.get_state()  # noqa: NPY002
    np.random.seed(rng.integers(0, 2**32, size=8, dtype=np.uint64).astype(np.uint32))  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(saved)  # noqa: NPY002


def _preset_kwargs(values: dict, ctx, opts) -> dict:
    model = MODELS.get(opts.model)
    kw = {"cone_opening_angle_arcsec": ctx.field_of_view * math.sqrt(2.0), **model.defaults,
          **copy.deepcopy(opts.kwargs)}  # pyHalo writes into dicts it is given
    kw.update({key: values[name] for name, key in model.params})
    kw["LOS_normalization"] = values[LOS_PARAM[0]] if opts.los else 0.0
    accepted = inspect.signature(preset(model.preset)).parameters
    if not opts.los and "two_halo_contribution" in accepted:
        kw["two_halo_contribution"] = False
    kw["kwargs_cosmo"] = {"H0": ctx.H0, "Om0": ctx.Om0, "Ob0": opts.omega_b,
                          "sigma8": opts.sigma8, "ns": opts.n_s, "power_law": False,
                          "flat": True}
    return kw


@dataclass
class Drawn:
    """One image's pyHalo population.

    Attributes
    ----------
    realization : pyHalo.single_realization.Realization
        The halos.
    lensing : tuple
        Its ``lensing_quantities()``: lenstronomy names, redshifts, kwargs, numerical class.
    derived : dict
        Population summaries (see the module docstring).
    """

    realization: object
    lensing: tuple
    derived: dict


def draw(rng: np.random.Generator, values: dict, ctx, opts) -> Drawn:
    """One realisation of the configured pyHalo model, drawn from ``rng``.

    Parameters
    ----------
    rng : numpy.random.Generator
        The image's substructure stream (seeds pyHalo's global draws).
    values : dict
        Sampled parameters (those of :meth:`PyHalo.sampled`).
    ctx : Context
        Redshifts (z_lens with at most two decimals), cosmology (H0, Om0), Einstein radius.
    opts : PyHalo.Options

    Notes
    -----
    pyHalo draws concentrations and truncations lazily, when the lenstronomy parameters are
    first asked for, so those are computed inside the seeded block too.
    """
    if abs(round(ctx.z_lens, 2) - ctx.z_lens) > 1e-9:
        raise DarklensError(f"substructure.kind pyhalo: z_lens must have at most two decimals "
                            f"(pyHalo's lens planes are 0.01 apart), got {ctx.z_lens}")
    fn = preset(MODELS.get(opts.model).preset)
    kw = _preset_kwargs(values, ctx, opts)
    with global_seed(rng):
        realization = fn(ctx.z_lens, ctx.z_source, **kw)
        lensing = realization.lensing_quantities(add_mass_sheet_correction=opts.mass_sheets)
        derived = summarise(realization, ctx, opts)
    return Drawn(realization, lensing, derived)


def _moves_with_host(halo) -> bool:
    return bool(halo.is_subhalo) or halo.mdef == "GAUSSIAN_KAPPA"


def lens_groups(drawn: Drawn, ctx, opts) -> dict[float, tuple[list, list]]:
    """The population's lenstronomy profiles by redshift: ``{z: (names, kwargs)}``.

    Profiles of subhalos (and ULDM fluctuations) are moved by the halo centre; with
    ``los: false`` only the lens plane is kept. Redshifts within 1e-6 of z_lens are keyed
    ``ctx.z_lens``.
    """
    names, redshifts, kwargs, _ = drawn.lensing
    moves = [_moves_with_host(h) for h in drawn.realization.halos for _ in h.lenstronomy_ID]
    cx, cy = ctx.center
    groups: dict[float, tuple[list, list]] = {}
    for k, (name, z, kw) in enumerate(zip(names, redshifts, kwargs, strict=True)):
        z = ctx.z_lens if abs(z - ctx.z_lens) < _Z_TOL else float(z)
        if z != ctx.z_lens and not opts.los:
            continue
        kw = dict(kw)
        if k < len(moves) and moves[k] and "center_x" in kw:
            kw["center_x"], kw["center_y"] = kw["center_x"] + cx, kw["center_y"] + cy
        group = groups.setdefault(z, ([], []))
        group[0].append(name)
        group[1].append(kw)
    return groups


def _subhalo_mass(halo) -> float:
    return float(halo.bound_mass) if halo.mdef == "TNFW" else float(halo.mass)


def summarise(realization, ctx, opts) -> dict:
    """Derived population summaries (see the module docstring)."""
    halos = [h for h in realization.halos if h.mdef != "GAUSSIAN_KAPPA"]
    subs = [h for h in halos if h.is_subhalo]
    field_halos = [h for h in halos if not h.is_subhalo]
    w = opts.ring_width
    m_ring = sum(_subhalo_mass(h) for h in subs
                 if abs(math.hypot(h.x, h.y) - ctx.theta_E) <= w)
    area = math.pi * ((ctx.theta_E + w) ** 2 - max(ctx.theta_E - w, 0.0) ** 2)
    m_los = sum(float(h.mass) for h in field_halos)
    return {"n_subhalos": len(subs), "n_los_halos": len(field_halos),
            "log10_m_sub_ring": math.log10(max(m_ring, 1.0)),
            "kappa_sub_ring": float(m_ring / (ctx.sigma_crit * area)),
            "log10_m_los": math.log10(max(m_los, 1.0))}


@SUBSTRUCTURE.register("pyhalo")
class PyHalo(Kind):
    """Subhalos and line-of-sight halos drawn by pyHalo (see the module docstring).

    Options: ``model`` (CDM, WDM or ULDM), ``kwargs`` (further keywords of that pyHalo preset:
    ``log_mlow``, ``log_mhigh``, ``cone_opening_angle_arcsec`` (default: the image diagonal),
    ``log_m_host``, ``shmf_log_slope``, ...), ``los`` (line-of-sight halos, ``true``),
    ``mass_sheets`` (pyHalo's compensating sheets, ``true``), the cosmology pyHalo needs beyond
    H0 and Om0 (``omega_b``, ``sigma8``, ``n_s``; Planck 2018, pyHalo's defaults) and
    ``ring_width`` (arcsec) of the annulus around the Einstein ring for the derived masses.

    Sampled: ``sigma_sub`` (all models), ``log10_m_hm`` (WDM half-mode mass, pyHalo
    ``log_mc``), ``log10_m_uldm`` (ULDM particle mass) and, with ``los: true``,
    ``los_normalization``.
    """

    params = ("sigma_sub", "log10_m_hm", "log10_m_uldm", "los_normalization")
    derived = ("n_subhalos", "n_los_halos", "log10_m_sub_ring", "kappa_sub_ring", "log10_m_los")

    @dataclass
    class Options:
        model: str = bounded("CDM", choices=MODELS)
        kwargs: dict = bounded({})
        los: bool = True
        mass_sheets: bool = True
        omega_b: float = bounded(0.049, gt=0)
        sigma8: float = bounded(0.81, gt=0)
        n_s: float = bounded(0.965, gt=0)
        ring_width: float = bounded(0.3, gt=0)

        def validate(self, where):
            model = MODELS.get(self.model)
            accepted = inspect.signature(preset(model.preset)).parameters
            taken = {key: name for name, key in (*model.params, LOS_PARAM)}
            for key in self.kwargs:
                if key in taken:
                    raise DarklensError(f"{where}.kwargs.{key}: set by the sampled parameter "
                                        f"{taken[key]!r}; give its prior under params:")
                if key in RESERVED:
                    raise DarklensError(f"{where}.kwargs.{key}: set by darklens (redshifts, "
                                        f"cosmology, sigma_sub), not a config option")
                if key not in accepted:
                    raise DarklensError(f"{where}.kwargs.{key}: not a keyword of pyHalo's "
                                        f"{model.preset} preset")

    @classmethod
    def sampled(cls, opts):
        names = tuple(name for name, _ in MODELS.get(opts.model).params)
        return (*names, LOS_PARAM[0]) if opts.los else names

    @staticmethod
    def realise(rng, values, ctx, opts):
        from darklens.simulate.profiles.from_kwargs import plane_deflector

        drawn = draw(rng, values, ctx, opts)
        groups = lens_groups(drawn, ctx, opts)
        lens = groups.pop(ctx.z_lens, None)
        planes = [Plane(z, plane_deflector(*groups[z])) for z in sorted(groups)]
        return Realisation(drawn.derived, plane_deflector(*lens) if lens else None,
                           planes=planes)
