"""The trained model as inference needs it, and the run directory that holds it.

A run directory (``darklens train``) is laid out as :class:`RunDir` says; its exported model,
``best/``, is ``model.safetensors`` (weights) plus ``model.json`` (:class:`ModelMeta`: the
architecture spec, targets, known inputs, image shape, image and target normalisation,
calibration, provenance). Inference, calibration and reports read models through this module
only, so they import no training code; loading reads safetensors and JSON, never a pickle.
torch is imported only by the functions that build or save a network.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from darklens.atomic import atomic_path, write_text_atomic
from darklens.config import from_dict, to_dict
from darklens.errors import DarklensError

__all__ = ["META", "OOD", "WEIGHTS", "ModelMeta", "RunDir", "load_model", "load_ood",
           "load_weights", "read_meta", "save_model", "write_calibration", "write_ood"]

WEIGHTS, META, OOD = "model.safetensors", "model.json", "ood.safetensors"


@dataclass
class RunDir:
    """The files of one training run, by role.

    Parameters
    ----------
    root : path
        The run directory (``train.out``).
    """

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    config = property(lambda self: self.root / "config.yaml")
    versions = property(lambda self: self.root / "versions.json")
    metrics = property(lambda self: self.root / "metrics.csv")
    checkpoints = property(lambda self: self.root / "checkpoints")
    best = property(lambda self: self.root / "best")
    tensorboard = property(lambda self: self.root / "tensorboard")
    analysis = property(lambda self: self.root / "analysis")
    done = property(lambda self: self.root / "done.json")

    def checkpoint(self, epoch: int) -> Path:
        """Folder of the accelerate state saved after ``epoch`` (1-based)."""
        return self.checkpoints / f"epoch_{epoch:04d}"

    def list_checkpoints(self) -> list[Path]:
        """Saved checkpoints, oldest first."""
        return sorted(self.checkpoints.glob("epoch_*"))

    @staticmethod
    def model_dir(path: str | Path) -> Path:
        """The export folder of ``path``: a run directory's ``best/``, or ``path`` itself."""
        path = Path(path)
        return path / "best" if (path / "best" / META).is_file() else path

    @staticmethod
    def is_model(path: str | Path) -> bool:
        """Whether ``path`` is a model export or a run directory holding one."""
        return (RunDir.model_dir(path) / META).is_file()


@dataclass
class ModelMeta:
    """Everything besides the weights that rebuilds and feeds an exported model.

    Attributes
    ----------
    targets, inputs : list of str
        Regressed variables and known scalar inputs, in the model's output/input order.
    model_spec : dict
        :meth:`darklens.models.build.DarklensModel.model_spec` (architecture, sizes).
    image_shape : list of int
        ``[bands, H, W]`` the network takes.
    image_norm, target_norm, input_norm : dict
        :class:`~darklens.data.normalize.ImageNorm` / ``TargetNorm`` mappings.
    head : dict
        The configured head (kind and options).
    calibration : dict
        Per target ``{"sigma_scale", "levels", "quantiles", ...}`` from ``darklens calibrate``.
    ood : dict
        The out-of-distribution checks' thresholds and ranges
        (:class:`~darklens.infer.ood.OODModel`; its feature statistics are ``ood.safetensors``).
    pixel_scale, image_units : float or None, str
        Of the training images (arcsec, ``counts/s`` or ``counts``), for real cutouts.
    exposure_range : list of float or None
        Smallest and largest total exposure of the training images, s (None: noiseless).
    band_names : list of str or None
        The bands of a multi-band training set, in channel order (None: one band, or unknown).
    lens_light_subtracted : bool
        Whether the training images had the lens galaxy's light taken out.
    epoch, val_metrics, config, versions
        Provenance: the exported epoch, its validation metrics row, the resolved training
        config (YAML text) and package versions.
    """

    targets: list[str]
    inputs: list[str] = field(default_factory=list)
    model_spec: dict = field(default_factory=dict)
    image_shape: list[int] = field(default_factory=list)
    image_norm: dict = field(default_factory=dict)
    target_norm: dict = field(default_factory=dict)
    input_norm: dict | None = None
    head: dict = field(default_factory=dict)
    calibration: dict = field(default_factory=dict)
    ood: dict = field(default_factory=dict)
    pixel_scale: float | None = None
    image_units: str = "counts/s"
    exposure_range: list[float] | None = None
    band_names: list[str] | None = None
    lens_light_subtracted: bool = False
    epoch: int | None = None
    val_metrics: dict = field(default_factory=dict)
    config: str = ""
    versions: dict = field(default_factory=dict)

    def validate(self, where: str) -> None:
        if not self.targets:
            raise DarklensError(f"{where}.targets: expected a non-empty list of targets")

    def norms(self):
        """``(ImageNorm, TargetNorm, TargetNorm or None)`` of images, targets and inputs."""
        from darklens.data.normalize import ImageNorm, TargetNorm

        inputs = TargetNorm.from_dict(self.input_norm) if self.input_norm else None
        return ImageNorm.from_dict(self.image_norm), TargetNorm.from_dict(self.target_norm), inputs

    def to_json(self) -> str:
        return json.dumps(to_dict(self), indent=2, default=float)


