"""Datasets: xarray layout, determinism across workers, shards and a killed-then-resumed run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr
import yaml

from darklens.cli import main
from darklens.data import store
from darklens.errors import DarklensError
from darklens.simulate import load_sim_config, render_image, run
from tests.conftest import tiny


def _arrays(path):
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return {name: ds[name].values.copy() for name in ds.variables}


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_dataset_opens_in_xarray_with_dims_units_and_config(tmp_path):
    cfg = tiny("cdm", n=20)
    out = run(cfg, out=tmp_path / "d.h5", progress=False)
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds["image"].dims == ("sample", "y", "x")
        assert ds["image"].dtype == np.float32 and ds["image"].shape == (20, 32, 32)
        assert not [d for d in ds.dims if d.startswith("phony")]
        assert ds["theta_E"].attrs["units"] == "arcsec"
        assert ds["log10_halo_mass"].attrs["long_name"].startswith("log10 halo mass")
        assert ds["n_subhalos"].dtype == np.int64
        assert set(ds["substructure"].values) == {"cdm"}
        assert ds.attrs["lenstronomy_version"] and ds.attrs["darklens_version"]
        stored = load_sim_config(yaml.safe_load(ds.attrs["config"]))
        image0 = ds["image"].values[0]
    # the stored config regenerates the same image
    again, values = render_image(stored, index=0)
    np.testing.assert_array_equal(again, image0)
    assert values["theta_E"] > 0


def test_one_worker_equals_two_workers(tmp_path):
    cfg = tiny("vortex", n=40)
    a = run(cfg, out=tmp_path / "w1.h5", workers=1, progress=False)
    b = run(cfg, out=tmp_path / "w2.h5", workers=2, progress=False)
    _assert_same(_arrays(a), _arrays(b))


def test_merged_shards_equal_a_single_run(tmp_path):
    cfg = tiny("strings", n=37)
    single = run(cfg, out=tmp_path / "all.h5", progress=False)
    shards = [run(cfg, out=tmp_path / f"s{k}.h5", shard=f"{k}/3", progress=False)
              for k in (2, 0, 1)]
    assert main(["merge", str(tmp_path / "merged.h5"), *map(str, shards)]) == 0
    merged, whole = _arrays(tmp_path / "merged.h5"), _arrays(single)
    _assert_same(merged, whole)
    assert (tmp_path / "merged.h5").stat().st_size < 0.5 * single.stat().st_size


def test_interrupted_run_resumes_to_an_identical_file(tmp_path, monkeypatch):
    cfg = tiny("cdm", n=70)
    reference = run(cfg, out=tmp_path / "ref.h5", progress=False)
    out = tmp_path / "resumed.h5"
    real_write, written = store.write_block, []

    def crash_after_two(*args, **kwargs):
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(args[1])
        real_write(*args, **kwargs)

    monkeypatch.setattr(store, "write_block", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, out=out, progress=False)
    monkeypatch.setattr(store, "write_block", real_write)
    assert not out.exists() and len(store.completed_blocks(out)) == 2
    run(cfg, out=out, progress=False)
    _assert_same(_arrays(out), _arrays(reference))
    assert not store.partial_dir(out).exists()


def test_killed_process_resumes_to_an_identical_file(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(tiny("vortex", n=400)))
    out = tmp_path / "k.h5"
    cmd = [sys.executable, "-m", "darklens", "simulate", str(config), "--out", str(out), "-q"]
    proc = subprocess.Popen(cmd, start_new_session=True)
    deadline = time.time() + 60
    while len(store.completed_blocks(out)) < 3 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = store.completed_blocks(out)
    assert not out.exists() and 3 <= len(done) < 25
    assert subprocess.run(cmd).returncode == 0
    reference = run(tmp_path / "c.yaml", out=tmp_path / "ref.h5", progress=False)
    _assert_same(_arrays(out), _arrays(reference))


def test_resume_refuses_a_different_config(tmp_path, monkeypatch):
    out = tmp_path / "x.h5"
    monkeypatch.setattr(store, "write_block", lambda *a, **k: (_ for _ in ()).throw(
        KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        run(tiny(n=40), out=out, progress=False)
    monkeypatch.undo()
    with pytest.raises(DarklensError, match="holds blocks of a different run"):
        run(tiny(n=40, seed=99), out=out, progress=False)


def test_existing_output_is_kept_unless_overwrite(tmp_path):
    out = run(tiny(n=4), out=tmp_path / "x.h5", progress=False)
    with pytest.raises(DarklensError, match="already exists; pass --overwrite"):
        run(tiny(n=4), out=out, progress=False)
    run(tiny(n=5), out=out, progress=False, overwrite=True)
    assert _arrays(out)["image"].shape[0] == 5


def test_render_image_imposes_parameters():
    image, values = render_image(tiny(), {"log10_halo_mass": 11.2, "source_mag": 21.0})
    assert values["log10_halo_mass"] == 11.2 and image.shape == (32, 32)
    with pytest.raises(DarklensError, match="'f_sub' is not sampled"):
        render_image(tiny(), {"f_sub": 0.1})


def test_info_cli_lists_variables_and_plots(tmp_path, capsys):
    out = run(tiny("cdm", n=6), out=tmp_path / "d.h5", progress=False)
    assert main(["info", str(out), "--plot", str(tmp_path / "p.png"), "--n-plot", "4"]) == 0
    text = capsys.readouterr().out
    for name in ("f_sub", "theta_E", "n_subhalos", "lenstronomy_version", "config"):
        assert name in text
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["info", str(tmp_path / "missing.h5")]) == 2
