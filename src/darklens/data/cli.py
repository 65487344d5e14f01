"""``darklens merge``, ``info`` and ``export``: the verbs' flags and what they print."""

from __future__ import annotations

import argparse
from pathlib import Path

from darklens.command import Command

__all__ = ["COMMANDS"]


def _merge_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", help="merged dataset file to write")
    p.add_argument("shards", nargs="+", help="shard files from simulate --shard")


def _merge(args: argparse.Namespace) -> int:
    from darklens.data.merge import merge

    merge(Path(args.out), [Path(p) for p in args.shards])
    print(f"wrote {args.out} (virtual dataset over {len(args.shards)} shards)")
    return 0


def _info_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="dataset file (.h5)")
    p.add_argument("--plot", metavar="PNG", help="also save a grid of example images")
    p.add_argument("--n-plot", type=int, default=16, help="images in the grid (default 16)")


def _info(args: argparse.Namespace) -> int:
    from darklens.data.info import summary

    print(summary(Path(args.dataset)))
    if args.plot:
        from darklens.data.preview import plot_examples

        png = plot_examples(Path(args.dataset), Path(args.plot), n=args.n_plot)
        print(f"wrote {png}")
    return 0


def _export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="dataset file (.h5)")
    p.add_argument("--fits", required=True, metavar="DIR", help="folder for lens_NNNNN.fits")
    p.add_argument("--inputs", metavar="A,B", help="variables to write as header keywords "
                   "(known inputs, e.g. z_lens,z_source)")
    p.add_argument("--labels", help="labels CSV (default: DIR.labels.csv)")
    p.add_argument("-q", "--quiet", action="store_true")


def _export(args: argparse.Namespace) -> int:
    from darklens.data.fits_export import export_fits

    inputs = [s for s in (args.inputs or "").split(",") if s]
    n, labels = export_fits(args.dataset, args.fits, inputs, args.labels, progress=not args.quiet)
    print(f"wrote {n} FITS files to {args.fits}; true values in {labels}")
    return 0


COMMANDS = {
    "merge": Command(_merge_arguments, _merge),
    "info": Command(_info_arguments, _info),
    "export": Command(_export_arguments, _export),
}
