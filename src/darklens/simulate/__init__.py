"""Lens image simulation: priors, instruments, substructure, scenes, rendering, dataset runs.

Notebook use::

    from darklens.simulate import load_sim_config, render_image, run
    image, values = render_image("configs/sim/demo.yaml", {"log10_halo_mass": 11.2})
    run("configs/sim/demo.yaml", out="demo.h5", n=64, workers=2)

The names below are imported on first use, so ``darklens.simulate.cli`` starts quickly.
"""

from __future__ import annotations

from darklens.lazy import lazy_attributes

__all__ = ["SimConfig", "load_sim_config", "render_image", "run"]

_LAZY = {
    "SimConfig": "darklens.simulate.config",
    "load_sim_config": "darklens.simulate.config",
    "render_image": "darklens.simulate.runner",
    "run": "darklens.simulate.runner",
}


__getattr__ = lazy_attributes("darklens.simulate", _LAZY)
