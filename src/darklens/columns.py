"""Column names of the tables darklens writes, declared once and read everywhere.

Two tables: ``metrics.csv`` of a training run (one row per epoch; also what ``tune`` optimises
and ``compare`` tabulates) and the predictions table of ``infer`` (one row per image; what
``analyze`` reads). Interval levels live here too, so the columns and their coverage agree.
"""

from __future__ import annotations

import re

__all__ = [
    "EPOCH_COLUMNS", "LEVELS", "OOD", "OOD_REASONS", "OOD_SCORE", "SOURCE", "TARGET_METRICS",
    "cov_column", "interval_columns", "mean_column",
    "metric_column", "metrics_columns", "parse_interval", "predicted_targets",
    "prediction_columns", "std_column", "true_column",
]

#: columns of every ``metrics.csv`` row before the per-target ones
EPOCH_COLUMNS = ("epoch", "lr", "train_loss", "val_loss", "images_per_s")
#: validation metrics per target in ``metrics.csv``, in the targets' physical units
TARGET_METRICS = ("mae", "rmse", "r2")

#: the image (file path or ``file.h5#index``) a prediction row belongs to
SOURCE = "source"
#: central intervals of a predictions table: column tag -> nominal coverage
LEVELS = {68: 0.68, 95: 0.95}
#: out-of-distribution columns of a predictions table: flagged (bool), the feature distance in
#: units of its threshold, and the reasons ("; "-separated)
OOD, OOD_SCORE, OOD_REASONS = "ood", "ood_score", "ood_reasons"

_INTERVAL = re.compile(r"^(?P<target>.+)_lo(?P<tag>\d+)$")


def metric_column(metric: str, target: str) -> str:
    """``metrics.csv`` column of one validation metric of one target, e.g. ``mae_f_sub``."""
    return f"{metric}_{target}"


def metrics_columns(targets: list[str]) -> list[str]:
    """Every ``metrics.csv`` column of a run with these targets, in file order."""
    return [*EPOCH_COLUMNS] + [metric_column(m, t) for m in TARGET_METRICS for t in targets]


def mean_column(target: str) -> str:
    return f"{target}_mean"


def std_column(target: str) -> str:
    return f"{target}_std"


def true_column(target: str) -> str:
    return f"{target}_true"


def predicted_targets(columns) -> list[str]:
    """Targets a predictions table has ``T_mean`` columns for, in column order."""
    return [c.removesuffix("_mean") for c in columns if c.endswith("_mean")]


def cov_column(a: str, b: str) -> str:
    """Predicted covariance of targets ``a`` and ``b`` (full-covariance models only)."""
    return f"cov_{a}__{b}"


def interval_columns(target: str, tag: int) -> tuple[str, str]:
    """Lower and upper bound columns of the ``tag`` % central interval."""
    return f"{target}_lo{tag}", f"{target}_hi{tag}"


def prediction_columns(targets: list[str], covariance: bool = False) -> list[str]:
    """Columns of a predictions table, before the optional ``T_true`` ones (``covariance``:
    the off-diagonal covariances of a full-covariance model too)."""
    columns = [SOURCE]
    for t in targets:
        columns += [mean_column(t), std_column(t)]
        for tag in LEVELS:
            columns += interval_columns(t, tag)
    if covariance:
        columns += [cov_column(a, b) for i, a in enumerate(targets) for b in targets[i + 1:]]
    return columns + [OOD, OOD_SCORE, OOD_REASONS]


def parse_interval(column: str) -> tuple[str, int] | None:
    """``("f_sub", 68)`` for ``"f_sub_lo68"``; None for any other column."""
    m = _INTERVAL.match(column)
    return (m["target"], int(m["tag"])) if m else None