def read_meta(path: str | Path) -> ModelMeta:
    """The :class:`ModelMeta` of a model export or run directory (no torch needed)."""
    meta_path = RunDir.model_dir(path) / META
    if not meta_path.is_file():
        raise DarklensError(f"{path}: not a darklens model (expected {META})")
    try:
        data = json.loads(meta_path.read_text())
    except (OSError, ValueError) as err:
        raise DarklensError(f"{meta_path}: unreadable JSON ({err})") from None
    return from_dict(ModelMeta, data, str(meta_path))


def save_model(directory: str | Path, model, meta: ModelMeta) -> Path:
    """Write weights and metadata into ``directory`` atomically (temp names, then rename)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS) as tmp:
        save_file(state, str(tmp))
    write_text_atomic(directory / META, meta.to_json())
    return directory


def load_model(path: str | Path, device: str = "cpu"):
    """Rebuild an exported model.

    Parameters
    ----------
    path : path
        A run directory (its ``best/`` is used) or an export directory.
    device : str or torch.device
        Where the weights go.

    Returns
    -------
    model : DarklensModel
        In eval mode on ``device``.
    meta : ModelMeta
    """
    from safetensors.torch import load_file

    from darklens.models.build import build_model_from_spec

    path = RunDir.model_dir(path)
    if not (path / WEIGHTS).is_file():
        raise DarklensError(f"{path}: not a darklens model (expected {META} and {WEIGHTS})")
    meta = read_meta(path)
    try:
        model = build_model_from_spec(meta.model_spec)
        model.load_state_dict(load_file(str(path / WEIGHTS), device=str(device)))
    except (KeyError, ValueError, RuntimeError) as err:
        raise DarklensError(f"{path}: unreadable model export ({err})") from None
    return model.to(device).eval(), meta


def load_weights(model, path: str | Path, where: str = "model.init_from") -> None:
    """Copy the weights of an exported model into ``model`` (same architecture, in place)."""
    from safetensors.torch import load_file

    path = RunDir.model_dir(path)
    if not (path / WEIGHTS).is_file():
        raise DarklensError(f"{where}: {path} is not a darklens model (expected {WEIGHTS})")
    try:
        model.load_state_dict(load_file(str(path / WEIGHTS)))
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise DarklensError(f"{where}: {path} does not fit this architecture ({first})") from None


def _update_meta(path: str | Path, **changes) -> Path:
    meta = dataclasses.replace(read_meta(path), **changes)
    target = RunDir.model_dir(path) / META
    write_text_atomic(target, meta.to_json())
    return target


def write_calibration(path: str | Path, calibration: dict) -> Path:
    """Store a model's calibration (per target) in its ``model.json``, atomically."""
    return _update_meta(path, calibration=calibration)


def write_ood(path: str | Path, ood) -> Path:
    """Store fitted out-of-distribution checks (an ``OODModel``) with a model export."""
    from safetensors.numpy import save_file

    directory = RunDir.model_dir(path)
    with atomic_path(directory / OOD) as tmp:
        save_file({"mean": ood.mean, "precision": ood.precision}, str(tmp))
    return _update_meta(path, ood=ood.to_meta())


def load_ood(path: str | Path):
    """The ``OODModel`` of an export, or None when it has none."""
    from safetensors.numpy import load_file

    from darklens.infer.ood import OODModel

    directory = RunDir.model_dir(path)
    meta = read_meta(directory)
    if not meta.ood or not (directory / OOD).is_file():
        return None
    arrays = load_file(str(directory / OOD))
    return OODModel(arrays["mean"], arrays["precision"], **meta.ood)
