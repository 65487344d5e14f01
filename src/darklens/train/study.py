"""``darklens study STUDY.yaml``: train a list of model variants on one dataset under one budget,
then compare them (the seed's "compare every backbone" experiment).

    base: ../train/resnet18.yaml        # training config every variant starts from
    out: runs/study                     # one run directory per variant below it
    budget: {epochs: 5}                 # or {minutes: 20} of training per variant
    set: {data.files: [hst_axion.h5]}   # overrides for all variants
    variants:
      resnet18: {model.backbone: resnet18}
      fusion: {model.backbone: resnet34, model.fusion: {kind: stages, out_indices: [2, 3, 4]}}
    weights: {resnet18: resnet18_imagenet.safetensors}   # adds a fine-tuned "resnet18_ft" variant

Runs are independent: a finished run (``done.json``) is skipped, an interrupted one resumes, and
``--only NAME`` lets machines split a study.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from darklens.artifact import RunDir
from darklens.atomic import write_text_atomic
from darklens.config import from_dict, load_yaml, override
from darklens.errors import DarklensError

__all__ = ["StudyConfig", "run_study"]


@dataclass
class StudyConfig:
    base: str = ""
    out: str = "runs/study"
    budget: dict = field(default_factory=lambda: {"epochs": 5})
    set: dict = field(default_factory=dict)
    variants: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)
    compare: bool = True

    def validate(self, where: str) -> None:
        if not self.base:
            raise DarklensError(f"{where or 'study'}.base: give the training config to start from")
        if not self.variants:
            raise DarklensError(f"{where or 'study'}.variants: give at least one variant")
        if set(self.budget) - {"epochs", "minutes"} or not self.budget:
            raise DarklensError(f"{where or 'study'}.budget: expected {{epochs: N}} and/or "
                                f"{{minutes: M}}, got {self.budget}")
        unknown = set(self.weights) - set(self.variants)
        if unknown:
            raise DarklensError(f"{where or 'study'}.weights.{sorted(unknown)[0]}: not a variant")


def _overrides(mapping: dict) -> list[str]:
    """``{"optim.lr": 1e-3}`` -> ``["optim.lr=0.001"]``."""
    return [override(key, value) for key, value in mapping.items()]


def variant_configs(path: str | Path, cfg: StudyConfig) -> dict[str, list[str]]:
    """Every variant (plus ``<name>_ft`` for those with a weights file) as ``--set`` overrides."""
    runs = {}
    for name, changes in cfg.variants.items():
        # a variant's own settings (even its own epochs) win over the study-wide ones
        budget = [f"train.epochs={int(cfg.budget['epochs'])}"] if "epochs" in cfg.budget else []
        common = _overrides(cfg.set) + budget + _overrides(changes or {})
        runs[name] = common + [f"train.out={Path(cfg.out) / name}"]
        if name in cfg.weights:
            weights = (Path(path).parent / cfg.weights[name]).resolve()
            runs[f"{name}_ft"] = common + [f"model.pretrained_path={weights}",
                                           f"train.out={Path(cfg.out) / (name + '_ft')}"]
    return runs


def run_study(path: str | Path, only: list[str] | None = None) -> list[Path]:
    """Train the study's variants (skipping finished runs) and compare them.

    Returns
    -------
    list of Path
        The run directories of the finished variants.
    """
    from darklens.train.config import load_train_config
    from darklens.train.loop import train

    path = Path(path)
    cfg = from_dict(StudyConfig, load_yaml(path), "study")
    base = (path.parent / cfg.base).resolve()
    runs = variant_configs(path, cfg)
    unknown = set(only or []) - set(runs)
    if unknown:
        raise DarklensError(f"--only {sorted(unknown)[0]}: not a variant of {path} "
                            f"(variants: {', '.join(runs)})")
    minutes = cfg.budget.get("minutes")
    for name, overrides in runs.items():
        run_dir = RunDir(Path(cfg.out) / name)
        if (only and name not in only) or run_dir.done.is_file():
            continue
        train_cfg = load_train_config(base, overrides)
        print(f"study: training {name} -> {run_dir.root}", flush=True)
        start = time.perf_counter()

        def out_of_time(row, start=start):
            return minutes is not None and time.perf_counter() - start > 60 * minutes

        resume = run_dir.root if run_dir.checkpoints.is_dir() else None
        state = train(train_cfg, resume=resume, on_epoch=out_of_time)
        write_text_atomic(run_dir.done, json.dumps(state))
    finished = [Path(cfg.out) / n for n in runs if RunDir(Path(cfg.out) / n).done.is_file()]
    if cfg.compare and finished:
        from darklens.analysis.compare import compare_runs

        compare_runs(finished, Path(cfg.out) / "comparison")
    return finished
