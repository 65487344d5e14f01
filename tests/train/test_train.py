"""Training end to end on tiny generated data: learning, exact resume, 1 vs 2 processes, export."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from darklens.artifact import load_model
from darklens.errors import DarklensError
from darklens.simulate import run
from darklens.train import loop
from darklens.train.config import load_train_config
from tests.conftest import tiny


@pytest.fixture(scope="module")
def halo_data(tmp_path_factory):
    """160 smooth lenses, 32x32, whose Einstein radius is set by log10_halo_mass."""
    path = tmp_path_factory.mktemp("data") / "halo.h5"
    cfg = tiny("none", n=160, params={
        "z_lens": 0.5, "z_source": 2.0, "log10_halo_mass": {"uniform": [10.8, 11.6]},
        "source_x": 0.0, "source_y": 0.0, "halo_q": 1.0, "shear_gamma": 0.0})
    return run(cfg, out=path, progress=False)


def _cfg(dataset, out, **sections):
    base = {
        "data": {"files": [str(dataset)], "targets": ["log10_halo_mass"], "num_workers": 0,
                 "augment": False, "split": [0.7, 0.3, 0.0]},
        "model": {"backbone": "resnet10t", "head": {"kind": "point", "loss": "mse"}},
        "optim": {"lr": 3e-3, "warmup_epochs": 0.5, "weight_decay": 0.0},
        "train": {"epochs": 3, "batch_size": 16, "out": str(out), "progress": False,
                  "channels_last": False},
    }
    for key, value in sections.items():
        base[key] = {**base[key], **value}
    return load_train_config(base)


def _rows(path):
    with open(path / "metrics.csv") as fh:
        return [{k: v for k, v in r.items() if k != "images_per_s"} for r in csv.DictReader(fh)]


def test_training_learns_the_halo_mass(halo_data, tmp_path):
    # an EMA decay meant for long runs (0.9999 over 84 steps): its warm-up must still let the
    # validated (averaged) weights follow training instead of the random initial ones
    cfg = _cfg(halo_data, tmp_path / "run", train={"epochs": 12, "ema_decay": 0.9999})
    state = loop.train(cfg)
    rows = _rows(tmp_path / "run")
    assert len(rows) == 12 and state["best_epoch"] >= 1
    # standardised targets have variance 1: the fit must go well below it
    assert float(rows[-1]["train_loss"]) < 0.25
    assert float(rows[-1]["val_loss"]) < 0.25
    assert (tmp_path / "run" / "config.yaml").is_file()
    assert (tmp_path / "run" / "versions.json").is_file()


def test_resumed_run_equals_an_uninterrupted_one(halo_data, tmp_path, monkeypatch):
    full = _cfg(halo_data, tmp_path / "full")
    loop.train(full)

    real_save = loop.save_checkpoint

    def stop_after_two(accelerator, run_dir, epoch, *args):
        real_save(accelerator, run_dir, epoch, *args)
        if epoch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", stop_after_two)
    with pytest.raises(KeyboardInterrupt):
        loop.train(_cfg(halo_data, tmp_path / "cut"))
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    assert len(_rows(tmp_path / "cut")) == 2
    loop.train(_cfg(halo_data, tmp_path / "cut"), resume=tmp_path / "cut")
    assert _rows(tmp_path / "cut") == _rows(tmp_path / "full")
    a, _ = load_model(tmp_path / "full")
    b, _ = load_model(tmp_path / "cut")
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0, msg=name)


def test_export_reloads_and_predicts_like_the_trained_model(halo_data, tmp_path):
    cfg = _cfg(halo_data, tmp_path / "run", model={"head": {"kind": "gaussian"}},
               train={"epochs": 2})
    loop.train(cfg)
    model, meta = load_model(tmp_path / "run")
    assert meta.targets == ["log10_halo_mass"] and meta.image_shape[-1] == 32
    x = torch.zeros(2, 1, 32, 32)
    out = model(x, None)
    assert out["mean"].shape == (2, 1) and (out["var"] > 0).all()
    with pytest.raises(DarklensError, match="not a darklens model"):
        load_model(tmp_path)


def test_two_processes_give_the_same_validation_metrics_as_one(halo_data, tmp_path):
    # a model without BatchNorm: then splitting each batch over 2 processes is exact
    metrics = {}
    for procs in (1, 2):
        out = tmp_path / f"p{procs}"
        cfg = yaml.safe_load(open(_write_cfg(halo_data, out, tmp_path)))
        path = tmp_path / f"cfg{procs}.yaml"
        cfg["train"]["out"] = str(out)
        path.write_text(yaml.safe_dump(cfg))
        launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1",
                  "--mixed_precision", "no", "--dynamo_backend", "no", "--num_processes",
                  str(procs)]
        if procs > 1:
            launch.append("--multi_gpu")
        env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
        proc = subprocess.run([*launch, "-m", "darklens.train", str(path)], env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        metrics[procs] = _rows(out)
    for one, two in zip(metrics[1], metrics[2], strict=True):
        for key in one:
            np.testing.assert_allclose(float(two[key]), float(one[key]), rtol=2e-4, atol=1e-6,
                                       err_msg=key)


def _write_cfg(data, out, tmp_path):
    cfg = {
        "data": {"files": [str(data)], "targets": ["log10_halo_mass"], "num_workers": 0,
                 "augment": False, "split": [0.7, 0.3, 0.0]},
        "model": {"backbone": "convnext_atto", "head": {"kind": "gaussian"}},
        "optim": {"lr": 1e-3, "warmup_epochs": 0.5},
        "train": {"epochs": 2, "batch_size": 16, "out": str(out), "progress": False},
    }
    path = tmp_path / "base.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optim.name=adam"], "optim.name: expected one of adamw, sgd"),
        (["train.batch_size=0"], "train.batch_size: expected a value >= 1"),
        (["data.split=[0.9, 0.2, 0.0]"], "data.split: expected [train, val, test] fractions"),
        (["train.mixed_precision=fp8"], "train.mixed_precision: expected one of no, bf16, fp16"),
    ],
)
def test_bad_training_configs_give_one_line(halo_data, tmp_path, overrides, message):
    base = yaml.safe_load(open(_write_cfg(halo_data, tmp_path / "x", tmp_path)))
    with pytest.raises(DarklensError) as info:
        load_train_config(base, overrides)
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"data": {"targets": ["f_sub"]}}, "no variable 'f_sub'"),
        ({"model": {"head": {"kind": "cauchy"}}}, "model.head.kind: expected one of point"),
        ({"model": {"backbone": "resnet1812"}}, "model.backbone"),
    ],
)
def test_bad_names_are_reported_before_training(halo_data, tmp_path, section, message):
    cfg = _cfg(halo_data, tmp_path / "run", **section)
    with pytest.raises(DarklensError, match=message) as info:
        loop.train(cfg)
    assert "\n" not in str(info.value)


def test_frozen_backbone_epochs_train_only_the_head(halo_data, tmp_path):
    cfg = _cfg(halo_data, tmp_path / "run", train={"epochs": 1},
               model={"freeze_backbone_epochs": 1})
    torch.manual_seed(0)
    from darklens.models.build import build_model

    fresh = build_model(cfg.model, 1, 32, 1, 0)
    loop.train(cfg)
    trained, _ = load_model(tmp_path / "run")
    before, after = fresh.state_dict(), trained.state_dict()
    ids = {id(p) for p in trained.backbone_parameters()}
    backbone = {n for n, p in trained.named_parameters() if id(p) in ids}
    assert backbone
    for name in backbone:  # same seed -> same init; frozen -> unchanged
        torch.testing.assert_close(after[name], before[name], msg=name)
    head = [n for n, _ in trained.named_parameters() if n not in backbone]
    assert any(not torch.equal(after[n], before[n]) for n in head)


def test_sam_ema_accumulation_inputs_and_early_stopping_run(halo_data, tmp_path):
    cfg = _cfg(halo_data, tmp_path / "sam", optim={"name": "sgd", "sam": True, "lr": 1e-2},
               train={"epochs": 2, "ema_decay": 0.9}, data={"inputs": ["z_lens", "theta_E"]})
    state = loop.train(cfg)
    assert np.isfinite(state["best"])
    _, meta = load_model(tmp_path / "sam")
    assert meta.inputs == ["z_lens", "theta_E"] and meta.input_norm["names"] == [
        "z_lens", "theta_E"]
    acc = _cfg(halo_data, tmp_path / "acc", optim={"lr": 1e-9, "warmup_epochs": 0.0},
               train={"epochs": 6, "grad_accum": 2, "early_stop_patience": 1})
    state = loop.train(acc)
    assert state["epoch"] < 6  # a learning rate of 1e-9 cannot improve: stopped early


@pytest.mark.parametrize("name", ["demo", "resnet18", "nll", "sam", "fusion_multistage",
                                  "fusion_multibackbone"])
def test_shipped_training_configs_are_valid(name):
    from pathlib import Path

    path = Path(__file__).parents[2] / "configs" / "train" / f"{name}.yaml"
    cfg = load_train_config(path)
    assert cfg.data.files and not cfg.model.pretrained


def test_an_existing_run_is_never_overwritten(halo_data, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "notes.txt").write_text("mine")
    with pytest.raises(DarklensError, match="run directory exists and is not empty"):
        loop.train(_cfg(halo_data, tmp_path / "run"))
    assert (tmp_path / "run" / "notes.txt").read_text() == "mine"
    with pytest.raises(DarklensError, match="no checkpoints to resume from"):
        loop.train(_cfg(halo_data, tmp_path / "run"), resume=tmp_path / "run")


def test_val_files_validate_on_their_own_dataset(halo_data, tmp_path):
    val_path = run(tiny("none", n=24, seed=99), out=tmp_path / "val.h5", progress=False)
    cfg = _cfg(halo_data, tmp_path / "run", data={"val_files": [str(val_path)]})
    _, train_ds, val_ds, _ = loop.build_data(cfg)
    # all of data.files trains (split not used); every val_files sample validates
    assert len(train_ds) == 160 and len(val_ds) == 24
    from darklens.data.catalog import read_columns
    np.testing.assert_allclose(val_ds.raw_targets[:, 0],
                               read_columns([val_path], ["log10_halo_mass"])[:, 0])
    other = run(tiny("none", n=4, instrument={"num_pix": 24}), out=tmp_path / "small.h5",
                progress=False)
    with pytest.raises(DarklensError, match="data.val_files: image shape"):
        loop.build_data(_cfg(halo_data, tmp_path / "r2", data={"val_files": [str(other)]}))
