"""Every preset in configs/sim loads, keeps its arcs in the field and renders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from darklens.simulate import load_sim_config, render_image
from darklens.simulate.scene import theta_E_range

PRESETS = sorted((Path(__file__).parents[2] / "configs" / "sim").rglob("*.yaml"))
REQUIRED = {"demo", "model1_none", "model1_cdm", "model1_vortex", "euclid_axion", "hst_axion",
            "hst_cdm", "hst_halo_mass", "hst_halo_mass_z", "hst_strings"}


DEEPLENSE = {f"model{m}_{k}" for m in (1, 2, 3) for k in ("no_sub", "cdm", "axion")}


def test_all_required_presets_exist():
    assert REQUIRED <= {p.stem for p in PRESETS}
    assert DEEPLENSE | {"model2_axion_noise", "model3_axion_noise"} <= {
        p.stem for p in PRESETS if p.parent.name == "deeplense"}


@pytest.mark.parametrize("path", PRESETS, ids=[p.stem for p in PRESETS])
def test_arcs_stay_inside_the_field(path):
    cfg = load_sim_config(path)
    _, theta_max = theta_E_range(cfg)
    # the ring of the largest halo, widened by the source's offset and half-light size
    reach = theta_max + max(abs(v) for k in ("source_x", "source_y")
                            for v in cfg.priors[k].support())
    reach += cfg.priors["source_r_eff"].support()[1] if "source_r_eff" in cfg.priors else 0.5
    assert reach < cfg.inst.field_of_view / 2, f"{path.name}: arcs reach {reach:.2f} arcsec"
    assert path.read_text().startswith("#"), "each preset documents where its numbers come from"


@pytest.mark.parametrize("path", PRESETS, ids=[p.stem for p in PRESETS])
def test_preset_renders_a_lensed_image(path):
    cfg = load_sim_config(path)
    image, values = render_image(cfg, index=3)
    n, bands = cfg.inst.num_pix, len(cfg.band_list)
    assert image.shape == ((n, n) if bands == 1 else (bands, n, n)) and np.isfinite(image).all()
    image = image if bands == 1 else image[0]  # the reference band
    # the lensed source stands well above the noise
    scale = values["exposure_time"] if cfg.noise == "deeplense_model1" else 1.0  # counts
    assert image.max() > 10 * cfg.inst.background_noise(values["exposure_time"]) * scale
