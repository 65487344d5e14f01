"""Predictions of trained models: deep ensembles, D4 test-time augmentation, intervals.

:class:`Predictor` holds one or more exported models and turns raw images into per-target mean
and standard deviation in physical units; :func:`intervals` gives central intervals, calibrated
when the export carries a calibration; :func:`predict_paths` runs it all over files and
writes the table (:mod:`darklens.infer.tables`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

from darklens.analysis.calibration import z_value
from darklens.artifact import ModelMeta, load_model, load_ood
from darklens.errors import DarklensError
from darklens.infer.cutouts import TrainedOn
from darklens.infer.readers import BadInput

__all__ = ["Predictor", "intervals"]


class Predictor:
    """One model or a deep ensemble of models, ready to predict raw images.

    Parameters
    ----------
    models : list of path
        Model exports (run directories or their ``best/``); all must share targets, inputs and
        image shape. Several form a deep ensemble.
    device : str
        Torch device.
    tta : bool
        Average over the 8 D4 transforms (rotations by 90 degrees, with and without a flip).
        Only sensible when every target is invariant under them (masses, radii; not position
        angles or shear components).
    batch_size : int
        Images per forward pass.
    """

    def __init__(
        self,
        models: Sequence[str | os.PathLike],
        device: str = "cpu",
        tta: bool = False,
        batch_size: int = 64,
    ):
        if not models:
            raise DarklensError("infer: no model given")
        members = [(load_model(p, device), str(p)) for p in models]
        self._setup([m for m, _ in members], [n for _, n in members], device, tta, batch_size,
                    load_ood(models[0]))

    @classmethod
    def from_members(
        cls,
        members: Sequence[tuple[torch.nn.Module, ModelMeta]],
        device: str = "cpu",
        tta: bool = False,
        batch_size: int = 64,
    ) -> Predictor:
        """Build from already loaded ``(model, meta)`` pairs (tests, or models kept in memory)."""
        self = cls.__new__(cls)
        self._setup(
            list(members), [f"model {i}" for i in range(len(members))], device, tta, batch_size
        )
        return self

    def _setup(self, members, names, device, tta, batch_size, ood=None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise DarklensError(f"infer batch_size: expected an integer >= 1, got {batch_size!r}")
        first = members[0][1]
        for (_, meta), name in zip(members[1:], names[1:], strict=True):
            for key in ("targets", "inputs", "image_shape"):
                if list(getattr(meta, key)) != list(getattr(first, key)):
                    raise DarklensError(
                        f"{name}: {key} {getattr(meta, key)} differ from {getattr(first, key)} "
                        f"of {names[0]}; ensemble members must share targets, inputs and image "
                        "shape"
                    )
        self.device, self.tta, self.batch_size = torch.device(device), bool(tta), batch_size
        self.targets: list[str] = list(first.targets)
        self.inputs: list[str] = list(first.inputs)
        self.image_shape: tuple[int, int, int] = tuple(int(v) for v in first.image_shape)
        #: whether predictions carry full covariances (``gaussian_full`` heads)
        self.full_covariance = (first.head or {}).get("kind") == "gaussian_full"
        # members may come from different trainings, so each keeps its own normalisations
        self._members = [(model.to(self.device).eval(), *meta.norms()) for model, meta in members]
        #: per target ``{"sigma_scale", "levels", "quantiles"}``; the first member's for all
        self.calibration: dict = dict(first.calibration)
        #: the first member's out-of-distribution checks, or None (exported before they existed)
        self.ood = ood
        noise = (ood.stat_ranges.get("noise") if ood is not None else None)
        #: what the training images were, for observed cutouts (units, pixel scale, noise)
        self.trained_on = TrainedOn(first.pixel_scale, first.image_units,
                                    tuple(self.image_shape[1:]),
                                    first.exposure_range and tuple(first.exposure_range),
                                    noise and tuple(noise))

    @property
    def bands(self) -> int:
        """Image bands the models expect."""
        return self.image_shape[0]

    def prepare(self, image: np.ndarray, resize: bool = False, crop: bool = False) -> np.ndarray:
        """Bring one raw image to the models' ``(C, H, W)``.

        Normalisation is not applied here but in :meth:`predict`, per member, because ensemble
        members trained on different data carry different image normalisations.

        Parameters
        ----------
        image : numpy.ndarray
            ``(H, W)`` or ``(C, H, W)``.
        resize : bool
            Resample another size bilinearly (surface brightness per pixel is kept, so the
            image must cover the same field of view as the training images).
        crop : bool
            Cut the central region of a larger image (same pixel scale as the training images).
            Tried before ``resize`` when both are set and the image is large enough.

        Returns
        -------
        numpy.ndarray
            float32 ``(C, H, W)``.

        Raises
        ------
        BadInput
            Wrong number of bands, or another size without ``resize``/``crop``.
        """
        x = np.asarray(image, dtype=np.float32)
        x = x[None] if x.ndim == 2 else x
        c, h, w = self.image_shape
        if x.ndim != 3:
            raise BadInput(f"array of shape {x.shape}, expected (H, W) or (C, H, W)")
        if x.shape[0] != c:
            raise BadInput(f"image has {x.shape[0]} bands, the model expects {c}")
        if x.shape[1:] == (h, w):
            return x
        ih, iw = x.shape[1:]
        if crop and ih >= h and iw >= w:
            top, left = (ih - h) // 2, (iw - w) // 2
            return np.ascontiguousarray(x[:, top : top + h, left : left + w])
        if resize:
            t = torch.from_numpy(np.ascontiguousarray(x))[None]
            # antialias only matters (and is only defined) when shrinking
            out = torch.nn.functional.interpolate(
                t,
                size=(h, w),
                mode="bilinear",
                align_corners=False,
                antialias=ih > h or iw > w,
            )
            return out[0].numpy()
        hint = "use --resize" if crop else "use --resize or --crop"
        raise BadInput(f"image is {ih}x{iw}, the model expects {h}x{w} ({hint})")

    @torch.no_grad()
    def features(self, images: np.ndarray) -> np.ndarray:
        """Pooled backbone features ``(B, D)`` of the first model, for out-of-distribution
        checks (raw images ``(B, C, H, W)`` of the models' size; no test-time augmentation)."""
        model, inorm = self._members[0][:2]
        out = []
        for start in range(0, len(images), self.batch_size):
            x = torch.from_numpy(inorm.apply(np.asarray(images[start:start + self.batch_size],
                                                     dtype=np.float32))).to(self.device)
            out.append(model.features(x).double().cpu().numpy())
        return np.concatenate(out) if out else np.empty((0, 0))

    @torch.no_grad()
    def _member_outputs(self, images: np.ndarray, inputs: np.ndarray | None):
        """Decoded mean ``(B, T)`` and covariance ``(B, T, T)`` of every member and transform:
        diagonal for Gaussian heads, full for ``gaussian_full``, NaN for point heads."""
        for model, inorm, tnorm, xnorm in self._members:
            x = torch.from_numpy(inorm.apply(images)).to(self.device)
            z = None
            if self.inputs:
                z = torch.from_numpy(
                    np.asarray(xnorm.encode(inputs) if xnorm else inputs, dtype=np.float32)
                ).to(self.device)
            for view in _d4(x) if self.tta else (x,):
                out = model(view, z)
                mean = out["mean"].double().cpu().numpy()
                if "scale_tril" in out:
                    tril = out["scale_tril"].double().cpu().numpy()
                    cov = tril @ np.swapaxes(tril, -1, -2)
                elif "var" in out:
                    cov = np.einsum("bt,ts->bts", out["var"].double().cpu().numpy(),
                                    np.eye(mean.shape[1]))
                else:
                    cov = np.full((*mean.shape, mean.shape[1]), np.nan)
                yield np.asarray(tnorm.decode_mean(mean)), np.asarray(tnorm.decode_cov(cov))

    def predict_arrays(self, images: np.ndarray, inputs: np.ndarray | None = None):
        """Predicted means ``(B, T)`` and covariances ``(B, T, T)`` in the targets' units.

        Every member (and, with ``tta``, each of the 8 transformed views) is one ensemble
        member: mean = mean of the members' means, covariance = mean of their covariances +
        population covariance of their means. Covariances are diagonal unless the models have a
        ``gaussian_full`` head, NaN for point heads. Arguments as :meth:`predict`.
        """
        images, inputs = self._checked(images, inputs)
        n_t = len(self.targets)
        means, covs = [np.empty((0, n_t))], [np.empty((0, n_t, n_t))]
        for start in range(0, len(images), self.batch_size):
            sl = slice(start, start + self.batch_size)
            outs = list(self._member_outputs(images[sl], inputs[sl] if self.inputs else None))
            m = np.stack([o[0] for o in outs])  # (members, b, T)
            spread = m - m.mean(axis=0)
            means.append(m.mean(axis=0))
            covs.append(np.stack([o[1] for o in outs]).mean(axis=0)
                        + np.einsum("mbt,mbs->bts", spread, spread) / len(m))
        return np.concatenate(means), np.concatenate(covs)

    def predict(self, images: np.ndarray, inputs: np.ndarray | None = None) -> dict:
        """Predict a batch of raw images (already of the models' size, see :meth:`prepare`).

        Parameters
        ----------
        images : numpy.ndarray
            ``(B, C, H, W)`` or ``(B, H, W)``, raw pixel values.
        inputs : numpy.ndarray, optional
            ``(B, I)`` known inputs in their physical units, in the order of ``self.inputs``.

        Returns
        -------
        dict
            target -> ``{"mean": (B,), "std": (B,)}`` float64 in the target's units; std is NaN
            for point heads (:meth:`predict_arrays` also gives the covariances).
        """
        mean, cov = self.predict_arrays(images, inputs)
        std = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        return {t: {"mean": mean[:, k], "std": std[:, k]} for k, t in enumerate(self.targets)}

    def _checked(self, images, inputs):
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 3:
            images = images[:, None]
        if images.ndim != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise DarklensError(
                f"predict: expected images (B, {', '.join(map(str, self.image_shape))}), "
                f"got {images.shape}"
            )
        if self.inputs:
            if inputs is None or np.shape(inputs) != (len(images), len(self.inputs)):
                raise DarklensError(
                    f"predict: the model needs inputs {self.inputs} of shape "
                    f"({len(images)}, {len(self.inputs)}), got "
                    f"{None if inputs is None else np.shape(inputs)}"
                )
            inputs = np.asarray(inputs, dtype=np.float64)
        return images, inputs


def _d4(x: torch.Tensor):
    """The 8 D4 views of ``(B, C, H, W)``: rotations by k*90 degrees, without and with a flip."""
    for flip in (False, True):
        base = torch.flip(x, dims=(-1,)) if flip else x
        for k in range(4):
            yield torch.rot90(base, k, dims=(-2, -1))


def intervals(mean, std, level: float, calibration: dict | None = None):
    """Central interval ``mean -/+ half_width`` at ``level``.

    Parameters
    ----------
    mean, std : array_like
        Predicted means and standard deviations.
    level : float
        Nominal coverage, e.g. 0.68 or 0.95.
    calibration : dict, optional
        One target's calibration ``{"sigma_scale": s, "levels": [...], "quantiles": [...]}``
        (quantiles of ``|y - mean| / std`` on held-out data). A listed level uses its conformal
        quantile ``q``: ``mean -/+ q * std``; another level the sigma-scaled Gaussian
        ``mean -/+ z * s * std``. Without it: ``mean -/+ z * std``.

    Returns
    -------
    lo, hi : numpy.ndarray
    """
    mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    half = z_value(level)
    if calibration:
        levels = [float(v) for v in calibration.get("levels", [])]
        hits = [i for i, v in enumerate(levels) if abs(v - level) < 1e-9]
        if hits:
            half = float(calibration["quantiles"][hits[0]])
        else:
            half *= float(calibration.get("sigma_scale", 1.0))
    return mean - half * std, mean + half * std
