"""Outputs that cannot be written: one line, exit status 2, no partial file under the name."""

from __future__ import annotations

import errno

import numpy as np
import pandas as pd
import yaml

from darklens.cli import main
from tests.conftest import tiny


def _config(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text(yaml.safe_dump(tiny(n=16)))
    return str(path)


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("darklens: error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_an_unwritable_place_is_one_line(tmp_path, capsys):
    assert main(["simulate", _config(tmp_path), "--out", "/proc/x.h5", "-q"]) == 2
    assert "/proc/x.h5" in _one_line(capsys)


def test_a_full_disk_while_simulating_keeps_nothing_under_the_final_name(tmp_path, capsys,
                                                                          monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.h5.partial"))

    monkeypatch.setattr(np, "savez", full)
    assert main(["simulate", _config(tmp_path), "--out", str(tmp_path / "x.h5"), "-q"]) == 2
    assert "No space left on device" in _one_line(capsys)
    assert not (tmp_path / "x.h5").exists()
    monkeypatch.undo()  # the disk has room again: the same command finishes the job
    assert main(["simulate", _config(tmp_path), "--out", str(tmp_path / "x.h5"), "-q"]) == 0


def test_a_full_disk_while_writing_predictions_keeps_the_old_table(tmp_path, capsys,
                                                                    monkeypatch):
    from tests.infer.conftest import export

    model_dir = export(tmp_path / "model")
    np.save(tmp_path / "a.npy", np.ones((32, 32), np.float32))
    out = tmp_path / "p.csv"
    out.write_text("an earlier table\n")

    def full(self, path, *args, **kwargs):
        with open(path, "w") as fh:
            fh.write("half a ta")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    assert main(["infer", str(model_dir), str(tmp_path / "a.npy"), "--out", str(out), "-q"]) == 2
    assert "No space left on device" in _one_line(capsys)
    assert out.read_text() == "an earlier table\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "model", "p.csv"]
