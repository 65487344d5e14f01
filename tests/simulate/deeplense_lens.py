"""DeepLenseSim's lens and source keyword arguments for lenstronomy (part of the plain-lenstronomy
reference in :mod:`tests.simulate.deeplense_reference`)."""

from __future__ import annotations

import numpy as np

from tests.simulate.deeplense_physics import (
    HALO_MASS,
    SHEAR_GAMMA1,
    SHEAR_GAMMA2,
    SIE_E1,
    SIE_E2,
    SOURCE_E1,
    SOURCE_E2,
    SOURCE_N_SERSIC,
    SOURCE_R_SERSIC,
    VORTEX_MASS,
    VORTEX_RES,
    _check,
    axion_half_length,
    deeplense_theta_e,
)

__all__ = ["lens_kwargs", "single_plane_equivalent"]


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
