"""Markdown tables of a science task's ``results.json`` (written by run_task.py).

    python benchmarks/science/table.py bench-runs/* --plots benchmarks/science/plots
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def _f(value, fmt=".4f") -> str:
    return "—" if value is None else format(value, fmt)


def _coverage(m: dict | None) -> str:
    if not m or m.get("interval_coverage_68") is None:
        return "—"
    return f"{m['interval_coverage_68']:.3f} / {m['interval_coverage_95']:.3f}"


def task_markdown(results: dict) -> str:
    """The task's model table, per-bin MAE table and shift table, as Markdown."""
    target, sizes = results["target"], results["sizes"]
    mse = target == "f_sub"
    lines = [
        f"### {results['task']}: `{target}`",
        "",
        f"Sets: {sizes['train']} train, {sizes['val']} val, {sizes['calib']} calibration, "
        f"{sizes['test']} test (FITS files through `darklens infer`).",
        "",
        "| model | train images | epochs | train wall | MAE | RMSE | R² |"
        + (" MSE |" if mse else "")
        + " cov. 68/95 raw | cov. 68/95 calibrated |",
        "|---|---|---|---|---|---|---|" + ("---|" if mse else "") + "---|---|",
    ]
    for name, row in results["models"].items():
        m = row.get("calibrated", row["raw"])  # calibration moves intervals, not the means
        wall = row.get("train_wall_s")
        cells = [f"`{name}`", str(row["train_images"]), str(row["epochs"]),
                 "—" if wall is None else f"{wall / 60:.1f} min",
                 _f(m["mae"]), _f(m["rmse"]), _f(m["r2"], ".3f")]
        if mse:
            cells.append(_f(m["rmse"] ** 2, ".2e"))
        cells += [_coverage(row["raw"]) if row["raw"].get("nll") is not None else "— (point)",
                  _coverage(row.get("calibrated"))]
        lines.append("| " + " | ".join(cells) + " |")
    rows = [(pub, "published") for pub in results.get("published", [])]
    for pub, kind in rows + [(ref, "reference") for ref in results.get("reference", [])]:
        given = {k: "" if pub.get(k) is None else _f(pub[k], fmt)
                 for k, fmt in (("mae", ".4f"), ("r2", ".3f"), ("mse", ".2e"))}
        cells = [f"{pub['model']} ({kind})", "", "", "", given["mae"], "", given["r2"]]
        if mse:
            cells.append(given["mse"])
        lines.append("| " + " | ".join(cells + ["", ""]) + " |")

    first = next(iter(results["models"].values()))["raw"]["per_bin"]
    lines += ["", "Per-bin MAE (equal-width bins of the true value):", "",
              "| model | " + " | ".join(f"[{b['lo']:.3g}, {b['hi']:.3g}]" for b in first) + " |",
              "|---|" + "---|" * len(first)]
    for name, row in results["models"].items():
        bins = row["raw"]["per_bin"]
        lines.append(f"| `{name}` | " + " | ".join(_f(b["mae"]) for b in bins) + " |")

    if results.get("shifts"):
        best = results["models"]["best"].get("calibrated", results["models"]["best"]["raw"])
        lines += ["", "Robustness of the calibrated `best` model (test sets with another "
                  "instrument):", "", "| test set | MAE | R² | cov. 68/95 |", "|---|---|---|---|",
                  f"| nominal | {_f(best['mae'])} | {_f(best['r2'], '.3f')} | "
                  f"{_coverage(best)} |"]
        for shift, s in results["shifts"].items():
            m = s["calibrated"]
            lines.append(f"| {shift} (`{'; '.join(s['set'])}`) | {_f(m['mae'])} | "
                         f"{_f(m['r2'], '.3f')} | {_coverage(m)} |")
    return "\n".join(lines) + "\n"


def copy_plots(task_dir: Path, dest: Path) -> list[Path]:
    """Copy the calibrated best model's true-vs-predicted and coverage plots of one task."""
    results = json.loads((task_dir / "results.json").read_text())
    report = task_dir / results["models"]["best"]["calibrated"]["report"]
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for kind in ("true_vs_pred", "coverage"):
        copied.append(dest / f"{task_dir.name}_best_{kind}.png")
        shutil.copyfile(report / f"{results['target']}_{kind}.png", copied[-1])
    return copied


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="+", type=Path, help="task folders of run_task.py")
    parser.add_argument("--plots", type=Path, help="copy the key plots into this folder")
    args = parser.parse_args()
    for task_dir in args.tasks:
        print(task_markdown(json.loads((task_dir / "results.json").read_text())))
        if args.plots:
            copy_plots(task_dir, args.plots)
