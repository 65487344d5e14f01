"""Simulate a dataset: blocks of images in worker processes, resumable, shardable, atomic.

The shard's sample range is cut into blocks of :data:`BLOCK` consecutive images. Each finished
block is saved atomically beside the output (``OUT.partial/``) by the main process; when all are
there they are streamed into the HDF5 file under a temporary name, which is then renamed. A run
killed at any point and started again with the same arguments redoes only the missing blocks,
and since image i depends only on (config, seed, i) the result equals an uninterrupted run.
"""

from __future__ import annotations

import copy
import multiprocessing as mp
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from darklens import __version__
from darklens import params as P
from darklens.atomic import write_text_atomic
from darklens.config import parse_yaml
from darklens.data import store
from darklens.data.schema import BAND_NAMES_ATTR, CHUNK_IMAGES, VariableSpec
from darklens.errors import DarklensError
from darklens.simulate.config import SimConfig, load_sim_config, resolved_yaml
from darklens.simulate.noise import NOISE_MODELS
from darklens.simulate.render import Renderer
from darklens.simulate.samples import as_config, render_image, render_samples

__all__ = ["BLOCK", "parse_shard", "render_image", "run", "variable_specs"]

BLOCK = CHUNK_IMAGES  # images per saved block (one HDF5 chunk): the most a killed run loses


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` -> (K, N) with 0 <= K < N."""
    try:
        k, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise DarklensError(f"--shard {text!r}: expected K/N, e.g. 0/4") from None
    if not 0 <= k < n:
        raise DarklensError(f"--shard {text!r}: expected 0 <= K < N")
    return k, n


def shard_range(n: int, shard: tuple[int, int] | None) -> tuple[int, int]:
    """Global sample range [start, stop) of shard K of N (near-equal contiguous slices)."""
    k, count = shard or (0, 1)
    return k * n // count, (k + 1) * n // count


# --- worker side: a pool initialiser sets up each process, blocks are rendered and saved there
_WORKER: dict = {}


def keep_freed_memory() -> None:
    """Stop glibc returning every large temporary to the OS (for this process).

    Rendering allocates and frees ~1 MB ray arrays many times per image; with glibc's defaults
    each one is a fresh mmap whose pages fault in again, which doubled the time per image
    (half of it in the kernel). Raising the mmap and trim thresholds keeps them in the heap.
    Called by the dataset workers only, never on import or by :class:`Renderer`.
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 64 << 20)
        libc.mallopt(m_trim_threshold, 256 << 20)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def _init_worker(config_yaml: str) -> None:
    """Pool initialiser: the config, a renderer and warm compiled kernels for this process."""
    keep_freed_memory()
    cfg = load_sim_config(parse_yaml(config_yaml))
    renderer = Renderer(cfg)
    render_samples(cfg, renderer, [0])  # compiles / loads the numba kernels once
    _WORKER.update(cfg=cfg, renderer=renderer)


def _render_block(task: tuple[Path, int, int, int]) -> int:
    """Render one block and save it (in the worker: no image data crosses a pipe)."""
    out, block, start, stop = task
    images, params = render_samples(_WORKER["cfg"], _WORKER["renderer"], range(start, stop))
    store.write_block(out, block, np.arange(start, stop, dtype=np.int64), images, params)
    return stop - start


def _render_blocks(todo: list, config_yaml: str, workers: int, bar) -> None:
    """Render the missing blocks here (one worker) or in a pool of ``workers`` processes."""
    if workers == 1 or len(todo) <= 1:
        _init_worker(config_yaml)
        results, pool = map(_render_block, todo), None
    else:
        pool = mp.Pool(workers, initializer=_init_worker, initargs=(config_yaml,))
        results = pool.imap_unordered(_render_block, todo)
    try:
        for count in results:
            bar.update(count)
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()


# --- main side -----------------------------------------------------------------------------
def variable_specs(cfg: SimConfig) -> list[VariableSpec]:
    """Dataset variables of a config, metadata read from the parameter table."""
    specs = []
    for name in cfg.stored_names():
        p = P.get(name)
        specs.append(VariableSpec(name, p.units or "1", p.long_name,
                                  "int64" if p.integer else "float64"))
    specs.append(VariableSpec("seed", "1", "dataset seed; image i draws from "
                              "SeedSequence([seed, i, k]), k = 0, 1, 2", "int64"))
    specs.append(VariableSpec("substructure", "1", "substructure kind", "str"))
    return specs


def _claim_partial(out: Path, fingerprint: str) -> None:
    """Record what the partial blocks belong to, or refuse to mix runs."""
    part = store.partial_dir(out)
    part.mkdir(parents=True, exist_ok=True)
    stamp = part / "run.yaml"
    if stamp.exists():
        if stamp.read_text() != fingerprint:
            raise DarklensError(
                f"{part}: holds blocks of a different run (config, n, seed or shard differ); "
                f"rerun the same command or delete that folder"
            )
        return
    write_text_atomic(stamp, fingerprint)


def _attrs(cfg: SimConfig, config_yaml: str, shard: tuple[int, int] | None) -> dict:
    """Global attributes of a dataset: the resolved config, versions, what and when."""
    import lenstronomy

    return {
        "title": f"darklens simulated lenses ({cfg.kind} substructure, "
                 f"{', '.join(b.inst.name for b in cfg.band_list)})",
        "config": config_yaml,
        "darklens_version": __version__,
        "lenstronomy_version": lenstronomy.__version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "instrument": cfg.inst.name,
        "substructure_kind": cfg.kind,
        "pixel_scale_arcsec": cfg.inst.pixel_scale,
        **({BAND_NAMES_ATTR: ",".join(cfg.band_keys)} if len(cfg.band_list) > 1 else {}),
        "image_units": NOISE_MODELS.get(cfg.noise).units,
        "n_total": cfg.n,
        "shard_index": (shard or (0, 1))[0],
        "shard_count": (shard or (0, 1))[1],
        "regenerate": "save attribute 'config' as C.yaml; darklens simulate C.yaml --out F.h5",
    }


def _resolve(config, overrides, n, seed, shard, out, overwrite, workers):
    """The run's config (a copy, with n and seed applied), shard and output, all checked."""
    cfg = copy.copy(as_config(config, overrides))  # never change the caller's config
    if n is not None:
        cfg.n = n
    if seed is not None:
        cfg.seed = seed
    if cfg.n < 1 or cfg.seed < 0:
        raise DarklensError(f"n must be >= 1 and seed >= 0, got n={cfg.n}, seed={cfg.seed}")
    if isinstance(shard, str):
        shard = parse_shard(shard)
    out = Path(out)
    if out.exists() and not overwrite:
        raise DarklensError(f"{out}: already exists; pass --overwrite to replace it")
    if workers < 1:
        raise DarklensError(f"--workers: expected >= 1, got {workers}")
    return cfg, shard, out


def run(config, *, out: str | Path, n: int | None = None, workers: int = 1,
        shard: tuple[int, int] | str | None = None, seed: int | None = None,
        overrides: list[str] | None = None, overwrite: bool = False,
        progress: bool = True) -> Path:
    """Simulate ``n`` images into the HDF5 dataset ``out`` (or shard K of N of them).

    Parameters
    ----------
    config : path, mapping or SimConfig
        Simulation config (YAML file under configs/sim/ or equivalent mapping).
    out : path
        Output file (``.h5``). Work in progress lives in ``OUT.partial/`` until it is complete.
    n, seed : int, optional
        Override the config's image count and seed.
    workers : int
        Worker processes rendering blocks in parallel.
    shard : (K, N) or "K/N", optional
        Write only the K-th of N contiguous slices of the samples (cluster array jobs);
        combine the shard files with :func:`darklens.data.merge.merge`.
    overrides : list of str, optional
        ``key=value`` config overrides (dotted keys).
    overwrite : bool
        Replace an existing complete ``out``.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    Path
        The written dataset.
    """
    cfg, shard, out = _resolve(config, overrides, n, seed, shard, out, overwrite, workers)
    config_yaml = resolved_yaml(cfg)
    start, stop = shard_range(cfg.n, shard)
    if stop <= start:
        raise DarklensError(f"--shard {shard}: empty slice of {cfg.n} samples")
    tasks = [(out, b, s, min(s + BLOCK, stop))
             for b, s in enumerate(range(start, stop, BLOCK))]
    out.parent.mkdir(parents=True, exist_ok=True)
    _claim_partial(out, f"{config_yaml}\nshard: {shard}\nblock: {BLOCK}\n")
    done = store.completed_blocks(out)
    todo = [t for t in tasks if t[1] not in done]
    bar = tqdm(total=stop - start, initial=sum(t[3] - t[2] for t in tasks if t[1] in done),
               unit="img", desc=out.name, disable=not progress)
    _render_blocks(todo, config_yaml, workers, bar)
    store.assemble(out, len(tasks), variable_specs(cfg), _attrs(cfg, config_yaml, shard))
    return out
