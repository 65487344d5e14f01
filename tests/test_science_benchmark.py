"""The science-benchmark runner end to end at a toy scale (slow: ~20 darklens commands)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
TASKS = sorted((ROOT / "benchmarks/science/tasks").glob("*.yaml"))


@pytest.mark.parametrize("task_file", TASKS, ids=lambda p: p.stem)
def test_every_task_names_a_valid_preset_and_valid_training_configs(task_file):
    from darklens.simulate.config import load_sim_config
    from darklens.train.config import load_train_config

    task = yaml.safe_load(task_file.read_text())
    sim = load_sim_config(ROOT / task["sim"])
    assert task["target"] in sim.stored_names()
    assert {"train", "val", "calib", "test"} <= set(task["sizes"])
    data = ["data.files=[train.h5]", "data.val_files=[val.h5]", f"data.targets=[{task['target']}]"]
    for name, spec in task["models"].items():
        cfg = load_train_config(ROOT / spec["config"], [*data, *spec.get("set", [])])
        assert cfg.train.epochs >= 1, name
        for stage in spec.get("curriculum", []):  # easier simulations of the same task
            assert load_sim_config(ROOT / task["sim"], stage["sim"]).kind == sim.kind
            load_train_config(ROOT / spec["config"], [*data, *stage.get("set", [])])
    for shift in task.get("shifts", {}).values():
        load_sim_config(ROOT / task["sim"], shift)


@pytest.mark.slow
def test_run_task_writes_results_and_resumes(tmp_path):
    cmd = [sys.executable, str(ROOT / "benchmarks/science/run_task.py"), "hst_halo_mass_z",
           "--out", str(tmp_path), "--scale", "0.02", "--models", "best",
           "--set", "train.epochs=1", "--set", "train.batch_size=16", "--workers", "1"]
    subprocess.run(cmd, check=True, capture_output=True)
    out = tmp_path / "hst_halo_mass_z"
    results = json.loads((out / "results.json").read_text())
    best = results["models"]["best"]
    assert best["epochs"] == 1 and best["raw"]["n"] == results["sizes"]["test"] == 64
    assert best["calibrated"]["interval_coverage_68"] is not None
    assert "| `best` | 120 | 1 |" in (out / "results.md").read_text()
    # every step is in commands.sh; a rerun skips them all
    commands = (out / "commands.sh").read_text()
    assert commands.count("darklens simulate") == 4 and "--inputs z_lens,z_source" in commands
    rerun = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    assert "[run ]" not in rerun and rerun.count("[skip]") >= 10
