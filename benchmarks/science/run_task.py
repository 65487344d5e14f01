"""Run one science-benchmark task end to end with the darklens command line.

    python benchmarks/science/run_task.py hst_axion            # -> bench-runs/hst_axion/
    python benchmarks/science/run_task.py hst_axion --scale 0.1 --set train.epochs=1   # smoke
    python benchmarks/science/run_task.py hst_axion --launcher "accelerate launch -m darklens.train"

Steps (each one a ``darklens`` command, appended to ``<out>/<task>/commands.sh`` so any row of
RESULTS.md can be replayed by hand):

1. simulate train / val / calib / test sets from the task's preset with disjoint seeds;
2. write the test set as a folder of FITS files (``darklens export``): inference goes through the
   real file path, with known inputs read from FITS header keywords;
3. per model: its curriculum stages if it has any (``darklens train`` on easier simulations,
   each starting from the previous stage's weights), ``darklens train`` (validation on the val
   set, starting from the last stage), ``infer`` on the FITS folder,
   ``analyze`` (uncalibrated), then for probabilistic models ``calibrate`` on the calib set,
   ``infer`` and ``analyze`` again;
4. per instrument shift: simulate a shifted test set, export, infer with the calibrated best
   model, analyze;
5. ``results.json`` and ``results.md`` (the task's table for RESULTS.md).

Finished steps are skipped on a rerun (datasets, trained runs, reports that exist), so a killed
task continues where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SETS = ("train", "val", "calib", "test")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("task", help="task name (benchmarks/science/tasks/<task>.yaml) or YAML path")
    p.add_argument("--out", default="bench-runs", help="folder for all tasks (default bench-runs)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every set size")
    p.add_argument("--workers", type=int, default=2, help="simulation workers")
    p.add_argument("--models", help="comma-separated subset of the task's models")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra training override for every model (e.g. train.batch_size=256)")
    p.add_argument("--launcher", default="darklens train",
                   help='training command (default "darklens train"; on GPUs e.g. '
                        '"accelerate launch --num_processes 1 -m darklens.train")')
    p.add_argument("--tag", default="", help="suffix of the task folder (e.g. _gpu)")
    args = p.parse_args(argv)

    task_file = Path(args.task)
    if task_file.suffix != ".yaml":
        task_file = HERE / "tasks" / f"{args.task}.yaml"
    task = yaml.safe_load(task_file.read_text())
    name = task_file.stem
    out = (Path(args.out) / (name + args.tag)).resolve()
    out.mkdir(parents=True, exist_ok=True)
    runner = Runner(out)
    runner.log(f"# {name}: {' '.join(sys.argv)}")

    sim, target, inputs = ROOT / task["sim"], task["target"], task.get("inputs", [])
    sizes = {k: max(64, int(round(v * args.scale))) for k, v in task["sizes"].items()}
    data = {}
    for k, split in enumerate(SETS):
        data[split] = out / f"{split}.h5"
        runner.once(data[split], f"simulate {split}",
                    ["darklens", "simulate", sim, "--out", data[split], "-n", sizes[split],
                     "--seed", task["seed"] + k, "--workers", args.workers, "-q"])
    fits = out / "test_fits"
    labels = export(runner, data["test"], fits, inputs)

    results = {"task": name, "target": target, "sizes": sizes, "models": {}, "shifts": {},
               "published": task.get("published", []), "reference": task.get("reference", [])}
    if (out / "results.json").exists():  # a run of some --models adds to the earlier rows
        earlier = json.loads((out / "results.json").read_text())
        results["models"], results["shifts"] = earlier["models"], earlier["shifts"]
    chosen = args.models.split(",") if args.models else list(task["models"])
    for model in chosen:
        spec = task["models"][model]
        run = out / "runs" / model
        start = curriculum(runner, args, task, spec, model, sim, sizes, target)
        sets = [f"data.files=[{data['train']}]", f"data.val_files=[{data['val']}]",
                *([f"model.init_from={start}"] if start else []), *spec.get("set", [])]
        train(runner, args, spec, run, target, sets, f"train {model}")
        stages = [runner.out / "runs" / f"{model}_stage{i}"
                  for i in range(len(spec.get("curriculum", [])))]
        walls = [runner.walls.get(f"train {model}")] + [
            runner.walls.get(f"train {model} stage {i}") for i in range(len(stages))]
        row = {"config": spec["config"], "set": spec.get("set", []) + args.set,
               "train_wall_s": None if None in walls else sum(walls),
               "epochs": sum(_epochs(r) for r in [*stages, run]), "curriculum": len(stages),
               "train_images": sizes["train"] + sum(
                   _stage_size(st, "train", sizes, args.scale)
                   for st in spec.get("curriculum", []))}
        row["raw"] = infer_analyze(runner, run, fits, labels, out / "pred" / f"{model}_raw")
        if row["raw"].get("nll") is not None:  # probabilistic: calibrate, then measure again
            # calibrate writes into model.json; a marker file records that it ran
            runner.once(run / "best" / "calibrated.flag", f"calibrate {model}",
                        ["darklens", "calibrate", run, data["calib"]], mark=True)
            row["calibrated"] = infer_analyze(runner, run, fits, labels,
                                              out / "pred" / f"{model}_cal")
        results["models"][model] = row
        runner.save(results)

    best = out / "runs" / "best"
    for k, (shift, overrides) in enumerate(task.get("shifts", {}).items(), start=len(SETS)):
        if "best" not in chosen:
            break
        shifted = out / f"test_{shift}.h5"
        cmd = ["darklens", "simulate", sim, "--out", shifted, "-n", sizes["test"],
               "--seed", task["seed"] + k, "--workers", args.workers, "-q"]
        for s in overrides:
            cmd += ["--set", s]
        runner.once(shifted, f"simulate test set, {shift}", cmd)
        shift_labels = export(runner, shifted, out / f"test_{shift}_fits", inputs)
        results["shifts"][shift] = {
            "set": overrides,
            "calibrated": infer_analyze(runner, best, out / f"test_{shift}_fits", shift_labels,
                                        out / "pred" / f"best_{shift}"),
        }
        runner.save(results)

    sys.path.insert(0, str(HERE))
    from table import task_markdown  # benchmarks/science/table.py

    (out / "results.md").write_text(task_markdown(results))
    print(f"done: {out / 'results.md'}")
    return 0


def train(runner, args, spec: dict, run: Path, target: str, sets: list, what: str) -> None:
    """``darklens train`` of a model spec with extra ``--set`` overrides: skipped when done,
    resumed from its last checkpoint when a killed task left it half-way."""
    done = run / "train.done"
    if (run / "checkpoints").is_dir() and not done.exists():
        cmd = [*shlex.split(args.launcher), "--resume", run]
    else:
        sets = [f"data.targets=[{target}]", f"train.out={run}", "train.progress=false", *sets,
                *args.set]
        cmd = [*shlex.split(args.launcher), ROOT / spec["config"]]
        for s in sets:
            cmd += ["--set", s]
    runner.once(done, what, cmd, mark=True)


def curriculum(runner, args, task, spec, model, sim, sizes, target) -> Path | None:
    """Train a model's curriculum stages, easiest first, each on its own simulated train / val
    sets (the task's simulation with the stage's ``sim`` overrides, other seeds) and starting
    from the previous stage's weights; returns the last stage's run (None without stages)."""
    previous = None
    for i, stage in enumerate(spec.get("curriculum", [])):
        sets = []
        for k, split in enumerate(("train", "val")):
            path = runner.out / f"{model}_stage{i}_{split}.h5"
            n = _stage_size(stage, split, sizes, args.scale)
            cmd = ["darklens", "simulate", sim, "--out", path, "-n", n,
                   "--seed", task["seed"] + 100 * (i + 1) + k, "--workers", args.workers, "-q"]
            for s in stage.get("sim", []):
                cmd += ["--set", s]
            runner.once(path, f"simulate {model} stage {i} {split}", cmd)
            sets.append(f"data.{'files' if split == 'train' else 'val_files'}=[{path}]")
        if previous is not None:
            sets.append(f"model.init_from={previous}")
        run = runner.out / "runs" / f"{model}_stage{i}"
        train(runner, args, spec, run, target, [*sets, *stage.get("set", [])],
              f"train {model} stage {i}")
        previous = run
    return previous


class Runner:
    """Runs darklens commands, logs them to commands.sh, times them, skips finished steps."""

    def __init__(self, out: Path):
        self.out = out
        self.walls_path = out / "walls.json"
        self.walls = json.loads(self.walls_path.read_text()) if self.walls_path.exists() else {}

    def log(self, line: str) -> None:
        with open(self.out / "commands.sh", "a") as f:
            f.write(line + "\n")

    def once(self, product: Path, what: str, cmd: list, mark: bool = False):
        """Run ``cmd`` unless ``product`` exists; its wall time (s) goes to walls.json."""
        if Path(product).exists():
            print(f"[skip] {what}: {product} exists", flush=True)
            return
        cmd = [str(c) for c in cmd]
        line = shlex.join(cmd)
        self.log(line)
        print(f"[run ] {what}: {line}", flush=True)
        t0 = time.perf_counter()
        # the darklens / accelerate scripts next to this Python, even without an activated venv
        env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                                      os.environ.get("PATH", "")])}
        if (rc := subprocess.run(cmd, cwd=self.out, env=env).returncode) != 0:
            raise SystemExit(f"run_task: {what} failed (exit {rc}); rerun to continue from here")
        wall = time.perf_counter() - t0
        if mark:
            Path(product).write_text(line + "\n")
        self.walls[what] = wall
        self.walls_path.write_text(json.dumps(self.walls, indent=1))
        print(f"[done] {what}: {wall:.1f} s", flush=True)

    def save(self, results: dict) -> None:
        (self.out / "results.json").write_text(json.dumps(results, indent=1, default=float))


def export(runner: Runner, dataset: Path, fits: Path, inputs) -> Path:
    from darklens.data.fits_export import default_labels_path

    labels = default_labels_path(fits)
    cmd = ["darklens", "export", dataset, "--fits", fits, "-q"]
    if inputs:
        cmd += ["--inputs", ",".join(inputs)]
    runner.once(labels, f"export {dataset.name}", cmd)
    return labels


def infer_analyze(runner: Runner, run: Path, fits: Path, labels: Path, stem: Path) -> dict:
    """``darklens infer`` on the FITS folder, then ``darklens analyze``; the target's metrics."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    pred, report = stem.with_suffix(".csv"), stem.parent / (stem.name + "_report")
    runner.once(pred, f"infer {stem.name}",
                ["darklens", "infer", run, fits, "--out", pred, "--strict", "-q"])
    runner.once(report / "metrics.json", f"analyze {stem.name}",
                ["darklens", "analyze", pred, "--truth", labels, "--out", report])
    metrics = json.loads((report / "metrics.json").read_text())
    (name, m), = metrics.items()
    return dict(m, report=str(report.relative_to(runner.out)))


def _stage_size(stage: dict, split: str, sizes: dict, scale: float) -> int:
    """Images of a curriculum stage's set: its own size (scaled), or the task's."""
    own = stage.get("sizes", {}).get(split)
    return sizes[split] if own is None else max(64, int(round(own * scale)))


def _epochs(run: Path) -> int:
    with open(run / "metrics.csv") as f:
        return sum(1 for _ in f) - 1


if __name__ == "__main__":
    sys.exit(main())
