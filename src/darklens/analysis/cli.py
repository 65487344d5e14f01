"""``darklens analyze``, ``compare`` and ``population``: the verbs' flags and what they print."""

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


def _population_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("predictions", help="table written by darklens infer")
    p.add_argument("--target", required=True, help="target to combine, e.g. log10_m_axion")
    prior = p.add_mutually_exclusive_group()
    prior.add_argument("--prior", nargs=2, type=float, metavar=("LO", "HI"),
                       help="range of the uniform training prior of the target")
    prior.add_argument("--model", help="the model that made the predictions (its training "
                       "range is the prior)")
    p.add_argument("--keep-flagged", action="store_true",
                   help="also combine images flagged out of distribution")
    p.add_argument("--out", help="output folder (default: <predictions>_population)")


def _population(args: argparse.Namespace) -> int:
    from darklens.analysis.population import population_report

    out = Path(args.out or Path(args.predictions).with_suffix("").name + "_population")
    s = population_report(args.predictions, args.target, out, prior=args.prior,
                          model=args.model, keep_flagged=args.keep_flagged)
    print(f"{s['n']} lenses combined ({s['n_flagged']} flagged out of distribution left out)")
    for quantity in ("mean", "scatter"):
        q = s[quantity]
        print(f"population {quantity} of {args.target}: {q['median']:.4g} "
              f"(68 % {q['68'][0]:.4g} .. {q['68'][1]:.4g}; 95 % {q['95'][0]:.4g} .. "
              f"{q['95'][1]:.4g})")
    if "truth" in s:
        print(f"true values of these lenses: mean {s['truth']['mean']:.4g}, "
              f"scatter {s['truth']['scatter']:.4g}")
    print(f"wrote {out / 'population.json'} and population.png")
    return 0


COMMANDS = {
    "analyze": Command(_analyze_arguments, _analyze),
    "compare": Command(_compare_arguments, _compare),
    "population": Command(_population_arguments, _population),
}
