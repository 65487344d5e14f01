"""The trained model as inference needs it: ``best/model.safetensors`` + ``best/model.json``.

The JSON holds everything to rebuild and feed the model (architecture spec, targets, known
inputs, image shape, image and target normalisation) plus provenance (resolved config, versions,
epoch, validation metrics). Loading reads safetensors and JSON only: nothing is unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from darklens.atomic import atomic_path, write_text_atomic
from darklens.errors import DarklensError

__all__ = ["WEIGHTS", "META", "load_export", "save_export"]

WEIGHTS, META = "model.safetensors", "model.json"


def save_export(directory: Path, model: torch.nn.Module, meta: dict) -> Path:
    """Write weights and metadata into ``directory`` atomically (temp names, then rename)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(directory / WEIGHTS) as tmp:
        save_file(state, str(tmp))
    write_text_atomic(directory / META, json.dumps(meta, indent=2, default=float))
    return directory


def load_export(path: str | Path, device: str | torch.device = "cpu"):
    """Rebuild an exported model.

    Parameters
    ----------
    path : path
        A run directory (its ``best/`` is used) or an export directory.

    Returns
    -------
    model : DarklensModel
        In eval mode on ``device``.
    meta : dict
        The export's metadata (targets, inputs, normalisations, ...).
    """
    from darklens.models.build import build_model_from_spec

    path = Path(path)
    if (path / "best" / META).is_file():
        path = path / "best"
    if not (path / META).is_file() or not (path / WEIGHTS).is_file():
        raise DarklensError(f"{path}: not a darklens model (expected {META} and {WEIGHTS})")
    try:
        meta = json.loads((path / META).read_text())
        model = build_model_from_spec(meta["model_spec"])
        model.load_state_dict(load_file(str(path / WEIGHTS), device=str(device)))
    except (KeyError, ValueError, RuntimeError) as err:
        raise DarklensError(f"{path}: unreadable model export ({err})") from None
    return model.to(device).eval(), meta
