"""Markdown tables of a science task's ``results.json`` (written by run_task.py).

    python benchmarks/science/table.py bench-runs/*/results.json   # prints every task's table
"""

from __future__ import annotations

import json
import sys


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
    for pub in results.get("published", []):
        cells = [pub["model"] + " (published)", "", "", "", _f(pub.get("mae")), "",
                 _f(pub.get("r2"), ".3f")]
        if mse:
            cells.append(_f(pub.get("mse"), ".2e"))
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


if __name__ == "__main__":
    for path in sys.argv[1:]:
        with open(path) as f:
            print(task_markdown(json.load(f)))
