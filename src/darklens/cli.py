"""The ``darklens`` command: one subcommand per verb, heavy imports only inside each verb.

A user mistake (bad config, missing file, wrong flag value) prints one line
``darklens: error: ...`` and exits with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from darklens import __version__
from darklens.errors import DarklensError


def _simulate(args: argparse.Namespace) -> int:
    from darklens.data.info import summary
    from darklens.simulate.run import run

    out = run(args.config, out=args.out, n=args.n, workers=args.workers, shard=args.shard,
              seed=args.seed, overrides=args.set, overwrite=args.overwrite,
              progress=not args.quiet)
    print(f"wrote {out}")
    if not args.quiet:
        print(summary(out, config=False))
    return 0


def _merge(args: argparse.Namespace) -> int:
    from darklens.data.merge import merge

    merge(Path(args.out), [Path(p) for p in args.shards])
    print(f"wrote {args.out} (virtual dataset over {len(args.shards)} shards)")
    return 0


def _info(args: argparse.Namespace) -> int:
    from darklens.data.info import summary

    print(summary(Path(args.dataset)))
    if args.plot:
        from darklens.data.preview import plot_examples

        png = plot_examples(Path(args.dataset), Path(args.plot), n=args.n_plot)
        print(f"wrote {png}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from darklens.train.config import load_train_config
    from darklens.train.loop import train

    if args.resume:
        source = Path(args.resume) / "config.yaml"
        if args.config or args.set:
            raise DarklensError("--resume continues a run with its own config.yaml; "
                                "give no CONFIG or --set with it")
    elif args.config:
        source = args.config
    else:
        raise DarklensError("give a training CONFIG (e.g. configs/train/demo.yaml) or --resume RUN")
    cfg = load_train_config(source, args.set)
    state = train(cfg, resume=args.resume)
    run = Path(args.resume) if args.resume else cfg.out
    print(f"best epoch {state['best_epoch']} (val loss {state['best']:.5g}): {run / 'best'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="darklens",
        description="Decode dark-matter properties from strong-lensing images.",
    )
    parser.add_argument("--version", action="version", version=f"darklens {__version__}")
    sub = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    p = sub.add_parser("simulate", help="simulate lens images into an HDF5 dataset")
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
    p.set_defaults(func=_simulate)

    p = sub.add_parser("train", help="train a regressor on simulated datasets (accelerate)")
    p.add_argument("config", nargs="?", help="training config YAML, e.g. configs/train/demo.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, dotted (repeatable): --set optim.lr=3e-4")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.set_defaults(func=_train)

    p = sub.add_parser("merge", help="combine shard files into one dataset (no copying)")
    p.add_argument("out", help="merged dataset file to write")
    p.add_argument("shards", nargs="+", help="shard files from simulate --shard")
    p.set_defaults(func=_merge)

    p = sub.add_parser("info", help="describe a dataset: size, parameters, config, versions")
    p.add_argument("dataset", help="dataset file (.h5)")
    p.add_argument("--plot", metavar="PNG", help="also save a grid of example images")
    p.add_argument("--n-plot", type=int, default=16, help="images in the grid (default 16)")
    p.set_defaults(func=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except DarklensError as err:
        print(f"darklens: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("darklens: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
