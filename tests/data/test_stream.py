"""Training on images simulated on the fly: disjoint, complete, reproducible, resumable."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import yaml

from darklens.config import dump_yaml
from darklens.data.normalize import ImageNorm, TargetNorm
from darklens.data.stream import SimulatedStream
from darklens.errors import DarklensError
from darklens.simulate import load_sim_config, render_image, run
from darklens.train import loop
from darklens.train.config import load_train_config
from tests.conftest import tiny

SIM = tiny("none", seed=3, params={"z_lens": 0.5, "z_source": 2.0,
                                   "log10_halo_mass": {"uniform": [10.8, 11.6]}})


def _stream(rank=0, world=1, per_epoch=40, batch=8):
    yaml_text = dump_yaml(load_sim_config(SIM))
    return SimulatedStream(yaml_text, ["log10_halo_mass"], ["z_lens"], per_epoch, batch,
                           ImageNorm(mode="none"), TargetNorm(["log10_halo_mass"], [0.0], [1.0]),
                           rank, world)


@pytest.mark.parametrize(("world", "workers"), [(1, 1), (1, 3), (2, 1), (2, 2)])
def test_an_epoch_is_every_image_once_in_batches_that_do_not_depend_on_the_split(world, workers):
    epoch, batch = 2, 8
    parts = {(r, w): _stream(r, world, batch=batch).indices(epoch, w, workers)
             for r in range(world) for w in range(workers)}
    everything = np.sort(np.concatenate(list(parts.values())))
    np.testing.assert_array_equal(everything, np.arange(2 * 40, 3 * 40))
    # global batch j is the same images whatever the processes and workers
    for (_, w), idx in parts.items():
        for k, chunk in enumerate(idx.reshape(-1, batch // world)):
            j = w + k * workers
            assert set(chunk) <= set(range(80 + j * batch, 80 + (j + 1) * batch))


def test_stream_items_are_the_images_simulate_would_write():
    ds = _stream()
    ds.set_epoch(1)
    items = list(ds)
    assert [it["index"] for it in items] == list(range(40, 80))
    for it in items[:3]:
        image, values = render_image(SIM, index=it["index"])
        np.testing.assert_array_equal(it["image"][0].numpy(), image)
        assert float(it["target"][0]) == pytest.approx(values["log10_halo_mass"], rel=1e-6)
        assert float(it["inputs"][0]) == pytest.approx(0.5)


@pytest.fixture(scope="module")
def val_file(tmp_path_factory):
    return run(dict(SIM, n=48, seed=99), out=tmp_path_factory.mktemp("v") / "val.h5",
               progress=False)


def _cfg(val_file, out, workers=0):
    return load_train_config({
        "data": {"simulate": SIM, "val_files": [str(val_file)], "images_per_epoch": 64,
                 "targets": ["log10_halo_mass"], "num_workers": workers},
        "model": {"backbone": "resnet10t", "head": {"kind": "gaussian"}},
        "optim": {"lr": 3e-3, "warmup_epochs": 0.5},
        "train": {"epochs": 2, "batch_size": 16, "out": str(out), "progress": False,
                  "channels_last": False},
    })


def _rows(run_dir):
    with open(run_dir / "metrics.csv") as fh:
        return [{k: v for k, v in r.items() if k != "images_per_s"} for r in csv.DictReader(fh)]


def test_training_on_a_stream_is_reproducible_resumable_and_worker_independent(
        val_file, tmp_path, monkeypatch):
    loop.train(_cfg(val_file, tmp_path / "a"))
    loop.train(_cfg(val_file, tmp_path / "b", workers=2))
    assert _rows(tmp_path / "a") == _rows(tmp_path / "b")  # same batches with 2 workers
    real_save = loop.save_checkpoint

    def stop_after_one(accelerator, run_dir, epoch, *args):
        real_save(accelerator, run_dir, epoch, *args)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop, "save_checkpoint", stop_after_one)
    with pytest.raises(KeyboardInterrupt):
        loop.train(_cfg(val_file, tmp_path / "c"))
    monkeypatch.setattr(loop, "save_checkpoint", real_save)
    loop.train(_cfg(val_file, tmp_path / "c"), resume=tmp_path / "c")
    assert _rows(tmp_path / "c") == _rows(tmp_path / "a")
    stored = yaml.safe_load((tmp_path / "a" / "config.yaml").read_text())
    assert stored["data"]["simulate"]["seed"] == 3  # the run records the resolved simulation


def test_a_validation_set_with_the_streams_seed_is_refused(tmp_path):
    same = run(dict(SIM, n=16), out=tmp_path / "same.h5", progress=False)
    with pytest.raises(DarklensError, match="seed 3, the seed of data.simulate"):
        loop.train(_cfg(same, tmp_path / "run"))
    with pytest.raises(DarklensError, match="data.simulate: streams training images"):
        load_train_config({"data": {"simulate": SIM, "files": [str(same)]}})


def test_two_processes_train_on_the_same_stream_batches_as_one(val_file, tmp_path):
    import os
    import subprocess
    import sys

    rows = {}
    for procs in (1, 2):
        cfg = _cfg(val_file, tmp_path / f"p{procs}")
        data = yaml.safe_load(dump_yaml(cfg))
        data["model"] = {"backbone": "convnext_atto", "head": {"kind": "gaussian"}}  # no BN
        path = tmp_path / f"cfg{procs}.yaml"
        path.write_text(yaml.safe_dump(data))
        launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_machines", "1",
                  "--mixed_precision", "no", "--dynamo_backend", "no",
                  "--num_processes", str(procs), *(["--multi_gpu"] if procs > 1 else [])]
        env = {**os.environ, "ACCELERATE_USE_CPU": "1", "OMP_NUM_THREADS": "1"}
        proc = subprocess.run([*launch, "-m", "darklens.train", str(path)], env=env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        rows[procs] = _rows(tmp_path / f"p{procs}")
    for one, two in zip(rows[1], rows[2], strict=True):
        for key in one:
            np.testing.assert_allclose(float(two[key]), float(one[key]), rtol=2e-4, atol=1e-6,
                                       err_msg=key)
