"""``darklens tune TRAIN.yaml``: hyper-parameter search with optuna.

The training YAML gains two blocks (both ignored by ``darklens train``'s config):

    search:                                  # see darklens.train.search_space
      optim.lr: {float: [1.0e-4, 1.0e-2], log: true}
      model.backbone: {categorical: [resnet10t, resnet18]}
    tune:
      metric: val_loss                       # any metrics.csv column
      direction: minimize
      pruner: median                         # median | hyperband | none
      metric2: r2_log10_halo_mass            # optional second objective: a Pareto front
      direction2: maximize

Every trial trains ``<out>/trial_<number>``. The study lives in a storage (SQLite by default, a
journal file on a shared disk, or a PostgreSQL/MySQL URL) and is loaded if it exists, so several
tuners started with the same storage and study name share one trial budget, and a killed tuner
resumes on restart. At the end ``<out>/trials.csv`` and ``<out>/best_config.yaml`` (which
``darklens train`` runs as is) are written.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import optuna
from optuna.trial import TrialState

from darklens.artifact import RunDir
from darklens.atomic import write_text_atomic
from darklens.columns import metrics_columns
from darklens.config import apply_overrides, bounded, from_dict, load_yaml, override
from darklens.errors import DarklensError
from darklens.registry import Registry
from darklens.train.optuna_storage import PerTrialSeedTPE, claimed, make_storage
from darklens.train.search_space import parse_space, suggest

__all__ = ["PRUNERS", "TuneConfig", "tune"]

#: ``tune.pruner`` -> factory(TuneConfig) of an optuna pruner
PRUNERS: Registry = Registry("pruner")
PRUNERS.register("median", lambda c: optuna.pruners.MedianPruner(
    n_startup_trials=c.n_startup_trials, n_warmup_steps=c.n_warmup_steps))
PRUNERS.register("hyperband", lambda c: optuna.pruners.HyperbandPruner(min_resource=1))
PRUNERS.register("none", lambda c: optuna.pruners.NopPruner())


@dataclass
class TuneConfig:
    """The ``tune:`` block: what to optimise and how."""

    metric: str = "val_loss"
    direction: str = bounded("minimize", choices=("minimize", "maximize"))
    metric2: str | None = None
    direction2: str = bounded("minimize", choices=("minimize", "maximize"))
    pruner: str = bounded("median", choices=PRUNERS)
    sampler_seed: int = bounded(0, ge=0)
    # random trials before TPE models the space, and before the median pruner compares
    n_startup_trials: int = bounded(5, ge=0)
    n_warmup_steps: int = bounded(0, ge=0)
    study: str = "darklens"

    @property
    def metrics(self) -> list[str]:
        return [self.metric] + ([self.metric2] if self.metric2 else [])

    @property
    def directions(self) -> list[str]:
        return [self.direction] + ([self.direction2] if self.metric2 else [])


def _best(path: Path, metric: str, direction: str) -> float:
    with open(path) as fh:
        values = [float(row[metric]) for row in csv.DictReader(fh)]
    if not values or any(math.isnan(v) for v in values):
        raise ValueError(f"{metric} is NaN or missing in {path}")
    return min(values) if direction == "minimize" else max(values)


def _objective(base: dict, space: dict, tcfg: TuneConfig, out: Path, budget: int):
    from darklens.train import loop
    from darklens.train.config import load_train_config

    multi = tcfg.metric2 is not None

    def objective(trial: optuna.Trial):
        # two workers may ask in the same instant; the later one gives its trial back
        if claimed(trial.study, before=trial.number) >= budget:
            trial.set_user_attr("skipped", "budget already used by other workers")
            trial.study.stop()
            raise RuntimeError("budget already used by other workers")
        run = out / f"trial_{trial.number}"
        pruned = []

        def on_epoch(row: dict) -> bool:
            value = float(row[tcfg.metric])
            if multi or math.isnan(value):  # optuna prunes single-objective studies only
                return math.isnan(value)
            trial.report(value, int(row["epoch"]))
            pruned.append(trial.should_prune())
            return pruned[-1]

        try:
            overrides = suggest(trial, space) + [
                override("train.out", str(run)),
                "train.progress=false",
            ]
            loop.train(load_train_config(base, overrides), on_epoch=on_epoch)
            if pruned and pruned[-1]:
                raise optuna.TrialPruned(f"pruned after epoch {len(pruned)}")
            values = [
                _best(RunDir(run).metrics, m, d)
                for m, d in zip(tcfg.metrics, tcfg.directions, strict=True)
            ]
        except optuna.TrialPruned:
            raise
        except Exception as err:
            trial.set_user_attr("error", f"{type(err).__name__}: {err}".splitlines()[0])
            raise
        return values if multi else values[0]

    return objective


def _split(config: str | Path | dict) -> tuple[dict, dict, dict]:
    data = dict(config) if isinstance(config, dict) else load_yaml(config)
    search, tune_block = data.pop("search", None), data.pop("tune", None)
    return data, search, tune_block


def tune(
    config: str | Path | dict,
    trials: int,
    timeout: float | None = None,
    storage: str | None = None,
    study: str | None = None,
    out: str | Path = "runs/tune",
    overrides: list[str] | None = None,
):
    """Search hyper-parameters of a training config; returns the ``optuna.Study``.

    Parameters
    ----------
    config : path or dict
        Training config with ``search:`` and ``tune:`` blocks.
    trials : int
        Trial budget of the whole study: trials finished, pruned or failed, counted over every
        worker sharing the storage (a restarted study only runs the missing ones).
    timeout : float, optional
        Seconds after which this worker starts no new trial.
    storage : str, optional
        ``sqlite:///<out>/study.db`` by default; a path ending ``.log``/``.journal`` is a journal
        file (for a shared disk); anything else an optuna RDB URL (PostgreSQL, MySQL).
    study : str, optional
        Study name (default ``tune.study``); workers with one storage and name share the study.
    out : path
        Directory of the trial runs, ``trials.csv`` and ``best_config.yaml``.
    overrides : list of str, optional
        ``key=value`` overrides of the training config (before the search).
    """
    if trials < 1:
        raise DarklensError(f"trials: expected a number >= 1, got {trials}")
    base, space, tcfg = _prepare(config, overrides)
    out = Path(out)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    the_study = optuna.create_study(
        storage=make_storage(storage, out),
        study_name=study or tcfg.study,
        load_if_exists=True,
        directions=tcfg.directions,
        sampler=PerTrialSeedTPE(tcfg.sampler_seed, tcfg.n_startup_trials),
        pruner=PRUNERS.get("none" if tcfg.metric2 else tcfg.pruner)(tcfg),
    )

    def stop_at_budget(study, trial):
        # counting running trials too stops a worker once the others will fill the budget
        if claimed(study) >= trials:
            study.stop()

    with warnings.catch_warnings():  # fail the trials of a killed tuner (SQL storages)
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(the_study)
    if claimed(the_study) < trials:
        the_study.optimize(
            _objective(base, space, tcfg, out, trials),
            n_trials=trials,
            timeout=timeout,
            catch=(Exception,),
            callbacks=[stop_at_budget],
            gc_after_trial=True,
        )
    _write_results(the_study, base, tcfg, out)
    return the_study


def _prepare(config, overrides) -> tuple[dict, dict, TuneConfig]:
    """The training config (plain data), the parsed search space and the tune block."""
    from darklens.train.config import load_train_config

    base, search, tune_block = _split(config)
    base = apply_overrides(base, overrides)
    tcfg = from_dict(TuneConfig, tune_block, "tune")
    known = metrics_columns(load_train_config(base).data.targets)
    for name, metric in (("metric", tcfg.metric), ("metric2", tcfg.metric2)):
        if metric is not None and metric not in known:
            raise DarklensError(
                f"tune.{name}: expected a metrics.csv column ({', '.join(known)}), got {metric!r}"
            )
    space = parse_space(search, base)
    if not space:
        raise DarklensError("search: expected at least one key to search")
    return base, space, tcfg


def _write_results(the_study, base: dict, tcfg: TuneConfig, out: Path) -> None:
    """``trials.csv`` of the finished trials and ``best_config.yaml`` of the best one."""
    from darklens.train.config import load_train_config, resolved_yaml

    done = [
        t
        for t in the_study.get_trials(deepcopy=False)
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    ]
    _write_trials(out / "trials.csv", done, tcfg)
    complete = [t for t in done if t.state == TrialState.COMPLETE]
    if not complete:
        print("no trial completed; no best_config.yaml written")
        return
    best = _pick_best(the_study, complete, tcfg)
    params = [override(k, v) for k, v in best.params.items()]
    cfg = load_train_config(base, params + [override("train.out", str(out / "best"))])
    write_text_atomic(out / "best_config.yaml", resolved_yaml(cfg))
    print(
        f"best trial {best.number} ({', '.join(tcfg.metrics)} = {best.values}): "
        + (" ".join(params) or "(no parameters)")
    )


def _pick_best(study, complete: list, tcfg: TuneConfig):
    """The best trial; of a Pareto front, the member best on the first metric."""
    front = study.best_trials if tcfg.metric2 else complete
    sign = 1 if tcfg.direction == "minimize" else -1
    return min(front, key=lambda t: sign * t.values[0])


def _write_trials(path: Path, trials: list, tcfg: TuneConfig) -> None:
    keys = sorted({k for t in trials for k in t.params})
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["number", "state", *tcfg.metrics, *keys, "error"])
    for t in sorted(trials, key=lambda t: t.number):
        values = list(t.values or []) + [""] * len(tcfg.metrics)
        error = t.user_attrs.get("skipped") or t.user_attrs.get("error", "")
        writer.writerow(
            [
                t.number,
                t.state.name,
                *values[: len(tcfg.metrics)],
                *(t.params.get(k, "") for k in keys),
                error,
            ]
        )
    write_text_atomic(path, buf.getvalue())
