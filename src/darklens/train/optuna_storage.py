"""optuna plumbing for ``darklens tune``: storages shared by many workers, a per-trial seeded
sampler, and how much of the trial budget is claimed."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

__all__ = ["PerTrialSeedTPE", "claimed", "make_storage"]


def make_storage(storage: str | None, out: Path):
    """An optuna storage: SQLite in ``out`` by default, a journal file, or an RDB URL."""
    if storage is None:
        out.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{out / 'study.db'}"
    if storage.endswith((".log", ".journal")):
        from optuna.storages.journal import JournalFileBackend

        Path(storage).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(JournalFileBackend(storage))
    # sqlite: wait for the lock instead of failing while another tuner writes; heartbeats let a
    # restarted tuner mark the trials of a killed one as failed (so they do not block the budget)
    kwargs = {"connect_args": {"timeout": 60}} if storage.startswith("sqlite") else {}
    with warnings.catch_warnings():  # heartbeats are "experimental" in optuna 5, and needed
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            storage, engine_kwargs=kwargs, heartbeat_interval=30, grace_period=120
        )


class PerTrialSeedTPE(optuna.samplers.BaseSampler):
    """TPE reseeded from ``seed + trial number``: reproducible, yet concurrent workers sharing
    one study do not all draw the same random start-up trials (as one seeded TPE each would)."""

    def __init__(self, seed: int, n_startup_trials: int):
        self._seed, self._n_startup = seed, n_startup_trials
        self._inner = self._make(seed)

    def _make(self, seed: int) -> optuna.samplers.TPESampler:
        # constant_liar: running trials count as bad guesses, so workers spread out
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=self._n_startup, constant_liar=True
        )

    def before_trial(self, study, trial) -> None:
        self._inner = self._make(self._seed + trial.number)
        self._inner.before_trial(study, trial)

    def infer_relative_search_space(self, study, trial):
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study, trial, search_space):
        return self._inner.sample_relative(study, trial, search_space)

    def sample_independent(self, study, trial, param_name, param_distribution):
        return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(self, study, trial, state, values) -> None:
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()


def claimed(study, before: int | None = None) -> int:
    """Trials that use up the budget: finished or running, not skipped (numbers < ``before``)."""
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL, TrialState.RUNNING)
    return sum(
        1
        for t in study.get_trials(deepcopy=False, states=states)
        if not t.user_attrs.get("skipped") and (before is None or t.number < before)
    )
