"""Pretrained backbone weights: local weights files and the errors of fetching them.

timm loads a local file exactly as it loads downloaded weights (first convolution adapted to
``in_chans``, classifier dropped) but non-strictly, so every backbone weight is checked to come
from the file; download failures and timm's other creation errors become one-line
:class:`~darklens.errors.DarklensError` messages naming the config field.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from torch import nn

from darklens.errors import DarklensError

__all__ = ["check_weight_keys", "timm_errors", "weight_keys"]


def _download_errors() -> tuple[type[BaseException], ...]:
    # hf_hub_download raises LocalEntryNotFoundError both offline (HF_HUB_OFFLINE=1) and when the
    # host cannot be resolved; torch.hub (url weights) raises URLError.
    errors: list[type[BaseException]] = [urllib.error.URLError, ConnectionError, TimeoutError]
    try:
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError:
        pass
    else:
        errors += [LocalEntryNotFoundError, HfHubHTTPError]
    return tuple(errors)


def weight_keys(name: str, path: str, where: str) -> set[str]:
    """Weight names in a local weights file, with one-line errors for a missing or bad file."""
    from timm.models import load_state_dict

    if not Path(path).is_file():
        raise DarklensError(f"{where}: weights file {path} not found")
    try:
        if str(path).endswith(".safetensors"):
            from safetensors import safe_open

            # Reads only the header: the tensors are loaded once, by timm.
            with safe_open(str(path), framework="pt") as f:
                return set(f.keys())
        return set(load_state_dict(str(path)))
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same user mistake
        raise DarklensError(
            f"{where}: cannot read {path} as weights for backbone {name} ({type(err).__name__})"
        ) from None


def _norm_key(key: str) -> str:
    # Feature wrappers rename modules ("features_denseblock2", "model.blocks"); comparing with
    # "_" and "." folded together and without the wrapper prefix matches them with the file.
    return key.removeprefix("model.").removeprefix("module.").replace("_", ".")


def check_weight_keys(name: str, model: nn.Module, keys: set[str], path: str, where: str) -> None:
    """Every backbone weight must come from the file (timm loads non-strictly once the
    classifier is dropped, so a file of another architecture would leave random weights)."""
    have = {_norm_key(k) for k in keys}
    missing = [
        k
        for k in model.state_dict()
        if _norm_key(k) not in have and not k.endswith("num_batches_tracked")
    ]
    if missing:
        raise DarklensError(
            f"{where}: {path} lacks {len(missing)} weights of backbone {name} "
            f"(e.g. {missing[0]!r}); is it a checkpoint of this architecture?"
        )


@contextmanager
def timm_errors(name: str, where: str, pretrained_path: str | None,
                out_indices: list[int] | None) -> Iterator[None]:
    """Turn what ``timm.create_model`` raises for a user's choice into one-line errors."""
    try:
        yield
    except _download_errors():
        raise DarklensError(
            f"backbone {name}: pretrained weights could not be downloaded (offline?); download "
            f"them once or set {where}.pretrained_path to a local file"
        ) from None
    except TypeError as err:
        if "drop_path_rate" in str(err):
            raise DarklensError(
                f"{where}.drop_path: backbone {name} does not support stochastic depth; set 0"
            ) from None
        raise
    except (RuntimeError, IndexError, AssertionError) as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        if pretrained_path and lines and "loading state_dict" in lines[0]:
            detail = lines[1] if len(lines) > 1 else lines[0]
            raise DarklensError(
                f"{where}.pretrained_path: {pretrained_path} does not fit backbone {name} "
                f"({detail})"
            ) from None
        if lines and "No pretrained weights" in lines[0]:
            raise DarklensError(
                f"{where}.pretrained: backbone {name} has no pretrained weights in timm"
            ) from None
        if out_indices:
            raise DarklensError(
                f"{where}.fusion.out_indices: invalid stages {list(out_indices)} for backbone "
                f"{name} ({lines[0] if lines else type(err).__name__})"
            ) from None
        raise
