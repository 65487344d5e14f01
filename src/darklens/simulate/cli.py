"""``darklens simulate``: the verb's flags and what it prints."""

from __future__ import annotations

import argparse

from darklens.command import Command

__all__ = ["COMMANDS"]


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="simulation config YAML, e.g. configs/sim/demo.yaml")
    p.add_argument("--out", required=True, help="output dataset file (.h5)")
    p.add_argument("-n", type=int, default=None, help="number of images (default: config n)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--shard", default=None, metavar="K/N",
                   help="write only slice K of N (0-based), for cluster array jobs")
    p.add_argument("--seed", type=int, default=None, help="override the config seed")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, dotted (repeatable): --set params.z_lens=0.4")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def _simulate(args: argparse.Namespace) -> int:
    from darklens.data.info import summary
    from darklens.simulate.runner import run

    out = run(args.config, out=args.out, n=args.n, workers=args.workers, shard=args.shard,
              seed=args.seed, overrides=args.set, overwrite=args.overwrite,
              progress=not args.quiet)
    print(f"wrote {out}")
    if not args.quiet:
        print(summary(out, config=False))
    return 0


COMMANDS = {"simulate": Command(_arguments, _simulate)}
