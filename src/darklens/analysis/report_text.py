"""The Markdown and HTML pages of ``darklens analyze`` (text only; numbers and figures are
made in report.py). Targets are labelled with their long names and units from params.py."""

from __future__ import annotations

import html
import math
from pathlib import Path

from darklens import params as P

__all__ = ["html_report", "markdown_report"]

#: Summary columns of the report's table, in order (key, heading).
_SUMMARY = [
    ("n", "n"),
    ("mae", "MAE"),
    ("rmse", "RMSE"),
    ("r2", "R²"),
    ("bias", "bias"),
    ("median_abs", "median abs. err"),
    ("nll", "NLL"),
    ("crps", "CRPS"),
    ("miscalibration_area", "miscal. area"),
    ("pit_ks_pvalue", "PIT KS p"),
    ("interval_coverage_68", "cov. 68 %"),
    ("interval_coverage_95", "cov. 95 %"),
]
_BIN = [("n", "n"), ("mae", "MAE"), ("rmse", "RMSE"), ("bias", "bias"),
        ("coverage_68", "cov. 68 %"), ("coverage_95", "cov. 95 %")]


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, int):
        return str(v)
    return "–" if not math.isfinite(v) else f"{v:.4g}"


def _targets(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k != "joint"}


def _summary(metrics: dict):
    """Headings and rows of the summary table: every target, and the same without the images
    flagged as out of distribution."""
    targets = _targets(metrics)
    keys = [(k, h) for k, h in _SUMMARY if any(k in m for m in targets.values())]
    rows = []
    for name, m in targets.items():
        rows.append([P.with_units(name)] + [_fmt(m.get(k)) for k, _ in keys])
        if "not_flagged" in m:
            label = f"{name}, without the {m['n_flagged']} flagged out of distribution"
            rows.append([label] + [_fmt(m["not_flagged"].get(k)) for k, _ in keys])
    return ["target"] + [h for _, h in keys], rows


def _bins(m: dict):
    keys = [(k, h) for k, h in _BIN if any(k in b for b in m["per_bin"])]
    rows = [[f"[{_fmt(b['lo'])}, {_fmt(b['hi'])}]"] + [_fmt(b.get(k)) for k, _ in keys]
            for b in m["per_bin"]]
    return ["bin of truth"] + [h for _, h in keys], rows


def _joint_text(joint: dict) -> str:
    return (f"Joint calibration of {', '.join(joint['targets'])} ({joint['covariance']} "
            f"covariance, n = {joint['n']}): TARP expected coverage deviates from the "
            f"credibility by at most {joint['tarp_error']:.3f} (0 when calibrated).")


def _md_table(head: list, rows: list) -> list[str]:
    return (["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
            + ["| " + " | ".join(r) + " |" for r in rows])


def markdown_report(source: Path, metrics: dict, figures: dict) -> str:
    lines = [f"# darklens analysis of `{source.name}`", "", *_md_table(*_summary(metrics))]
    for name, m in _targets(metrics).items():
        lines += ["", f"## {P.label(name)} (`{name}`)", "", *_md_table(*_bins(m)), ""]
        lines += [f"![{cap}]({fname})" for cap, fname in figures[name]]
    if "joint" in metrics:
        lines += ["", "## Joint", "", _joint_text(metrics["joint"]), ""]
        lines += [f"![{cap}]({fname})" for cap, fname in figures["joint"]]
    return "\n".join(lines) + "\n"


def _html_table(head: list, rows: list) -> str:
    e = html.escape
    return ("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
            + "</table>")


def _images(figs) -> str:
    e = html.escape
    return "<div>" + "".join(f"<img src='{e(f)}' alt='{e(c)}' title='{e(c)}'>"
                             for c, f in figs) + "</div>"


def html_report(source: Path, metrics: dict, figures: dict) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>darklens analysis: {e(source.name)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
        "img{max-width:32%;margin:4px}</style></head><body>",
        f"<h1>darklens analysis of <code>{e(source.name)}</code></h1>",
        _html_table(*_summary(metrics)),
    ]
    for name, m in _targets(metrics).items():
        parts += [f"<h2>{e(P.label(name))} (<code>{e(name)}</code>)</h2>",
                  _html_table(*_bins(m)), _images(figures[name])]
    if "joint" in metrics:
        parts += ["<h2>Joint</h2>", f"<p>{e(_joint_text(metrics['joint']))}</p>",
                  _images(figures["joint"])]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
