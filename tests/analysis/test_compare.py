"""``compare_runs`` on two hand-made run directories."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from safetensors.numpy import save_file

from darklens.analysis.compare import compare_runs
from darklens.errors import DarklensError
from tests.analysis.conftest import assert_png

T = "log10_halo_mass"


def _run(root, name, spec, mae, shapes, analysis=None, config="model: {backbone: x}\n"):
    run = root / name
    (run / "best").mkdir(parents=True)
    (run / "config.yaml").write_text(config)
    pd.DataFrame(
        {
            "epoch": [1, 2, 3],
            "lr": [1e-3] * 3,
            "train_loss": [1.0, 0.5, 0.4],
            "val_loss": [1.0, 0.4, 0.6],
            "images_per_s": [100.0, 200.0, 300.0],
            f"mae_{T}": [0.5, mae, 0.3],
            f"rmse_{T}": [0.6, 2 * mae, 0.4],
            f"r2_{T}": [0.1, 0.8, 0.9],
        }
    ).to_csv(run / "metrics.csv", index=False)
    meta = {
        "model_spec": spec,
        "targets": [T],
        "epoch": 2,
        "val_metrics": {"epoch": 2, f"mae_{T}": mae, f"rmse_{T}": 2 * mae, f"r2_{T}": 0.8},
    }
    (run / "best" / "model.json").write_text(json.dumps(meta))
    save_file(
        {k: np.zeros(s, np.float32) for k, s in shapes.items()},
        str(run / "best" / "model.safetensors"),
    )
    if analysis is not None:
        (run / "analysis").mkdir()
        (run / "analysis" / "metrics.json").write_text(json.dumps(analysis))
    return run


def test_compare_two_runs(tmp_path):
    a = _run(
        tmp_path,
        "resnet",
        {
            "backbones": [{"name": "resnet18"}],
            "head": "gaussian",
            "model": {"backbone": "resnet18", "fusion": None},
        },
        mae=0.2,
        shapes={"w": (3, 4), "b": (4,)},
        analysis={T: {"nll": -1.5, "miscalibration_area": 0.03}},
    )
    # no backbones in the spec: the config's fusion names them
    b = _run(
        tmp_path,
        "fused",
        {"head": "point"},
        mae=0.1,
        shapes={"w": (10, 10)},
        config="model:\n  fusion: {kind: backbones, backbones: [vgg16, vit_tiny], op: concat}\n",
    )
    out = tmp_path / "cmp"
    table = compare_runs([a, b], out)

    assert list(table["run"]) == ["resnet", "fused"]
    assert list(table["backbone"]) == ["resnet18", "vgg16+vit_tiny (backbones, concat)"]
    assert list(table["params"]) == [16, 100]
    assert list(table["images_per_s"]) == [200.0, 200.0]
    assert list(table[f"mae_{T}"]) == [0.2, 0.1] and list(table["best_epoch"]) == [2, 2]
    assert table[f"nll_{T}"].iloc[0] == -1.5 and np.isnan(table[f"nll_{T}"].iloc[1])
    assert table[f"coverage_error_{T}"].iloc[0] == 0.03

    assert pd.read_csv(out / "comparison.csv")["backbone"].iloc[0] == "resnet18"
    md = (out / "comparison.md").read_text()
    assert "| resnet |" in md and "comparison.png" in md
    assert_png(out / "comparison.png")


def test_missing_or_invalid_run_dir(tmp_path):
    with pytest.raises(DarklensError, match="nowhere") as err:
        compare_runs([tmp_path / "nowhere"], tmp_path / "out")
    assert "\n" not in str(err.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DarklensError, match="empty.*model.json"):
        compare_runs([tmp_path / "empty"], tmp_path / "out")
    bad = tmp_path / "bad"
    (bad / "best").mkdir(parents=True)
    (bad / "best" / "model.json").write_text("{not json")
    with pytest.raises(DarklensError, match="model.json"):
        compare_runs([bad], tmp_path / "out")
