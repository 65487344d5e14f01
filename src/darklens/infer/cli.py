"""``darklens infer`` and ``calibrate``: the verbs' flags and what they print."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from darklens.command import Command
from darklens.errors import DarklensError

__all__ = ["COMMANDS"]


def _infer_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="MODEL... INPUT...",
                   help="one or more models (run directories or best/; several = an ensemble), "
                   "then image files or folders (recursive) or darklens .h5 datasets")
    p.add_argument("--out", required=True, help="predictions table: .csv, .parquet or .nc")
    p.add_argument("--tta", action="store_true", help="average over the 8 rotations/flips")
    p.add_argument("--resize", action="store_true", help="resample other sizes to the model's")
    p.add_argument("--crop", action="store_true", help="centre-crop larger images")
    p.add_argument("--resample", action="store_true",
                   help="resample FITS cutouts of another pixel scale (WCS/PIXSCALE) onto the "
                   "model's, flux conserved (reproject); without it they are refused")
    p.add_argument("--band-suffixes", metavar="SUFFIXES",
                   help="one file per band: comma-separated name endings before the extension, "
                   "in the model's band order (e.g. _g,_r,_i: X_g.fits, X_r.fits, X_i.fits are "
                   "one image X)")
    p.add_argument("--subtract-lens-light", action="store_true",
                   help="fit an elliptical Sersic to the lens galaxy of every image (each band) "
                   "and subtract it before predicting")
    p.add_argument("--strict", action="store_true", help="stop at the first bad input")
    p.add_argument("--inputs-csv", help="CSV with a source column and the known scalar inputs")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("-q", "--quiet", action="store_true")


def _infer(args: argparse.Namespace) -> int:
    from darklens.artifact import RunDir, read_meta
    from darklens.infer.band_groups import check_band_suffixes, parse_band_suffixes
    from darklens.infer.lens_light import lens_light_warnings
    from darklens.infer.paths import predict_paths
    from darklens.infer.predict import Predictor

    # leading arguments that are model exports (run dir or best/) form the ensemble
    paths = [Path(p) for p in args.paths]
    n = 0
    while n < len(paths) and RunDir.is_model(paths[n]):
        n += 1
    if n == 0:
        raise DarklensError(f"{paths[0]}: not a model (expected a run directory or its best/ "
                            "first, then the images)")
    if n == len(paths):
        raise DarklensError("no inputs: give image files or folders after the model")
    predictor = Predictor(paths[:n], tta=args.tta, batch_size=args.batch_size)
    metas = {str(p): read_meta(p) for p in paths[:n]}
    suffixes = parse_band_suffixes(args.band_suffixes) if args.band_suffixes else None
    if suffixes:  # here the message can name the model's bands
        check_band_suffixes(suffixes, predictor.bands,
                            getattr(metas[str(paths[0])], "band_names", None))
    for line in lens_light_warnings(metas, args.subtract_lens_light):
        print(f"darklens: warning: {line}", file=sys.stderr)
    summary = predict_paths(predictor, paths[n:], Path(args.out), resize=args.resize,
                            crop=args.crop, resample=args.resample, strict=args.strict,
                            progress=not args.quiet, inputs_csv=args.inputs_csv,
                            band_suffixes=suffixes,
                            subtract_lens_light=args.subtract_lens_light)
    print(f"predicted {summary.n_ok} images -> {args.out}"
          + (f"; {summary.n_bad} bad inputs listed in {summary.paths['errors']}"
             if summary.n_bad else ""))
    if summary.n_ood is None:
        print("the model has no out-of-distribution checks (exported before them): run "
              "darklens calibrate on held-out data to fit them")
    else:
        print(f"{summary.n_ood} of {summary.n_ok} images flagged as out of distribution "
              f"(columns ood, ood_score, ood_reasons)")
    return 0 if summary.n_ok else 1


def _calibrate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="run directory or its best/")
    p.add_argument("datasets", nargs="+", help="darklens .h5 datasets the model never saw")
    p.add_argument("--tta", action="store_true")


def _calibrate(args: argparse.Namespace) -> int:
    from darklens.infer.calibrate import calibrate

    for name, cal in calibrate(args.model, args.datasets, tta=args.tta).items():
        quantiles = ", ".join(f"{lv:.0%}: {q:.3f}" for lv, q in zip(cal["levels"],
                                                                   cal["quantiles"], strict=True))
        print(f"{name}: n={cal['n']}, sigma scale {cal['sigma_scale']:.3f}, conformal |z| "
              f"quantiles {quantiles}; raw coverage {cal['raw_coverage']}")
    return 0


COMMANDS = {
    "infer": Command(_infer_arguments, _infer),
    "calibrate": Command(_calibrate_arguments, _calibrate),
}
