"""The ``darklens`` command: a table of verbs, each declared and run by its own package.

Only the chosen verb's module is imported (and each imports its heavy dependencies inside the
verb), so ``darklens --help`` and the simulation verbs start quickly and need no torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from darklens import __version__
from darklens.command import run_command

#: verb -> (module whose ``COMMANDS`` holds it, one-line help)
VERBS = {
    "simulate": ("darklens.simulate.cli", "simulate lens images into an HDF5 dataset"),
    "train": ("darklens.train.cli", "train a regressor on simulated datasets (accelerate)"),
    "infer": ("darklens.infer.cli", "predict on folders/files of FITS, NPY, PNG, TIFF or HDF5"),
    "calibrate": ("darklens.infer.cli", "fit calibrated intervals on held-out labelled data"),
    "analyze": ("darklens.analysis.cli", "metrics, calibration plots and a report of predictions"),
    "population": ("darklens.analysis.cli",
                   "posterior of a target's mean and scatter over many lenses"),
    "compare": ("darklens.analysis.cli", "compare training runs in one table and plot"),
    "tune": ("darklens.train.cli", "search hyper-parameters with optuna (search: block)"),
    "study": ("darklens.train.cli", "train a list of model variants and compare them"),
    "demo": ("darklens.demo", "the whole path on a small embedded example (~3 min on a CPU)"),
    "merge": ("darklens.data.cli", "combine shard files into one dataset (no copying)"),
    "export": ("darklens.data.cli", "write a dataset as FITS files plus a labels CSV"),
    "info": ("darklens.data.cli", "describe a dataset: size, parameters, config, versions"),
}


def command(verb: str):
    """The :class:`~darklens.command.Command` of a verb (imports its module)."""
    return importlib.import_module(VERBS[verb][0]).COMMANDS[verb]


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The parser; only ``verb``'s arguments are added (the others are not imported)."""
    parser = argparse.ArgumentParser(
        prog="darklens", description="Decode dark-matter properties from strong-lensing images.")
    parser.add_argument("--version", action="version", version=f"darklens {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    for name, (_, text) in VERBS.items():
        p = sub.add_parser(name, help=text, description=text)
        if name == verb:
            command(name).arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    verb = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(verb if verb in VERBS else None).parse_args(argv)
    return run_command(args.verb, command(args.verb).run, args)


if __name__ == "__main__":
    sys.exit(main())
