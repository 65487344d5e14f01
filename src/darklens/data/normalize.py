"""Image and target normalisations, small and JSON-serialisable (saved into a model export).

Both classes are plain dataclasses of numbers and strings: :meth:`to_dict` gives a mapping that
``json.dumps`` accepts and :meth:`from_dict` validates such a mapping back, so an exported model
carries its normalisation without pickle.

The target methods accept numpy arrays and torch tensors alike (torch is never imported here:
a tensor is recognised by its type, and the constants follow its dtype and device).
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from darklens.errors import DarklensError
from darklens.registry import Registry, expected_one_of

__all__ = ["IMAGE_MODES", "STRETCHES", "ImageNorm", "TargetNorm"]

#: ``data.stretch`` -> ``f(pixels float32, scale) -> stretched``
STRETCHES: Registry = Registry("image stretch")
#: ``data.image_norm`` -> ``f(stretched, norm) -> standardised``
IMAGE_MODES: Registry = Registry("image normalisation")

STRETCHES.register("none", lambda x, scale: x)
STRETCHES.register("asinh", lambda x, scale: np.arcsinh(x / np.float32(scale)))
STRETCHES.register("log", lambda x, scale: np.log1p(np.maximum(x, 0) / np.float32(scale)))

#: Smallest standard deviation an image is divided by, in (stretched) image units: a blank or
#: constant image then standardises to zeros instead of NaN/inf.
STD_FLOOR = 1e-6


def _check_keys(d: object, cls: type, where: str) -> dict:
    if not isinstance(d, dict):
        raise DarklensError(f"{where}: expected a mapping, got {type(d).__name__}")
    expected = {f.name for f in fields(cls)}
    if set(d) != expected:
        missing, extra = sorted(expected - set(d)), sorted(set(d) - expected)
        raise DarklensError(
            f"{where}: keys {sorted(d)} do not match {sorted(expected)}"
            f" (missing: {missing or 'none'}, unexpected: {extra or 'none'})"
        )
    return d


def _number(value: object, what: str, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise DarklensError(f"{what}: expected a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or (positive and value <= 0):
        raise DarklensError(
            f"{what}: expected a finite {'positive ' if positive else ''}number, got {value!r}"
        )
    return value


@dataclass
class ImageNorm:
    """Pixel normalisation: an optional intensity stretch, then standardisation.

    Parameters
    ----------
    mode : str
        ``"dataset"``: subtract ``mean`` and divide by ``std`` (measured by :meth:`fit` on the
        stretched training images); ``"per_image"``: each image's own mean and std over all its
        pixels and bands (std floored at :data:`STD_FLOOR`), which removes the flux scale;
        ``"none"``: stretch only.
    stretch : str
        ``"none"``, ``"asinh"`` (``asinh(x / stretch_scale)``: linear near zero, logarithmic in
        bright arcs, sign kept for noise) or ``"log"`` (``log1p(max(x, 0) / stretch_scale)``).
    stretch_scale : float
        Pixel value, in the image units (e.g. electrons/s), where the stretch turns from linear
        to logarithmic; about the background noise is a good choice.
    mean, std : float
        Mean and standard deviation of the stretched training pixels (mode ``"dataset"``).
    """

    mode: str = "dataset"
    stretch: str = "none"
    stretch_scale: float = 1.0
    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self) -> None:
        for field, table in (("mode", IMAGE_MODES), ("stretch", STRETCHES)):
            if getattr(self, field) not in table:
                raise expected_one_of(f"image norm {field}", table, getattr(self, field))
        self.stretch_scale = _number(self.stretch_scale, "image norm stretch_scale", True)
        self.mean = _number(self.mean, "image norm mean")
        self.std = _number(self.std, "image norm std", True)

    def stretched(self, images: np.ndarray) -> np.ndarray:
        """Return the stretched images as float32 (no standardisation)."""
        return STRETCHES.get(self.stretch)(np.asarray(images, dtype=np.float32),
                                           self.stretch_scale)

    def apply(self, images: np.ndarray) -> np.ndarray:
        """Normalise one image ``(H, W)`` or ``(C, H, W)``, or a batch ``(B, C, H, W)``.

        Returns
        -------
        numpy.ndarray
            float32, same shape. Stretched, then standardised according to ``mode``.
        """
        x = self.stretched(images)
        if x.ndim not in (2, 3, 4):
            raise DarklensError(
                f"image norm: expected (H, W), (C, H, W) or (B, C, H, W) "
                f"images, got shape {x.shape}"
            )
        return IMAGE_MODES.get(self.mode)(x, self)

    def fit(self, images: np.ndarray, fit_scale: bool = False) -> ImageNorm:
        """Measure ``mean`` and ``std`` of the stretched training images.

        Parameters
        ----------
        images : numpy.ndarray
            A representative subset of the training images, any shape.
        fit_scale : bool
            Also set ``stretch_scale`` (before measuring) to the median absolute pixel value,
            which on lens images is dominated by the sky and so tracks the background noise.
            Off by default: an explicitly configured scale is kept.

        Returns
        -------
        ImageNorm
            A new normalisation; ``self`` is unchanged.
        """
        x = np.asarray(images, dtype=np.float32)
        if x.size == 0 or not np.isfinite(x).all():
            raise DarklensError(
                f"image norm fit: expected a non-empty set of finite pixels, got shape {x.shape}"
                f" with {int(np.size(x) - np.isfinite(x).sum())} non-finite values"
            )
        norm = self
        if fit_scale and self.stretch != "none":
            scale = float(np.median(np.abs(x)))
            norm = replace(self, stretch_scale=scale if scale > 0 else 1.0)
        s = norm.stretched(x)
        return replace(
            norm,
            mean=float(s.mean(dtype=np.float64)),
            std=max(float(s.std(dtype=np.float64)), STD_FLOOR),
        )

    def to_dict(self) -> dict:
        """Return a JSON-serialisable mapping of the fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ImageNorm:
        """Rebuild from :meth:`to_dict` output; a wrong key or value raises DarklensError."""
        d = _check_keys(d, cls, "image norm")
        return cls(**d)


