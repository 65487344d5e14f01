"""Learning curves of training runs side by side: validation MAE against images seen and time.

    python benchmarks/science/learning_curves.py runs/resnet10t runs/resnet10t_nopool \\
        --out curves.png --target log10_m_axion
    python benchmarks/science/learning_curves.py stage0 stage1 final --chain --out curriculum.png

Each run directory's ``metrics.csv`` gives, per epoch, the validation MAE, the images/s and
(from ``config.yaml``) the training-set size, hence images seen and training time. With
``--chain`` the runs are consecutive stages of one curriculum and their curves are joined. The
table printed below the plot is what RESULTS.md quotes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from darklens.artifact import RunDir
from darklens.columns import metric_column
from darklens.data.catalog import describe


def curve(run: Path, target: str) -> pd.DataFrame:
    """Per epoch: images seen, training seconds and validation MAE of one run."""
    rd = RunDir(run)
    rows = pd.read_csv(rd.metrics)
    data = yaml.safe_load(rd.config.read_text())["data"]
    n = data["images_per_epoch"] if data.get("simulate") else describe(data["files"]).n
    batch = yaml.safe_load(rd.config.read_text())["train"]["batch_size"]
    per_epoch = n // batch * batch
    return pd.DataFrame({
        "run": run.name, "epoch": rows["epoch"],
        "images": rows["epoch"] * per_epoch,
        "seconds": np.cumsum(per_epoch / rows["images_per_s"]),
        "mae": rows[metric_column("mae", target)],
    })


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--target", default="log10_m_axion")
    p.add_argument("--chain", action="store_true", help="the runs are curriculum stages")
    p.add_argument("--out", type=Path, default=Path("learning_curves.png"))
    p.add_argument("--labels", nargs="*", help="legend labels (default: run names)")
    args = p.parse_args()
    curves = [curve(r, args.target) for r in args.runs]
    if args.chain:
        for before, after in zip(curves, curves[1:], strict=False):
            after["images"] += before["images"].iloc[-1]
            after["seconds"] += before["seconds"].iloc[-1]

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2, sharey=True)
    labels = args.labels or [c["run"].iloc[0] for c in curves]
    for c, label in zip(curves, labels, strict=True):
        axes[0].plot(c["images"] / 1e3, c["mae"], "o-", label=label)
        axes[1].plot(c["seconds"] / 60, c["mae"], "o-", label=label)
    axes[0].set(xlabel="training images seen (thousands)", ylabel=f"validation MAE {args.target}")
    axes[1].set(xlabel="training time (minutes, this machine)")
    axes[0].legend(fontsize=8)
    fig.savefig(args.out, dpi=100)
    table = pd.concat(curves)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
