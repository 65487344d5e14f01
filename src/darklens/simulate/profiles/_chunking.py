"""Shared helpers: broadcast rays against many lens components without exhausting memory."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Largest number of (ray, component) pairs materialised at once. 4M float64 temporaries
#: are ~32 MB each; a handful of them per chunk keeps peak memory well under 1 GB.
MAX_PAIRS = 4_000_000


def as_components(*params) -> tuple[np.ndarray, ...]:
    """Broadcast per-component parameters to a common flat shape ``(N,)``.

    Scalars become ``N = 1``; this lets every pure function accept either one component or N.
    """
    arrays = np.broadcast_arrays(*[np.atleast_1d(np.asarray(p, dtype=float)) for p in params])
    return tuple(np.ravel(a) for a in arrays)


def summed_over_components(
    kernel: Callable[..., tuple[np.ndarray, ...]],
    x,
    y,
    params: tuple[np.ndarray, ...],
    n_out: int,
    max_pairs: int = MAX_PAIRS,
) -> tuple[np.ndarray, ...]:
    """Sum ``kernel`` over components, in chunks, returning arrays shaped like the rays.

    Parameters
    ----------
    kernel : callable
        ``kernel(x[:, None], y[:, None], *[p[None, :] for p in params])`` returning ``n_out``
        arrays of shape ``(M, n)``, the contribution of each of ``n`` components to each ray.
    x, y : array_like
        Ray positions (arcsec), any shape; scalars allowed.
    params : tuple of ndarray
        Per-component parameters, each flat with the same length ``N``.
    n_out : int
        Number of arrays ``kernel`` returns.
    max_pairs : int
        Upper bound on ``M * n`` held in memory at once.

    Returns
    -------
    tuple of ndarray
        ``n_out`` arrays with the broadcast shape of ``x`` and ``y`` (floats for scalar rays).
    """
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    shape = x.shape
    xf, yf = x.ravel(), y.ravel()
    m = xf.size
    n = params[0].size if params else 1
    if n == 1 and m <= max_pairs:  # one component (a vortex): no (M, 1) temporaries to sum
        parts = kernel(xf, yf, *(p[0] for p in params))
        result = tuple(np.asarray(a, dtype=float).reshape(shape) for a in parts)
        return tuple(float(a) for a in result) if shape == () else result
    out = [np.zeros(m) for _ in range(n_out)]
    # Chunk over rays too, so a single component on a huge ray set also respects the bound.
    ray_step = max(1, min(m, max_pairs))
    comp_step = max(1, max_pairs // max(ray_step, 1))
    for r0 in range(0, m, ray_step):
        xr = xf[r0 : r0 + ray_step, None]
        yr = yf[r0 : r0 + ray_step, None]
        for c0 in range(0, n, comp_step):
            chunk = [p[None, c0 : c0 + comp_step] for p in params]
            parts = kernel(xr, yr, *chunk)
            for acc, part in zip(out, parts, strict=True):
                acc[r0 : r0 + ray_step] += part.sum(axis=1)
    result = tuple(a.reshape(shape) for a in out)
    if shape == ():
        return tuple(float(a) for a in result)
    return result