IMAGE_MODES.register("dataset", lambda x, n: (x - np.float32(n.mean)) / np.float32(n.std))
IMAGE_MODES.register("none", lambda x, norm: x)


@IMAGE_MODES.register("per_image")
def _per_image_standardised(x: np.ndarray, norm: ImageNorm) -> np.ndarray:
    axes = tuple(range(x.ndim - min(x.ndim, 3), x.ndim))  # one image: (C,) H, W
    mean = x.mean(axis=axes, keepdims=True, dtype=np.float64)
    std = np.maximum(x.std(axis=axes, keepdims=True, dtype=np.float64), STD_FLOOR)
    return ((x - mean) / std).astype(np.float32)


def _is_tensor(x: object) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def _const(values: list[float], like):
    """The constants as an array/tensor matching ``like`` (dtype and device)."""
    if _is_tensor(like):
        import torch

        dtype = like.dtype if like.is_floating_point() else torch.float32
        return torch.as_tensor(values, dtype=dtype, device=like.device)
    like = np.asarray(like)
    dtype = like.dtype if like.dtype.kind == "f" else np.float64
    return np.asarray(values, dtype=dtype)


def _as_array(x):
    return x if _is_tensor(x) else np.asarray(x)


@dataclass
class TargetNorm:
    """Per-target standardisation ``(y - mean) / std`` for regression targets.

    Parameters
    ----------
    names : list of str
        Target variable names, in the order of the last axis of the arrays.
    mean, std : list of float
        Per-target mean and standard deviation, in each target's own units.
    """

    names: list[str]
    mean: list[float]
    std: list[float]

    def __post_init__(self) -> None:
        self.names = list(self.names)
        if not all(isinstance(n, str) for n in self.names) or len(set(self.names)) < len(
            self.names
        ):
            raise DarklensError(f"target norm names: expected distinct strings, got {self.names!r}")
        if not (
            isinstance(self.mean, list | tuple | np.ndarray)
            and isinstance(self.std, list | tuple | np.ndarray)
            and len(self.mean) == len(self.names) == len(self.std)
        ):
            raise DarklensError(
                f"target norm: names, mean and std must be lists of one length, got "
                f"{self.names!r}, {self.mean!r}, {self.std!r}"
            )
        self.mean = [
            _number(m, f"target norm mean of {n!r}")
            for m, n in zip(self.mean, self.names, strict=True)
        ]
        self.std = [
            _number(s, f"target norm std of {n!r}", True)
            for s, n in zip(self.std, self.names, strict=True)
        ]

    @classmethod
    def fit(cls, values: np.ndarray, names: list[str]) -> TargetNorm:
        """Measure per-target mean and std on training values.

        Parameters
        ----------
        values : numpy.ndarray
            Shape ``(N, T)``, one column per name, in the targets' units.
        names : list of str
            The T target names.

        Returns
        -------
        TargetNorm
            A target that does not vary (std 0) gets std 1, so it encodes to 0, not NaN.
        """
        v = np.asarray(values, dtype=np.float64)
        names = list(names)
        if v.ndim != 2 or v.shape[1] != len(names) or len(v) == 0:
            raise DarklensError(
                f"target norm fit: expected values (N, {len(names)}) with N > 0 "
                f"for {names}, got shape {v.shape}"
            )
        bad = ~np.isfinite(v)
        if bad.any():
            col = int(np.nonzero(bad.any(axis=0))[0][0])
            raise DarklensError(
                f"target norm fit: target {names[col]!r} has "
                f"{int(bad[:, col].sum())} NaN/inf values"
            )
        std = v.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        return cls(names, v.mean(axis=0).tolist(), std.tolist())

    def encode(self, y):
        """Standardise targets ``(..., T)`` (numpy array or torch tensor)."""
        y = _as_array(y)
        return (y - _const(self.mean, y)) / _const(self.std, y)

    def decode_mean(self, m):
        """Map standardised predictions ``(..., T)`` back to the targets' units."""
        m = _as_array(m)
        return m * _const(self.std, m) + _const(self.mean, m)

    def decode_var(self, v):
        """Map standardised variances ``(..., T)`` back to the targets' units squared."""
        v = _as_array(v)
        return v * _const(self.std, v) ** 2

    def decode_cov(self, cov):
        """Map standardised covariances ``(..., T, T)`` back: ``cov_ij * std_i * std_j``."""
        cov = _as_array(cov)
        s = _const(self.std, cov)
        return cov * s[:, None] * s[None, :]

    def to_dict(self) -> dict:
        """Return a JSON-serialisable mapping of the fields."""
        return {"names": list(self.names), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> TargetNorm:
        """Rebuild from :meth:`to_dict` output; a wrong key or value raises DarklensError."""
        d = _check_keys(d, cls, "target norm")
        return cls(d["names"], d["mean"], d["std"])
