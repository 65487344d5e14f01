"""`darklens study`: variants trained once, finished runs skipped, --only, comparison written."""

from __future__ import annotations

import pytest
import yaml

from darklens.cli import main
from darklens.errors import DarklensError
from darklens.simulate import run
from darklens.train import loop
from tests.conftest import tiny


@pytest.fixture(scope="module")
def study_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    data = run(tiny("none", n=96), out=root / "d.h5", progress=False)
    (root / "base.yaml").write_text(yaml.safe_dump({
        "data": {"files": [str(data)], "targets": ["log10_halo_mass"], "num_workers": 0,
                 "split": [0.7, 0.3, 0.0]},
        "model": {"backbone": "resnet10t", "head": {"kind": "gaussian"}},
        "train": {"batch_size": 16, "progress": False, "channels_last": False},
    }))
    path = root / "study.yaml"
    path.write_text(yaml.safe_dump({
        "base": "base.yaml", "out": str(root / "runs"), "budget": {"epochs": 1},
        "set": {"optim.lr": 2e-3},
        "variants": {"gauss": {}, "point": {"model.head": {"kind": "point"}}},
    }))
    return path


def test_study_trains_each_variant_once_and_compares(study_file, monkeypatch):
    runs = study_file.parent / "runs"
    assert main(["study", str(study_file), "--only", "point"]) == 0
    assert (runs / "point" / "done.json").is_file() and not (runs / "gauss").exists()
    assert main(["study", str(study_file)]) == 0
    assert (runs / "gauss" / "done.json").is_file()
    assert (runs / "comparison" / "comparison.md").is_file()
    config = yaml.safe_load((runs / "point" / "config.yaml").read_text())
    assert config["train"]["epochs"] == 1 and config["optim"]["lr"] == 2e-3
    assert config["model"]["head"]["kind"] == "point"

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(loop, "train", no_training)
    assert main(["study", str(study_file)]) == 0


def test_bad_study_files(study_file, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"base": "x.yaml", "variants": {}}))
    assert main(["study", str(bad)]) == 2
    with pytest.raises(DarklensError, match="--only nope: not a variant"):
        from darklens.train.study import run_study

        run_study(study_file, only=["nope"])


def test_a_weights_file_adds_a_fine_tuned_variant(study_file):
    import timm
    from safetensors.torch import save_file

    root = study_file.parent
    net = timm.create_model("resnet10t", in_chans=1, num_classes=0, pretrained=False)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(root / "w.safetensors"))
    spec = yaml.safe_load(study_file.read_text())
    spec["weights"] = {"gauss": "w.safetensors"}
    path = root / "ft.yaml"
    path.write_text(yaml.safe_dump(spec))
    assert main(["study", str(path), "--only", "gauss_ft"]) == 0
    config = yaml.safe_load((root / "runs" / "gauss_ft" / "config.yaml").read_text())
    assert config["model"]["pretrained_path"] == str((root / "w.safetensors").resolve())
