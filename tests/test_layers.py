"""Imports follow the layers: simulation, storage and analysis need no torch, inference needs
no training code, nothing imports the CLI, and the torch-free verbs work without torch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import yaml

from tests.conftest import tiny

CORE = ["darklens.simulate.runner", "darklens.data.store", "darklens.data.merge",
        "darklens.data.catalog", "darklens.data.fits_export", "darklens.data.info",
        "darklens.analysis.report", "darklens.analysis.compare",
        "darklens.analysis.population", "darklens.artifact",
        "darklens.train.config", "darklens.cli"]


def _loaded_after(modules: list[str]) -> set[str]:
    code = (f"import sys, json\nfor m in {modules!r}: __import__(m)\n"
            "print(json.dumps(list(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_simulation_storage_and_analysis_import_no_torch():
    loaded = _loaded_after(CORE)
    assert not {m for m in loaded if m.split(".")[0] in ("torch", "timm", "accelerate", "optuna")}


def test_inference_imports_no_training_code_and_nothing_imports_the_cli():
    loaded = _loaded_after(["darklens.infer.predict", "darklens.infer.paths",
                            "darklens.infer.calibrate", "darklens.train.loop",
                            "darklens.train.tune", "darklens.demo"])
    inference = _loaded_after(["darklens.infer.paths", "darklens.infer.calibrate"])
    assert not {m for m in inference if m.startswith("darklens.train")}
    assert "darklens.cli" not in loaded


# makes `import torch` (and the other ML packages) fail, as in an install without [train]
_BLOCKER = """
import importlib.abc, sys
class _NoML(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "timm", "accelerate", "optuna"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _NoML())
"""


def test_core_verbs_run_without_torch_and_ml_verbs_name_the_extra(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(_BLOCKER)
    (tmp_path / "sim.yaml").write_text(yaml.safe_dump(tiny(n=16)))
    script = textwrap.dedent(f"""
        import sys
        import pandas as pd
        from darklens.cli import main
        d = {str(tmp_path)!r}
        assert main(["simulate", d + "/sim.yaml", "--out", d + "/a.h5", "-q"]) == 0
        assert main(["info", d + "/a.h5"]) == 0
        assert main(["export", d + "/a.h5", "--fits", d + "/fits", "-q"]) == 0
        labels = pd.read_csv(d + "/fits.labels.csv")
        labels["log10_halo_mass_mean"] = labels["log10_halo_mass_true"] + 0.01
        labels["log10_halo_mass_std"] = 0.05
        labels[["source", "log10_halo_mass_mean", "log10_halo_mass_std"]].to_csv(
            d + "/pred.csv", index=False)
        assert main(["analyze", d + "/pred.csv", "--truth", d + "/fits.labels.csv",
                     "--out", d + "/report"]) == 0
        assert main(["population", d + "/pred.csv", "--target", "log10_halo_mass",
                     "--prior", "11.0", "11.4", "--out", d + "/pop"]) == 0
        assert main(["train", d + "/sim.yaml"]) == 2
        print("torch" in sys.modules)
    """)
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"
    assert "darklens train needs torch, which is not installed; pip install 'darklens[train]'" \
        in out.stderr
    assert (tmp_path / "report" / "report.html").is_file()
    assert (tmp_path / "pop" / "population.png").is_file()
