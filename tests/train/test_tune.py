"""Hyper-parameter search: the space, a resumable study, pruning, failures, shared budgets."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import optuna
import pytest
import yaml

from darklens.errors import DarklensError
from darklens.simulate import run
from darklens.train import loop
from darklens.train.config import load_train_config
from darklens.train.search_space import parse_space, suggest
from darklens.train.tune import PRUNERS, TuneConfig, tune
from tests.conftest import tiny

FINISHED = (
    optuna.trial.TrialState.COMPLETE,
    optuna.trial.TrialState.PRUNED,
    optuna.trial.TrialState.FAIL,
)


@pytest.fixture(scope="module")
def halo_data(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "halo.h5"
    cfg = tiny(
        "none",
        n=64,
        params={
            "z_lens": 0.5,
            "z_source": 2.0,
            "log10_halo_mass": {"uniform": [10.8, 11.6]},
            "source_x": 0.0,
            "source_y": 0.0,
            "halo_q": 1.0,
            "shear_gamma": 0.0,
        },
    )
    return run(cfg, out=path, progress=False)


def _cfg(dataset, search, epochs=1, **tune_block):
    return {
        "data": {
            "files": [str(dataset)],
            "targets": ["log10_halo_mass"],
            "num_workers": 0,
            "augment": False,
            "split": [0.75, 0.25, 0.0],
        },
        "model": {"backbone": "resnet10t", "head": {"kind": "point", "loss": "mse"}},
        "optim": {"lr": 3e-3, "warmup_epochs": 0.0, "weight_decay": 0.0},
        "train": {
            "epochs": epochs,
            "batch_size": 16,
            "out": "unused",
            "progress": False,
            "channels_last": False,
        },
        "search": search,
        "tune": {"n_startup_trials": 1, **tune_block},
    }


LR = {"optim.lr": {"float": [1.0e-12, 1.0e-2], "log": True}}


def _finished(study):
    return [t for t in study.get_trials() if t.state in FINISHED and "skipped" not in t.user_attrs]


def test_space_parses_every_kind_and_suggests_yaml_overrides():
    space = parse_space(
        {
            "optim.lr": {"float": [1.0e-4, 1.0e-2], "log": True},
            "optim.weight_decay": {"float": [0.0, 0.1], "step": 0.05},
            "train.batch_size": {"int": [16, 64], "step": 16},
            "model.backbone": {"categorical": ["resnet10t", "resnet18"]},
        }
    )
    assert space["train.batch_size"].step == 16 and space["optim.lr"].log
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    overrides = suggest(study.ask(), space)
    cfg = load_train_config({"data": {"files": ["x.h5"]}}, overrides)
    assert 1e-4 <= cfg.optim.lr <= 1e-2 and cfg.train.batch_size in (16, 32, 48, 64)
    assert cfg.optim.weight_decay in (0.0, 0.05, 0.1)
    assert cfg.model.backbone in ("resnet10t", "resnet18")


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"optim.lr": {"uniform": [0, 1]}}, "exactly one kind"),
        ({"optim.lr": {"float": [0.1, 0.01]}}, "low < high"),
        ({"optim.lr": {"float": [0.1, 0.1]}}, "low < high"),
        ({"optim.weight_decay": {"float": [0.0, 0.1], "log": True}}, "low > 0"),
        ({"optim.lr": {"float": [0.1]}}, "two numbers"),
        ({"optim.lr": {"float": [1e-4, 1e-2], "lg": True}}, "unknown option"),
        ({"optim.lr": {"float": [1e-4, 1e-2], "log": True, "step": 1e-4}}, "cannot be combined"),
        ({"train.batch_size": {"int": [16, 64], "step": 0}}, "step"),
        ({"model.backbone": {"categorical": []}}, "at least one"),
        ({"optim.lrr": {"float": [1e-4, 1e-2]}}, "not a valid training key"),
        ({"lr": {"float": [1e-4, 1e-2]}}, "dotted training key"),
        ({"optim.momentum": {"float": [0.5, 1.0]}}, "not a valid training key"),
        ({"train.mixed_precision": {"categorical": ["no", "fp8"]}}, "not a valid training key"),
    ],
)
def test_bad_spaces_raise_one_line_errors(spec, message):
    with pytest.raises(DarklensError, match=message) as err:
        parse_space(spec)
    assert "\n" not in str(err.value) and str(err.value).startswith(f"search.{next(iter(spec))}")


def test_bad_tune_block_raises(halo_data, tmp_path):
    with pytest.raises(DarklensError, match="tune.metric"):
        tune(_cfg(halo_data, LR, metric="accuracy"), 1, out=tmp_path)
    with pytest.raises(DarklensError, match="tune.pruner"):
        tune(_cfg(halo_data, LR, pruner="asha"), 1, out=tmp_path)


def test_tune_resumes_and_writes_a_runnable_best_config(halo_data, tmp_path, capsys):
    space = {**LR, "train.batch_size": {"int": [8, 16], "step": 8}}
    cfg = _cfg(halo_data, space)
    first = tune(cfg, 2, out=tmp_path / "tune", overrides=["optim.weight_decay=0.01"])
    assert [t.number for t in _finished(first)] == [0, 1]
    study = tune(cfg, 3, out=tmp_path / "tune")  # restart: the same study goes on
    assert [t.number for t in _finished(study)] == [0, 1, 2]
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    assert "best trial" in capsys.readouterr().out
    with open(tmp_path / "tune" / "trials.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["number"] for r in rows] == ["0", "1", "2"] and "optim.lr" in rows[0]
    best = load_train_config(tmp_path / "tune" / "best_config.yaml")
    assert best.optim.lr == pytest.approx(study.best_params["optim.lr"])
    assert best.train.batch_size == study.best_params["train.batch_size"]
    state = loop.train(best)
    assert state["epoch"] == 1 and (tmp_path / "tune" / "best" / "metrics.csv").is_file()


def test_a_hopeless_trial_is_pruned(halo_data, tmp_path):
    storage = f"sqlite:///{tmp_path / 'p.db'}"
    study = optuna.create_study(storage=storage, study_name="p")
    study.enqueue_trial({"optim.lr": 3e-3})
    study.enqueue_trial({"optim.lr": 1e-12})
    study = tune(
        _cfg(halo_data, LR, epochs=3, pruner="median"), 2, storage=storage, study="p", out=tmp_path
    )
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "PRUNED"]


def test_a_failing_trial_is_recorded_and_the_study_goes_on(halo_data, tmp_path):
    storage = str(tmp_path / "f.journal")
    space = {"model.backbone": {"categorical": ["no_such_net", "resnet10t"]}}
    study = optuna.create_study(
        storage=optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(storage)),
        study_name="f",
    )
    study.enqueue_trial({"model.backbone": "no_such_net"})
    study.enqueue_trial({"model.backbone": "resnet10t"})
    study = tune(_cfg(halo_data, space), 2, storage=storage, study="f", out=tmp_path)
    failed, ok = study.trials
    assert failed.state.name == "FAIL" and "no_such_net" in failed.user_attrs["error"]
    assert ok.state.name == "COMPLETE"
    assert (tmp_path / "best_config.yaml").is_file()


def test_two_workers_share_one_budget(halo_data, tmp_path):
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(_cfg(halo_data, LR)))
    storage = tmp_path / "shared.journal"
    code = (
        f"from darklens.train.tune import tune; "
        f"tune({str(path)!r}, 4, storage={str(storage)!r}, out={str(tmp_path / 'w')!r})"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(2)]
    assert [w.wait(timeout=300) for w in workers] == [0, 0]
    study = optuna.load_study(
        study_name="darklens",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(storage))
        ),
    )
    done = _finished(study)
    assert len(done) == 4 and len({t.number for t in done}) == 4
    # a worker stops once running + finished trials fill the budget: at most one trial is
    # given back, by a worker that asked in the same instant as the other
    assert len(study.trials) <= 5
    assert not [t for t in study.trials if t.state.name in ("RUNNING", "WAITING")]
    assert {p.name for p in (tmp_path / "w").glob("trial_*")} >= {f"trial_{t.number}" for t in done}


def test_two_metrics_give_a_pareto_front(halo_data, tmp_path):
    cfg = _cfg(halo_data, LR, metric2="r2_log10_halo_mass", direction2="maximize")
    study = tune(cfg, 2, out=tmp_path)
    assert len(study.directions) == 2 and study.best_trials
    assert all(len(t.values) == 2 for t in _finished(study))
    with open(tmp_path / "trials.csv") as fh:
        assert "r2_log10_halo_mass" in next(csv.reader(fh))
    load_train_config(tmp_path / "best_config.yaml")


@pytest.mark.parametrize("name", sorted(PRUNERS))
def test_every_registered_pruner_builds(name):
    assert isinstance(PRUNERS[name](TuneConfig()), optuna.pruners.BasePruner)
