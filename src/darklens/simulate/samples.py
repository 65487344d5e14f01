"""Images as a pure function of (config, seed, index): one for a notebook, a range for a dataset.

Image ``i`` of a config with seed ``s`` draws only from the streams of (s, i), so the same
images come out whatever process, worker or shard renders them; :func:`render_samples` is what
dataset runs (and on-the-fly training streams) call.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from darklens import params as P
from darklens.errors import DarklensError
from darklens.simulate.config import SimConfig, load_sim_config
from darklens.simulate.render import Renderer
from darklens.simulate.scene import build_scene, sample_values, streams

__all__ = ["as_config", "render_image", "render_samples"]


def as_config(config: str | Path | dict | SimConfig, overrides=None) -> SimConfig:
    """A validated config from a path, a mapping or an existing :class:`SimConfig`."""
    if isinstance(config, SimConfig):
        return config
    return load_sim_config(config, overrides)


def render_image(config, params: dict | None = None, *, index: int = 0, seed: int | None = None,
                 renderer: Renderer | None = None):
    """Render one image; for notebooks.

    Parameters
    ----------
    config : path, mapping or SimConfig
        Simulation config.
    params : dict, optional
        Parameter values to impose (e.g. ``{"log10_halo_mass": 11.2}``); the others are drawn
        from the config's priors with the stream of image ``index``.
    index, seed : int
        Which image of the dataset (config seed unless ``seed`` is given).
    renderer : Renderer, optional
        Reuse one across calls to skip building lenstronomy's ImageModel again.

    Returns
    -------
    image : ndarray of float32, shape ([bands,] num_pix, num_pix)
        Counts/s per pixel (the band axis only for multi-band configs).
    values : dict
        Every parameter of the image, sampled and derived.
    """
    cfg = as_config(config)
    rng_params, rng_sub, rng_noise = streams(cfg.seed if seed is None else seed, index)
    values = sample_values(cfg, rng_params)
    unknown = set(params or {}) - set(values)
    if unknown:
        raise DarklensError(f"params: {sorted(unknown)[0]!r} is not sampled by this config")
    values.update(params or {})
    scene = build_scene(cfg, values, rng_sub)
    renderer = renderer or Renderer(cfg)
    return renderer.render(scene, rng_noise), scene.values


def render_samples(cfg: SimConfig, renderer: Renderer, indices, seed: int | None = None):
    """Render images ``indices`` of the dataset of ``cfg`` (seed ``cfg.seed`` unless given).

    Returns
    -------
    images : ndarray of float32, shape (len(indices), [bands,] num_pix, num_pix)
        Counts/s per pixel, as stored (the band axis only for multi-band configs).
    params : dict of str to ndarray
        Every stored per-image parameter (``cfg.stored_names()``), plus ``seed`` and
        ``substructure``, one value per image.
    """
    seed = cfg.seed if seed is None else seed
    indices = np.asarray(indices, dtype=np.int64)
    names = cfg.stored_names()
    bands = () if len(cfg.band_list) == 1 else (len(cfg.band_list),)
    images = np.empty((len(indices), *bands, cfg.inst.num_pix, cfg.inst.num_pix), np.float32)
    columns = {name: [] for name in names}
    for j, i in enumerate(indices):
        rng_params, rng_sub, rng_noise = streams(seed, int(i))
        scene = build_scene(cfg, sample_values(cfg, rng_params), rng_sub)
        images[j] = renderer.render(scene, rng_noise)
        for name in names:
            columns[name].append(scene.values[name])
    params = {name: np.asarray(v, np.int64 if P.get(name).integer else np.float64)
              for name, v in columns.items()}
    params["seed"] = np.full(len(indices), seed, np.int64)
    params["substructure"] = np.array([cfg.kind] * len(indices))
    return images, params
