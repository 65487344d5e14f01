"""``darklens compare``: one table (CSV, Markdown, bar plot) of several training runs.

Each run directory is what ``darklens train`` writes: ``config.yaml``, ``metrics.csv`` (one row
per epoch) and ``best/model.json`` + ``best/model.safetensors``; optionally
``analysis/metrics.json`` from ``darklens analyze`` of its test predictions.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from darklens.analysis import plots
from darklens.artifact import META, WEIGHTS, RunDir, read_meta
from darklens.atomic import write_text_atomic
from darklens.columns import TARGET_METRICS, metric_column
from darklens.errors import DarklensError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["compare_runs"]

_NAN = float("nan")


def _backbone(spec: dict, config: dict) -> str:
    """Backbone name(s): the exported spec first, then the run's config."""
    names = [b.get("name") for b in spec.get("backbones") or [] if isinstance(b, dict)]
    model = spec.get("model") if isinstance(spec.get("model"), dict) else None
    model = model or (config.get("model") if isinstance(config.get("model"), dict) else {})
    fusion = model.get("fusion") if isinstance(model.get("fusion"), dict) else None
    if not any(names):
        if fusion and fusion.get("kind", "backbones") == "backbones" and fusion.get("backbones"):
            names = list(fusion["backbones"])
        else:
            names = [model.get("backbone") or spec.get("backbone") or "?"]
    label = "+".join(str(n) for n in names if n)
    if fusion:  # fused models differ by how, not only what, so say it
        label += f" ({fusion.get('kind', '?')}, {fusion.get('op', '?')})"
    return label


def _count_params(weights: Path) -> float:
    """Number of scalars in a safetensors file, read from its header (no tensor is loaded)."""
    if not weights.is_file():
        return _NAN
    from safetensors import safe_open

    try:
        with safe_open(str(weights), framework="numpy") as f:
            return float(sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys()))
    except Exception as err:  # safetensors raises its own error types
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DarklensError(f"{weights}: unreadable safetensors file ({reason})") from None


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DarklensError(f"{path}: unreadable JSON ({err})") from None
    if not isinstance(data, dict):
        raise DarklensError(f"{path}: expected a JSON object")
    return data


def _read_config(run: RunDir) -> dict:
    path = run.config
    if not path.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise DarklensError(f"{path}: unreadable YAML ({str(err).splitlines()[0]})") from None
    return data if isinstance(data, dict) else {}


def _run_row(path: Path) -> tuple[dict, list[str]]:
    import pandas as pd

    run = RunDir(path)
    if not path.is_dir():
        raise DarklensError(f"{path}: run directory not found")
    if not (run.best / META).is_file():
        raise DarklensError(f"{path}: not a darklens run directory (expected best/{META})")
    meta = read_meta(run.best)
    targets = meta.targets
    config = _read_config(run)
    spec = meta.model_spec

    epochs = None
    if run.metrics.is_file():
        try:
            epochs = pd.read_csv(run.metrics)
        except (ValueError, pd.errors.ParserError) as err:
            raise DarklensError(f"{run.metrics}: unreadable CSV ({err})") from None
    best = dict(meta.val_metrics)
    if epochs is not None and "epoch" in epochs and meta.epoch is not None:
        # the CSV row of the best epoch fills anything the export's val_metrics lacks
        match = epochs[epochs["epoch"] == meta.epoch]
        if len(match):
            best = {**match.iloc[-1].to_dict(), **best}

    rate = _NAN
    if epochs is not None and "images_per_s" in epochs:
        rate = float(np.nanmean(epochs["images_per_s"].to_numpy(float)))
    row = {
        "run": path.name,
        "path": str(path),
        "backbone": _backbone(spec, config),
        "head": spec.get("head", "?"),
        "params": _count_params(run.best / WEIGHTS),
        "images_per_s": rate,
        "best_epoch": meta.epoch if meta.epoch is not None else best.get("epoch"),
    }
    for t in targets:
        for key in TARGET_METRICS:
            value = best.get(metric_column(key, t))
            row[metric_column(key, t)] = _NAN if value is None else float(value)

    analysis = run.analysis / "metrics.json"
    if analysis.is_file():
        tested = _read_json(analysis)
        for t in targets:
            m = tested.get(t) or {}
            nll, area = m.get("nll"), m.get("miscalibration_area")
            row[f"nll_{t}"] = _NAN if nll is None else float(nll)
            row[f"coverage_error_{t}"] = _NAN if area is None else float(area)
    return row, targets


def _markdown(table) -> str:
    def cell(v) -> str:
        if isinstance(v, float):
            if not math.isfinite(v):
                return "–"
            return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:.4g}"
        return str(v)

    cols = [c for c in table.columns if c != "path"]
    lines = [
        "# darklens run comparison",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    lines += ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for r in table.to_dict("records")]
    lines += [
        "",
        "Validation metrics at each run's best epoch; `nll_*` and `coverage_error_*` "
        "(mean |empirical - nominal| coverage) come from `analysis/metrics.json` of the "
        "run's test predictions when present.",
        "",
        "![MAE per run](comparison.png)",
    ]
    return "\n".join(lines) + "\n"


def compare_runs(run_dirs, out_dir) -> pd.DataFrame:
    """Compare training runs side by side.

    Parameters
    ----------
    run_dirs : sequence of path
        Run directories made by ``darklens train``.
    out_dir : path
        Created if needed; receives ``comparison.csv``, ``comparison.md`` and
        ``comparison.png`` (MAE of the first run's first target), all written atomically.

    Returns
    -------
    pandas.DataFrame
        One row per run: ``run``, ``path``, ``backbone``, ``head``, ``params``,
        ``images_per_s`` (mean over epochs), ``best_epoch``, ``mae_T``, ``rmse_T``, ``r2_T``
        per target, and ``nll_T``, ``coverage_error_T`` when the run has an analysis.
    """
    import pandas as pd

    run_dirs = [Path(r) for r in run_dirs]
    if not run_dirs:
        raise DarklensError("compare: expected at least one run directory")
    rows, first = [], None
    for run in run_dirs:
        row, targets = _run_row(run)
        rows.append(row)
        first = first or targets[0]
    table = pd.DataFrame(rows)
    if table["run"].duplicated().any():  # same folder name in different places: keep them apart
        table["run"] = table["path"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out_dir / "comparison.csv", table.to_csv(index=False))
    write_text_atomic(out_dir / "comparison.md", _markdown(table))
    if f"mae_{first}" in table:
        plots.compare_bars(table, f"mae_{first}", out_dir / "comparison.png")
    return table
