"""What a training run writes: its run directory, per-epoch logs, checkpoints and exports.

Only the main process writes; every process checks the run directory before anyone writes, so
all stop together on a mistake.
"""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import torch

from darklens import __version__
from darklens.artifact import ModelMeta, RunDir
from darklens.errors import DarklensError
from darklens.train.config import TrainConfig, resolved_yaml

__all__ = ["fit_export_ood", "log_epoch", "model_meta", "open_run", "save_checkpoint",
           "tensorboard", "versions"]


def open_run(accelerator, run: RunDir, cfg: TrainConfig, resume: bool, ema) -> dict:
    """Start a run directory, or restore the latest checkpoint of one; returns the state."""
    state = {"epoch": 0, "best": float("inf"), "best_epoch": -1, "bad_epochs": 0}
    if resume:
        ckpts = run.list_checkpoints()
        if not ckpts:
            raise DarklensError(f"{run.root}: no checkpoints to resume from")
        accelerator.load_state(str(ckpts[-1]))
        state = json.loads((ckpts[-1] / "trainer.json").read_text())
        if ema is not None:
            from safetensors.torch import load_file

            ema.module.load_state_dict(load_file(str(ckpts[-1] / "ema.safetensors")))
    elif run.root.exists() and any(run.root.iterdir()):  # every process checks
        raise DarklensError(f"{run.root}: run directory exists and is not empty; choose another "
                            "train.out or resume it with --resume")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process and not resume:
        run.root.mkdir(parents=True, exist_ok=True)
        run.config.write_text(resolved_yaml(cfg))
        run.versions.write_text(json.dumps(versions(), indent=2))
    return state


def save_checkpoint(accelerator, run: RunDir, epoch: int, state: dict, ema, keep: int) -> None:
    """accelerate state (+ trainer state and EMA weights) after ``epoch``; keeps the last
    ``keep`` checkpoints."""
    path = run.checkpoint(epoch)
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        (path / "trainer.json").write_text(json.dumps(state))
        if ema is not None:
            from safetensors.torch import save_file

            save_file({k: v.contiguous() for k, v in ema.module.state_dict().items()},
                      str(path / "ema.safetensors"))
        for old in run.list_checkpoints()[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def log_epoch(run: RunDir, writer, row: dict) -> None:
    """Append the epoch's row to ``metrics.csv`` (and TensorBoard when it is installed)."""
    new = not run.metrics.exists()
    with run.metrics.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)
    if writer is not None:
        for key, value in row.items():
            writer.add_scalar(key, value, row["epoch"])


def tensorboard(run: RunDir):
    """A TensorBoard writer, or None when tensorboard is not installed (it is optional)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(run.tensorboard))


def versions() -> dict:
    import accelerate
    import timm

    return {"darklens": __version__, "torch": torch.__version__, "timm": timm.__version__,
            "accelerate": accelerate.__version__, "numpy": np.__version__}


def model_meta(cfg: TrainConfig, model, info, norms: dict, row: dict) -> ModelMeta:
    """The export metadata of ``model`` after the epoch of ``row``."""
    from darklens.data.catalog import dataset_attrs
    from darklens.data.schema import BAND_NAMES_ATTR, PIXEL_SCALE_ATTR

    path = (cfg.data.files or cfg.data.val_files)[0]
    attrs = dataset_attrs(path)
    scale = attrs.get(PIXEL_SCALE_ATTR)
    bands = attrs.get(BAND_NAMES_ATTR)
    return ModelMeta(
        band_names=str(bands).split(",") if bands else None,
        lens_light_subtracted=_lens_light_subtracted(attrs),
        pixel_scale=None if scale is None else float(scale),  # dataset_attrs gives a scalar
        image_units=str(attrs.get("image_units", "counts/s")),
        exposure_range=_exposure_range(path, attrs),
        model_spec=model.model_spec(),
        targets=list(cfg.data.targets),
        inputs=list(cfg.data.inputs),
        image_shape=list(info.image_shape),
        image_norm=norms["image"].to_dict(),
        target_norm=norms["target"].to_dict(),
        input_norm=norms["input"].to_dict() if norms["input"] is not None else None,
        head=cfg.model.head,
        epoch=row["epoch"],
        val_metrics=row,
        config=resolved_yaml(cfg),
        versions=versions(),
    )


def _simulation_config(attrs: dict) -> dict:
    """The resolved simulation config a dataset records ({} if none or unreadable)."""
    import yaml

    try:
        config = yaml.safe_load(str(attrs.get("config", ""))) or {}
    except yaml.YAMLError:
        return {}
    return config if isinstance(config, dict) else {}


def _lens_light_subtracted(attrs: dict) -> bool:
    light = _simulation_config(attrs).get("lens_light")
    return bool(isinstance(light, dict) and light.get("subtract"))


def _exposure_range(path, attrs: dict) -> list[float] | None:
    """Smallest and largest total exposure (s) of a dataset's images; None when they carry
    no noise or no exposure (not a darklens simulation)."""
    from darklens.data.catalog import describe, read_columns
    from darklens.simulate.noise import NOISE_MODELS

    config = _simulation_config(attrs)
    noise = config.get("noise", True)
    name = {True: "poisson_gaussian", False: "none"}.get(noise, noise)
    if (name in NOISE_MODELS.names() and not NOISE_MODELS.get(name).noisy) or (
            "exposure_time" not in describe([path]).variables):
        return None
    count = (config.get("instrument") or {}).get("num_exposures", 1)
    total = read_columns([path], ["exposure_time"])[:, 0] * float(count or 1)
    return [float(total.min()), float(total.max())]


def fit_export_ood(run: RunDir, val_ds, train_targets, names: list[str]) -> None:
    """Fit the out-of-distribution checks of the best export on the validation images (held
    out, from the training distribution); skipped with a note for fewer than 100."""
    from darklens.artifact import write_ood
    from darklens.infer.ood import fit_predictor_ood
    from darklens.infer.predict import Predictor

    if len(val_ds) < 100:
        print(f"{run.best}: no out-of-distribution checks (fit them with darklens calibrate; "
              f"{len(val_ds)} validation images, 100 needed)")
        return
    images = val_ds.load_images(np.arange(min(len(val_ds), 4000)))
    targets = {n: np.asarray(train_targets)[:, k] for k, n in enumerate(names)}
    write_ood(run.best, fit_predictor_ood(Predictor([run.best]), images, targets))
