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


def _infer(args: argparse.Namespace) -> int:
    from darklens.infer.paths import predict_paths
    from darklens.infer.predict import Predictor
    from darklens.train.export import META

    # leading arguments that are model exports (run dir or best/) form the ensemble
    paths = [Path(p) for p in args.paths]
    n = 0
    while n < len(paths) and ((paths[n] / META).is_file() or (paths[n] / "best" / META).is_file()):
        n += 1
    if n == 0:
        raise DarklensError(f"{paths[0]}: not a model (expected a run directory or its best/ "
                            "first, then the images)")
    if n == len(paths):
        raise DarklensError("no inputs: give image files or folders after the model")
    predictor = Predictor(paths[:n], tta=args.tta, batch_size=args.batch_size)
    summary = predict_paths(predictor, paths[n:], Path(args.out), resize=args.resize,
                            crop=args.crop, strict=args.strict, progress=not args.quiet,
                            inputs_csv=args.inputs_csv)
    print(f"predicted {summary.n_ok} images -> {args.out}"
          + (f"; {summary.n_bad} bad inputs listed in {summary.paths['errors']}"
             if summary.n_bad else ""))
    return 0 if summary.n_ok else 1


def _calibrate(args: argparse.Namespace) -> int:
    from darklens.infer.calibrate import calibrate

    for name, cal in calibrate(args.model, args.datasets, tta=args.tta).items():
        quantiles = ", ".join(f"{lv:.0%}: {q:.3f}" for lv, q in zip(cal["levels"],
                                                                   cal["quantiles"], strict=True))
        print(f"{name}: n={cal['n']}, sigma scale {cal['sigma_scale']:.3f}, conformal |z| "
              f"quantiles {quantiles}; raw coverage {cal['raw_coverage']}")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    from darklens.analysis.report import analyze

    out = Path(args.out or Path(args.predictions).with_suffix("").name + "_report")
    analyze(Path(args.predictions), out, truth=args.truth)
    print(f"report: {out / 'report.html'} (and report.md, metrics.json, plots)")
    return 0


def _export(args: argparse.Namespace) -> int:
    from darklens.data.fits_export import export_fits

    inputs = [s for s in (args.inputs or "").split(",") if s]
    n, labels = export_fits(args.dataset, args.fits, inputs, args.labels, progress=not args.quiet)
    print(f"wrote {n} FITS files to {args.fits}; true values in {labels}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from darklens.analysis.compare import compare_runs

    table = compare_runs([Path(r) for r in args.runs], Path(args.out))
    print(table.to_string(index=False))
    print(f"wrote {Path(args.out) / 'comparison.md'}, comparison.csv and a bar plot")
    return 0


def _tune(args: argparse.Namespace) -> int:
    from darklens.train.tune import tune

    tune(args.config, args.trials, timeout=args.timeout, storage=args.storage, study=args.study,
         out=args.out, overrides=args.set)
    print(f"trials table {Path(args.out) / 'trials.csv'}; best config "
          f"{Path(args.out) / 'best_config.yaml'} (run it with darklens train)")
    return 0


def _study(args: argparse.Namespace) -> int:
    from darklens.train.study import run_study

    finished = run_study(Path(args.study), only=args.only)
    print(f"{len(finished)} finished runs; comparison in {Path(finished[0]).parent / 'comparison'}"
          if finished else "no finished runs")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from darklens.demo import demo

    demo(args.out, quick=args.quick, workers=args.workers, progress=not args.quiet)
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

    p = sub.add_parser("infer", help="predict on folders/files of FITS, NPY, PNG, TIFF or HDF5")
    p.add_argument("paths", nargs="+", metavar="MODEL... INPUT...",
                   help="one or more models (run directories or best/; several = an ensemble), "
                   "then image files or folders (recursive) or darklens .h5 datasets")
    p.add_argument("--out", required=True, help="predictions table: .csv, .parquet or .nc")
    p.add_argument("--tta", action="store_true", help="average over the 8 rotations/flips")
    p.add_argument("--resize", action="store_true", help="resample other sizes to the model's")
    p.add_argument("--crop", action="store_true", help="centre-crop larger images")
    p.add_argument("--strict", action="store_true", help="stop at the first bad input")
    p.add_argument("--inputs-csv", help="CSV with a source column and the known scalar inputs")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_infer)

    p = sub.add_parser("calibrate", help="fit calibrated intervals on held-out labelled data")
    p.add_argument("model", help="run directory or its best/")
    p.add_argument("datasets", nargs="+", help="darklens .h5 datasets the model never saw")
    p.add_argument("--tta", action="store_true")
    p.set_defaults(func=_calibrate)

    p = sub.add_parser("analyze", help="metrics, calibration plots and a report of predictions")
    p.add_argument("predictions", help="table written by darklens infer (with true values)")
    p.add_argument("--out", help="report folder (default: <predictions>_report)")
    p.add_argument("--truth", help="labels CSV (source, T_true...) to join by file name, "
                   "e.g. from darklens export")
    p.set_defaults(func=_analyze)

    p = sub.add_parser("compare", help="compare training runs in one table and plot")
    p.add_argument("runs", nargs="+", help="run directories from darklens train")
    p.add_argument("--out", default="comparison", help="output folder (default comparison/)")
    p.set_defaults(func=_compare)

    p = sub.add_parser("tune", help="search hyper-parameters with optuna (search: block)")
    p.add_argument("config", help="training config with search: (and tune:) blocks")
    p.add_argument("--trials", type=int, required=True, help="trial budget of the whole study")
    p.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    p.add_argument("--storage", help="optuna storage: sqlite:///f.db (default <out>/study.db), "
                   "a .log/.journal file on a shared disk, or postgresql://...")
    p.add_argument("--study", help="study name (workers with the same storage and name join)")
    p.add_argument("--out", default="runs/tune", help="folder for trials and results")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a training key for every trial")
    p.set_defaults(func=_tune)

    p = sub.add_parser("study", help="train a list of model variants and compare them")
    p.add_argument("study", help="study YAML, e.g. configs/study/seed_backbones.yaml")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="train only this variant (repeatable; to split a study across machines)")
    p.set_defaults(func=_study)

    p = sub.add_parser("demo", help="the whole path on a small embedded example (~2 min on a CPU)")
    p.add_argument("--out", default="darklens-demo", help="folder for everything it makes")
    p.add_argument("--quick", action="store_true", help="a tiny version (seconds; for CI)")
    p.add_argument("--workers", type=int, default=2, help="simulation worker processes")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_demo)

    p = sub.add_parser("merge", help="combine shard files into one dataset (no copying)")
    p.add_argument("out", help="merged dataset file to write")
    p.add_argument("shards", nargs="+", help="shard files from simulate --shard")
    p.set_defaults(func=_merge)

    p = sub.add_parser("export", help="write a dataset as FITS files plus a labels CSV")
    p.add_argument("dataset", help="dataset file (.h5)")
    p.add_argument("--fits", required=True, metavar="DIR", help="folder for lens_NNNNN.fits")
    p.add_argument("--inputs", metavar="A,B", help="variables to write as header keywords "
                   "(known inputs, e.g. z_lens,z_source)")
    p.add_argument("--labels", help="labels CSV (default: DIR.labels.csv)")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_export)

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
