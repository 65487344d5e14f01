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


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, int):
        return str(v)
    return "–" if not math.isfinite(v) else f"{v:.4g}"


def markdown_report(source: Path, metrics: dict, figures: dict) -> str:
    keys = [(k, h) for k, h in _SUMMARY if any(k in m for m in metrics.values())]
    lines = [
        f"# darklens analysis of `{source.name}`",
        "",
        "| target | " + " | ".join(h for _, h in keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for name, m in metrics.items():
        lines.append(f"| {P.with_units(name)} | "
                     + " | ".join(_fmt(m.get(k)) for k, _ in keys) + " |")
    for name, m in metrics.items():
        lines += [
            "",
            f"## {P.label(name)} (`{name}`)",
            "",
            "| bin of truth | n | MAE | RMSE | bias |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| [{_fmt(b['lo'])}, {_fmt(b['hi'])}] | {b['n']} | {_fmt(b['mae'])} | "
            f"{_fmt(b['rmse'])} | {_fmt(b['bias'])} |"
            for b in m["per_bin"]
        ]
        lines.append("")
        lines += [f"![{cap}]({fname})" for cap, fname in figures[name]]
    return "\n".join(lines) + "\n"


def html_report(source: Path, metrics: dict, figures: dict) -> str:
    e = html.escape
    keys = [(k, h) for k, h in _SUMMARY if any(k in m for m in metrics.values())]
    rows = "".join(
        f"<tr><td>{e(P.with_units(name))}</td>"
        + "".join(f"<td>{_fmt(m.get(k))}</td>" for k, _ in keys) + "</tr>"
        for name, m in metrics.items()
    )
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>darklens analysis: {e(source.name)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}"
        "img{max-width:32%;margin:4px}</style></head><body>",
        f"<h1>darklens analysis of <code>{e(source.name)}</code></h1>",
        "<table><tr><th>target</th>" + "".join(f"<th>{e(h)}</th>" for _, h in keys) + "</tr>",
        rows,
        "</table>",
    ]
    for name, m in metrics.items():
        parts.append(
            f"<h2>{e(P.label(name))} (<code>{e(name)}</code>)</h2>"
            "<table><tr><th>bin of truth</th><th>n</th><th>MAE</th>"
            "<th>RMSE</th><th>bias</th></tr>"
        )
        parts += [
            f"<tr><td>[{_fmt(b['lo'])}, {_fmt(b['hi'])}]</td><td>{b['n']}</td>"
            f"<td>{_fmt(b['mae'])}</td><td>{_fmt(b['rmse'])}</td><td>{_fmt(b['bias'])}</td>"
            "</tr>"
            for b in m["per_bin"]
        ]
        parts.append("</table><div>")
        parts += [
            f"<img src='{e(fname)}' alt='{e(cap)}' title='{e(cap)}'>"
            for cap, fname in figures[name]
        ]
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
