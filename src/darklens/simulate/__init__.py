"""Lens image simulation: priors, instruments, substructure, scenes, rendering, dataset runs.

Notebook use::

    from darklens.simulate import load_sim_config, render_image, run
    image, values = render_image("configs/sim/demo.yaml", {"log10_halo_mass": 11.2})
    run("configs/sim/demo.yaml", out="demo.h5", n=64, workers=2)
"""

from darklens.simulate.config import SimConfig, load_sim_config
from darklens.simulate.run import render_image, run

__all__ = ["SimConfig", "load_sim_config", "render_image", "run"]
