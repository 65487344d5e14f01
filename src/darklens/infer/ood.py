"""Out-of-distribution checks: is an image like the ones the model was trained on?

Three independent checks, each fitted on images of the training distribution when a model is
exported (end of training) or calibrated (``darklens calibrate``):

- **features**: the Mahalanobis distance of the backbone's pooled features from their training
  mean, with a Ledoit-Wolf shrunk covariance fitted on one half of the images; the threshold is
  the ``1 - false_alarm`` quantile of the distances of the other half, so an image from the
  training distribution is flagged with probability ``false_alarm``;
- **image statistics**: background level, pixel noise and total flux, each against the central
  ``1 - false_alarm / 3`` range of the same held-out half;
- **prior**: a predicted mean outside the range of the training targets.

Numbers only; torch is needed only to compute features (:func:`features`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from darklens.errors import DarklensError

__all__ = ["IMAGE_STATS", "OODModel", "fit_ood", "fit_predictor_ood", "image_stats"]

#: the image statistics checked, in order
IMAGE_STATS = ("background", "noise", "flux")


def image_stats(images: np.ndarray) -> np.ndarray:
    """Background, noise and flux of images, in their pixel units.

    Parameters
    ----------
    images : ndarray, shape (B, C, H, W)
        Raw images (as the model receives them before normalisation).

    Returns
    -------
    ndarray, shape (B, 3)
        ``background``: median of the outer tenth of the image on each side (lens images keep
        their light in the middle); ``noise``: a robust pixel rms, 1.4826 x the median absolute
        difference of horizontally adjacent pixels / sqrt(2), insensitive to smooth light;
        ``flux``: the sum of the image above the background.
    """
    x = np.asarray(images, dtype=np.float64).reshape(len(images), -1, *np.shape(images)[-2:])
    h, w = x.shape[-2:]
    bh, bw = max(1, h // 10), max(1, w // 10)
    edges = (x[..., :bh, :], x[..., -bh:, :], x[..., :, :bw], x[..., :, -bw:])
    border = np.concatenate([e.reshape(len(x), -1) for e in edges], axis=1)
    background = np.median(border, axis=1)
    diff = np.diff(x, axis=-1).reshape(len(x), -1)
    noise = 1.4826 * np.median(np.abs(diff - np.median(diff, axis=1, keepdims=True)), axis=1)
    noise /= np.sqrt(2.0)
    flux = (x.reshape(len(x), -1) - background[:, None]).sum(axis=1)
    return np.stack([background, noise, flux], axis=1)


@dataclass
class OODModel:
    """Fitted out-of-distribution checks of one model (JSON-able but for ``mean``/``precision``,
    which an export keeps in ``ood.safetensors``).

    Attributes
    ----------
    mean, precision : ndarray
        Feature mean (D,) and inverse shrunk covariance (D, D).
    threshold : float
        Mahalanobis distance above which an image is flagged.
    false_alarm : float
        The rate at which images of the training distribution are flagged by the feature check
        (and, together, by the image checks).
    stat_ranges : dict
        Per image statistic, the ``[low, high]`` accepted.
    target_ranges : dict
        Per target, the ``[low, high]`` of the training targets.
    """

    mean: np.ndarray
    precision: np.ndarray
    threshold: float
    false_alarm: float
    stat_ranges: dict = field(default_factory=dict)
    target_ranges: dict = field(default_factory=dict)

    def distance(self, feats: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of features ``(B, D)`` from the training mean."""
        d = np.asarray(feats, dtype=np.float64) - self.mean
        return np.sqrt(np.einsum("bi,ij,bj->b", d, self.precision, d).clip(min=0))

    def flags(self, feats: np.ndarray, stats: np.ndarray, means: dict) -> list[list[str]]:
        """The reasons each image is out of distribution (an empty list: it is not).

        Parameters
        ----------
        feats : ndarray (B, D)
            Pooled backbone features.
        stats : ndarray (B, 3)
            :func:`image_stats` of the raw images.
        means : dict
            Target -> predicted means (B,).
        """
        ratio = self.distance(feats) / self.threshold
        reasons: list[list[str]] = [[] for _ in range(len(ratio))]
        for i, r in enumerate(ratio):
            if r > 1:
                reasons[i].append(f"features {r:.1f}x the threshold")
        for k, name in enumerate(IMAGE_STATS):
            lo, hi = self.stat_ranges[name]
            for i, v in enumerate(stats[:, k]):
                if not lo <= v <= hi:
                    reasons[i].append(f"{name} {v:.3g} outside [{lo:.3g}, {hi:.3g}]")
        for target, (lo, hi) in self.target_ranges.items():
            for i, v in enumerate(np.asarray(means[target])):
                if not lo <= v <= hi:
                    reasons[i].append(f"{target} {v:.4g} outside the training range")
        return reasons

    def to_meta(self) -> dict:
        """The JSON part (model.json's ``ood``)."""
        return {"threshold": self.threshold, "false_alarm": self.false_alarm,
                "stat_ranges": self.stat_ranges, "target_ranges": self.target_ranges}


def fit_ood(feats: np.ndarray, stats: np.ndarray, targets: dict, false_alarm: float = 0.01,
            seed: int = 0) -> OODModel:
    """Fit the checks on images of the training distribution.

    Parameters
    ----------
    feats : ndarray (N, D)
        Pooled features of N >= 100 images the model was trained on or held out from it.
    stats : ndarray (N, 3)
        Their :func:`image_stats`.
    targets : dict
        Target -> the training targets' values (for the prior ranges).
    false_alarm : float
        Wanted rate of flags on the training distribution, per check.
    seed : int
        Seed of the random half split (fit / threshold).
    """
    from sklearn.covariance import LedoitWolf

    feats, stats = np.asarray(feats, dtype=np.float64), np.asarray(stats, dtype=np.float64)
    if len(feats) < 100:
        raise DarklensError(f"out-of-distribution fit: needs >= 100 images, got {len(feats)}")
    order = np.random.default_rng(seed).permutation(len(feats))
    fit, held = order[: len(order) // 2], order[len(order) // 2:]
    lw = LedoitWolf().fit(feats[fit])
    model = OODModel(lw.location_, lw.precision_, 1.0, false_alarm)
    model.threshold = float(np.quantile(model.distance(feats[held]), 1.0 - false_alarm))
    tail = false_alarm / (2 * len(IMAGE_STATS))  # all image checks together: ~false_alarm
    for k, name in enumerate(IMAGE_STATS):
        lo, hi = np.quantile(stats[held, k], [tail, 1.0 - tail])
        # extreme quantiles of ~1000 images are noisy: a margin of a tenth of the range keeps
        # the rate on fresh images of the training distribution at or below false_alarm
        margin = 0.1 * (hi - lo)
        model.stat_ranges[name] = [float(lo - margin), float(hi + margin)]
    model.target_ranges = {t: [float(np.min(v)), float(np.max(v))] for t, v in targets.items()}
    return model


def fit_predictor_ood(predictor, images: np.ndarray, targets: dict,
                      false_alarm: float = 0.01) -> OODModel:
    """:func:`fit_ood` for a :class:`~darklens.infer.predict.Predictor`'s first model.

    Parameters
    ----------
    predictor : Predictor
    images : ndarray (N, C, H, W)
        Raw images of the training distribution the model did not train on.
    targets : dict
        Target -> training values, for the prior ranges.
    """
    return fit_ood(predictor.features(images), image_stats(images), targets, false_alarm)
