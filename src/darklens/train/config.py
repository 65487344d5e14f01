"""The training config: what a YAML file under ``configs/train/`` may say.

    data:  {files: [train.h5], targets: [log10_halo_mass], inputs: [], split: [0.8, 0.1, 0.1]}
    model: {backbone: resnet18, head: {kind: gaussian}}
    optim: {name: adamw, lr: 1.0e-3, weight_decay: 0.05, sam: false, warmup_epochs: 1}
    train: {epochs: 10, batch_size: 64, mixed_precision: "no", out: runs/resnet18}

Every key is validated (one-line errors naming the field); the resolved config is written to the
run directory and into the exported model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from darklens.config import apply_overrides, bounded, dump_yaml, from_dict, load_yaml, to_dict
from darklens.data.normalize import IMAGE_MODES, STRETCHES
from darklens.errors import DarklensError
from darklens.models.config import ModelConfig
from darklens.train.optimizers import OPTIMIZERS

__all__ = ["DataConfig", "OptimConfig", "RunConfig", "TrainConfig", "load_train_config"]


@dataclass
class DataConfig:
    """Which images and labels, and how they are prepared."""

    files: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=lambda: ["log10_halo_mass"])
    inputs: list[str] = field(default_factory=list)
    split: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    # a validation set simulated on its own (another seed); then all of `files` trains and
    # `split` is not used
    val_files: list[str] = field(default_factory=list)
    # train on images simulated on the fly instead of files: a sim config (path or mapping);
    # needs val_files; every epoch is `images_per_epoch` new images
    simulate: str | dict | None = None
    images_per_epoch: int = bounded(10000, ge=1)
    split_seed: int = bounded(0, ge=0)
    augment: bool = True
    image_norm: str = bounded("dataset", choices=IMAGE_MODES)
    stretch: str = bounded("none", choices=STRETCHES)
    # DataLoader workers; null = auto: none on CPU (reading is ~50x faster than training there
    # and workers steal the cores the model needs), several on a GPU machine
    num_workers: int | None = bounded(None, ge=0)

    def validate(self, where: str) -> None:
        if self.simulate is not None:
            if self.files or not self.val_files:
                raise DarklensError(f"{where}.simulate: streams training images; give "
                                    "val_files (a fixed validation set) and no files")
            from darklens.simulate.config import load_sim_config

            # the run records the resolved simulation, not a path that may change
            self.simulate = to_dict(load_sim_config(self.simulate))
        elif not self.files:
            raise DarklensError(f"{where}.files: give at least one dataset file (.h5)")
        if not self.targets:
            raise DarklensError(f"{where}.targets: give at least one target variable")
        if len(self.split) != 3 or min(self.split) < 0 or sum(self.split) > 1 + 1e-9:
            raise DarklensError(
                f"{where}.split: expected [train, val, test] fractions >= 0 summing to <= 1, "
                f"got {self.split}"
            )


@dataclass
class OptimConfig:
    """Optimiser and schedule: AdamW or SGD, optionally wrapped by SAM; warm-up then cosine."""

    name: str = bounded("adamw", choices=OPTIMIZERS)
    lr: float = bounded(1e-3, gt=0)
    weight_decay: float = bounded(0.05, ge=0)
    momentum: float = bounded(0.9, ge=0, lt=1)
    sam: bool = False
    sam_rho: float = bounded(0.05, gt=0)
    warmup_epochs: float = bounded(1.0, ge=0)
    min_lr_ratio: float = bounded(0.01, ge=0, le=1)
    grad_clip: float = bounded(1.0, ge=0)


@dataclass
class RunConfig:
    """Loop settings and outputs."""

    epochs: int = bounded(10, ge=1)
    batch_size: int = bounded(64, ge=1)
    grad_accum: int = bounded(1, ge=1)
    mixed_precision: str = bounded("no", choices=("no", "bf16", "fp16"))
    ema_decay: float = bounded(0.0, ge=0, lt=1)
    early_stop_patience: int = bounded(0, ge=0)
    keep_checkpoints: int = bounded(2, ge=1)
    seed: int = bounded(0, ge=0)
    channels_last: bool = True
    out: str = "runs/run"
    progress: bool = True


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: RunConfig = field(default_factory=RunConfig)

    @property
    def out(self) -> Path:
        return Path(self.train.out)


def load_train_config(source: str | Path | dict,
                      overrides: list[str] | None = None) -> TrainConfig:
    """Load and validate a training config from a YAML path or mapping, plus overrides."""
    data = dict(source) if isinstance(source, dict) else load_yaml(source)
    return from_dict(TrainConfig, apply_overrides(data, overrides))


def resolved_yaml(cfg: TrainConfig) -> str:
    return dump_yaml(cfg)
