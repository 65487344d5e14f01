"""``darklens train``, ``tune`` and ``study``: the verbs' flags and what they print.

``accelerate launch -m darklens.train`` runs the train verb on every process (see
``__main__.py``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from darklens.command import Command
from darklens.errors import DarklensError

__all__ = ["COMMANDS"]


def _train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="training config YAML, e.g. configs/train/demo.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, dotted (repeatable): --set optim.lr=3e-4")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")


def _train(args: argparse.Namespace) -> int:
    from darklens.artifact import RunDir
    from darklens.train.config import load_train_config
    from darklens.train.loop import train

    if args.resume:
        source = RunDir(args.resume).config
        if args.config or args.set:
            raise DarklensError("--resume continues a run with its own config.yaml; "
                                "give no CONFIG or --set with it")
    elif args.config:
        source = args.config
    else:
        raise DarklensError("give a training CONFIG (e.g. configs/train/demo.yaml) or --resume RUN")
    cfg = load_train_config(source, args.set)
    state = train(cfg, resume=args.resume)
    run = RunDir(args.resume or cfg.out)
    print(f"best epoch {state['best_epoch']} (val loss {state['best']:.5g}): {run.best}")
    return 0


def _tune_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="training config with search: (and tune:) blocks")
    p.add_argument("--trials", type=int, required=True, help="trial budget of the whole study")
    p.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    p.add_argument("--storage", help="optuna storage: sqlite:///f.db (default <out>/study.db), "
                   "a .log/.journal file on a shared disk, or postgresql://...")
    p.add_argument("--study", help="study name (workers with the same storage and name join)")
    p.add_argument("--out", default="runs/tune", help="folder for trials and results")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a training key for every trial")


def _tune(args: argparse.Namespace) -> int:
    from darklens.train.tune import tune

    tune(args.config, args.trials, timeout=args.timeout, storage=args.storage, study=args.study,
         out=args.out, overrides=args.set)
    print(f"trials table {Path(args.out) / 'trials.csv'}; best config "
          f"{Path(args.out) / 'best_config.yaml'} (run it with darklens train)")
    return 0


def _study_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("study", help="study YAML, e.g. configs/study/seed_backbones.yaml")
    p.add_argument("--only", action="append", metavar="NAME",
                   help="train only this variant (repeatable; to split a study across machines)")


def _study(args: argparse.Namespace) -> int:
    from darklens.train.study import run_study

    finished = run_study(Path(args.study), only=args.only)
    print(f"{len(finished)} finished runs; comparison in {Path(finished[0]).parent / 'comparison'}"
          if finished else "no finished runs")
    return 0


COMMANDS = {
    "train": Command(_train_arguments, _train),
    "tune": Command(_tune_arguments, _tune),
    "study": Command(_study_arguments, _study),
}
