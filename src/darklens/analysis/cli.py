"""``darklens analyze`` and ``compare``: the verbs' flags and what they print."""

from __future__ import annotations

import argparse
from pathlib import Path

from darklens.command import Command

__all__ = ["COMMANDS"]


def _analyze_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("predictions", help="table written by darklens infer (with true values)")
    p.add_argument("--out", help="report folder (default: <predictions>_report)")
    p.add_argument("--truth", help="labels CSV (source, T_true...) to join by file name, "
                   "e.g. from darklens export")


def _analyze(args: argparse.Namespace) -> int:
    from darklens.analysis.report import analyze

    out = Path(args.out or Path(args.predictions).with_suffix("").name + "_report")
    analyze(Path(args.predictions), out, truth=args.truth)
    print(f"report: {out / 'report.html'} (and report.md, metrics.json, plots)")
    return 0


def _compare_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="+", help="run directories from darklens train")
    p.add_argument("--out", default="comparison", help="output folder (default comparison/)")


def _compare(args: argparse.Namespace) -> int:
    from darklens.analysis.compare import compare_runs

    table = compare_runs([Path(r) for r in args.runs], Path(args.out))
    print(table.to_string(index=False))
    print(f"wrote {Path(args.out) / 'comparison.md'}, comparison.csv and a bar plot")
    return 0


COMMANDS = {
    "analyze": Command(_analyze_arguments, _analyze),
    "compare": Command(_compare_arguments, _compare),
}
