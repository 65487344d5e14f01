"""Predictions of trained models: deep ensembles, D4 test-time augmentation, intervals.

:class:`Predictor` holds one or more exported models and turns raw images into per-target mean
and standard deviation in physical units; :func:`intervals` gives central intervals, calibrated
when the export carries a calibration; :func:`predict_paths` runs it all over files and
writes the table (:mod:`darklens.infer.tables`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import torch

from darklens.data.normalize import ImageNorm, TargetNorm
from darklens.errors import DarklensError
from darklens.infer.readers import BadInput, Source, iter_inputs
from darklens.infer.tables import check_output, errors_path, write_table

__all__ = ["Predictor", "Summary", "intervals", "predict_paths", "z_value"]


class Predictor:
    """One model or a deep ensemble of models, ready to predict raw images.

    Parameters
    ----------
    models : list of path
        Model exports (run directories or their ``best/``); all must share targets, inputs and
        image shape. Several form a deep ensemble.
    device : str
        Torch device.
    tta : bool
        Average over the 8 D4 transforms (rotations by 90 degrees, with and without a flip).
        Only sensible when every target is invariant under them (masses, radii; not position
        angles or shear components).
    batch_size : int
        Images per forward pass.
    """

    def __init__(
        self,
        models: Sequence[str | os.PathLike],
        device: str = "cpu",
        tta: bool = False,
        batch_size: int = 64,
    ):
        from darklens.train.export import load_export

        if not models:
            raise DarklensError("infer: no model given")
        members = [(load_export(p, device), str(p)) for p in models]
        self._setup([m for m, _ in members], [n for _, n in members], device, tta, batch_size)

    @classmethod
    def from_members(
        cls,
        members: Sequence[tuple[torch.nn.Module, dict]],
        device: str = "cpu",
        tta: bool = False,
        batch_size: int = 64,
    ) -> Predictor:
        """Build from already loaded ``(model, meta)`` pairs (tests, or models kept in memory)."""
        self = cls.__new__(cls)
        self._setup(
            list(members), [f"model {i}" for i in range(len(members))], device, tta, batch_size
        )
        return self

    def _setup(self, members, names, device, tta, batch_size) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise DarklensError(f"infer batch_size: expected an integer >= 1, got {batch_size!r}")
        first = members[0][1]
        for (_, meta), name in zip(members[1:], names[1:], strict=True):
            for key in ("targets", "inputs", "image_shape"):
                if list(meta[key]) != list(first[key]):
                    raise DarklensError(
                        f"{name}: {key} {meta[key]} differ from {first[key]} of {names[0]}; "
                        f"ensemble members must share targets, inputs and image shape"
                    )
        self.device, self.tta, self.batch_size = torch.device(device), bool(tta), batch_size
        self.targets: list[str] = list(first["targets"])
        self.inputs: list[str] = list(first["inputs"])
        self.image_shape: tuple[int, int, int] = tuple(int(v) for v in first["image_shape"])
        # members may come from different trainings, so each keeps its own normalisations
        self._members = [
            (
                model.to(self.device).eval(),
                ImageNorm.from_dict(meta["image_norm"]),
                TargetNorm.from_dict(meta["target_norm"]),
                TargetNorm.from_dict(meta["input_norm"]) if meta.get("input_norm") else None,
            )
            for model, meta in members
        ]
        #: per target ``{"sigma_scale", "levels", "quantiles"}``; the first member's for all
        self.calibration: dict = dict(first.get("calibration") or {})

    @property
    def bands(self) -> int:
        """Image bands the models expect."""
        return self.image_shape[0]

    def prepare(self, image: np.ndarray, resize: bool = False, crop: bool = False) -> np.ndarray:
        """Bring one raw image to the models' ``(C, H, W)``.

        Normalisation is not applied here but in :meth:`predict`, per member, because ensemble
        members trained on different data carry different image normalisations.

        Parameters
        ----------
        image : numpy.ndarray
            ``(H, W)`` or ``(C, H, W)``.
        resize : bool
            Resample another size bilinearly (surface brightness per pixel is kept, so the
            image must cover the same field of view as the training images).
        crop : bool
            Cut the central region of a larger image (same pixel scale as the training images).
            Tried before ``resize`` when both are set and the image is large enough.

        Returns
        -------
        numpy.ndarray
            float32 ``(C, H, W)``.

        Raises
        ------
        BadInput
            Wrong number of bands, or another size without ``resize``/``crop``.
        """
        x = np.asarray(image, dtype=np.float32)
        x = x[None] if x.ndim == 2 else x
        c, h, w = self.image_shape
        if x.ndim != 3:
            raise BadInput(f"array of shape {x.shape}, expected (H, W) or (C, H, W)")
        if x.shape[0] != c:
            raise BadInput(f"image has {x.shape[0]} bands, the model expects {c}")
        if x.shape[1:] == (h, w):
            return x
        ih, iw = x.shape[1:]
        if crop and ih >= h and iw >= w:
            top, left = (ih - h) // 2, (iw - w) // 2
            return np.ascontiguousarray(x[:, top : top + h, left : left + w])
        if resize:
            t = torch.from_numpy(np.ascontiguousarray(x))[None]
            # antialias only matters (and is only defined) when shrinking
            out = torch.nn.functional.interpolate(
                t,
                size=(h, w),
                mode="bilinear",
                align_corners=False,
                antialias=ih > h or iw > w,
            )
            return out[0].numpy()
        hint = "use --resize" if crop else "use --resize or --crop"
        raise BadInput(f"image is {ih}x{iw}, the model expects {h}x{w} ({hint})")

    @torch.no_grad()
    def _member_outputs(self, images: np.ndarray, inputs: np.ndarray | None):
        """Decoded (mean, var) of every member and transform, each ``(B, T)`` float64."""
        for model, inorm, tnorm, xnorm in self._members:
            x = torch.from_numpy(inorm.apply(images)).to(self.device)
            z = None
            if self.inputs:
                z = torch.from_numpy(
                    np.asarray(xnorm.encode(inputs) if xnorm else inputs, dtype=np.float32)
                ).to(self.device)
            for view in _d4(x) if self.tta else (x,):
                out = model(view, z)
                mean = out["mean"].double().cpu().numpy()
                var = out.get("var")
                var = np.full_like(mean, np.nan) if var is None else var.double().cpu().numpy()
                yield np.asarray(tnorm.decode_mean(mean)), np.asarray(tnorm.decode_var(var))

    def predict(self, images: np.ndarray, inputs: np.ndarray | None = None) -> dict:
        """Predict a batch of raw images (already of the models' size, see :meth:`prepare`).

        Every member (and, with ``tta``, each of the 8 transformed views) is one ensemble
        member: mean = mean of the members' means, variance = mean of their variances +
        population variance of their means.

        Parameters
        ----------
        images : numpy.ndarray
            ``(B, C, H, W)`` or ``(B, H, W)``, raw pixel values.
        inputs : numpy.ndarray, optional
            ``(B, I)`` known inputs in their physical units, in the order of ``self.inputs``.

        Returns
        -------
        dict
            target -> ``{"mean": (B,), "std": (B,)}`` float64 in the target's units; std is NaN
            for point heads.
        """
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 3:
            images = images[:, None]
        if images.ndim != 4 or tuple(images.shape[1:]) != self.image_shape:
            raise DarklensError(
                f"predict: expected images (B, {', '.join(map(str, self.image_shape))}), "
                f"got {images.shape}"
            )
        if self.inputs:
            if inputs is None or np.shape(inputs) != (len(images), len(self.inputs)):
                raise DarklensError(
                    f"predict: the model needs inputs {self.inputs} of shape "
                    f"({len(images)}, {len(self.inputs)}), got "
                    f"{None if inputs is None else np.shape(inputs)}"
                )
            inputs = np.asarray(inputs, dtype=np.float64)
        means, variances = [], []
        for start in range(0, len(images), self.batch_size):
            sl = slice(start, start + self.batch_size)
            outs = list(self._member_outputs(images[sl], inputs[sl] if self.inputs else None))
            m = np.stack([o[0] for o in outs])  # (members, b, T)
            v = np.stack([o[1] for o in outs])
            means.append(m.mean(axis=0))
            variances.append(v.mean(axis=0) + m.var(axis=0))
        n_t = len(self.targets)
        mean = np.concatenate(means) if means else np.empty((0, n_t))
        var = np.concatenate(variances) if variances else np.empty((0, n_t))
        return {
            t: {"mean": mean[:, k], "std": np.sqrt(var[:, k])} for k, t in enumerate(self.targets)
        }


def _d4(x: torch.Tensor):
    """The 8 D4 views of ``(B, C, H, W)``: rotations by k*90 degrees, without and with a flip."""
    for flip in (False, True):
        base = torch.flip(x, dims=(-1,)) if flip else x
        for k in range(4):
            yield torch.rot90(base, k, dims=(-2, -1))


def z_value(level: float) -> float:
    """Half-width, in standard deviations, of the central Gaussian interval holding ``level``."""
    if not 0 < level < 1:
        raise DarklensError(f"interval level {level!r}: expected a number between 0 and 1")
    return NormalDist().inv_cdf(0.5 + level / 2)


def intervals(mean, std, level: float, calibration: dict | None = None):
    """Central interval ``mean -/+ half_width`` at ``level``.

    Parameters
    ----------
    mean, std : array_like
        Predicted means and standard deviations.
    level : float
        Nominal coverage, e.g. 0.68 or 0.95.
    calibration : dict, optional
        One target's calibration ``{"sigma_scale": s, "levels": [...], "quantiles": [...]}``
        (quantiles of ``|y - mean| / std`` on held-out data). A listed level uses its conformal
        quantile ``q``: ``mean -/+ q * std``; another level the sigma-scaled Gaussian
        ``mean -/+ z * s * std``. Without it: ``mean -/+ z * std``.

    Returns
    -------
    lo, hi : numpy.ndarray
    """
    mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
    half = z_value(level)
    if calibration:
        levels = [float(v) for v in calibration.get("levels", [])]
        hits = [i for i, v in enumerate(levels) if abs(v - level) < 1e-9]
        if hits:
            half = float(calibration["quantiles"][hits[0]])
        else:
            half *= float(calibration.get("sigma_scale", 1.0))
    return mean - half * std, mean + half * std


@dataclass(frozen=True)
class Summary:
    """What :func:`predict_paths` did.

    Attributes
    ----------
    n_ok, n_bad : int
        Images predicted, and inputs (files or samples) reported as bad.
    paths : dict of str to Path
        ``"table"``: the predictions; ``"errors"``: the errors CSV (path, reason).
    """

    n_ok: int
    n_bad: int
    paths: dict[str, Path]


#: interval levels written to the table, with their column suffix
LEVELS = {68: 0.68, 95: 0.95}


def _read_inputs_csv(path, names: list[str]) -> dict[str, np.ndarray]:
    """``source`` (full path and bare file name) -> known input values from a CSV."""
    path = Path(path)
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise DarklensError(f"{path}: unreadable inputs CSV ({err})") from None
    missing = [c for c in ("source", *names) if c not in table.columns]
    if missing:
        raise DarklensError(
            f"{path}: inputs CSV lacks columns {missing} (expected source, {', '.join(names)})"
        )
    rows = {}
    for _, r in table.iterrows():
        values = r[names].to_numpy(dtype=np.float64)
        rows[str(r["source"])] = values
        rows.setdefault(Path(str(r["source"])).name, values)
    return rows


def _known_inputs(src: Source, names, csv_rows, header_keys) -> np.ndarray:
    """The source's known inputs from (in this order) stored values, the CSV, the header."""
    out = np.empty(len(names))
    row = csv_rows.get(src.name, csv_rows.get(Path(src.name).name)) if csv_rows else None
    for j, name in enumerate(names):
        key = header_keys.get(name, name.upper())
        if name in src.values:
            value = src.values[name]
        elif row is not None:
            value = row[j]
        elif src.header is not None and key in src.header:
            value = src.header[key]
        else:
            raise BadInput(f"no value for known input {name!r} (header keyword {key}, or CSV)")
        try:
            out[j] = float(value)
        except (TypeError, ValueError):
            raise BadInput(f"known input {name!r} is {value!r}, expected a number") from None
        if not np.isfinite(out[j]):
            raise BadInput(f"known input {name!r} is {value!r}, expected a finite number")
    return out


def predict_paths(
    predictor: Predictor,
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    resize: bool = False,
    crop: bool = False,
    strict: bool = False,
    progress: bool = True,
    inputs_csv: str | os.PathLike | None = None,
    header_keys: dict[str, str] | None = None,
) -> Summary:
    """Predict every image under ``inputs`` and write one table row per image.

    Parameters
    ----------
    predictor : Predictor
    inputs : list of path
        Image files, folders and darklens HDF5 datasets (see :func:`iter_inputs`).
    out : path
        Output table; ``.csv``, ``.parquet`` (needs pyarrow) or ``.nc`` (netCDF). Columns:
        ``source``, then per target T ``T_mean``, ``T_std``, ``T_lo68``, ``T_hi68``,
        ``T_lo95``, ``T_hi95`` and, when some input carries labels, ``T_true``.
    resize, crop : bool
        Adapt other image sizes (see :meth:`Predictor.prepare`).
    strict : bool
        Raise on the first bad input instead of recording it in ``<out stem>.errors.csv``.
    progress : bool
        Show a tqdm progress bar.
    inputs_csv : path, optional
        Known inputs per image: a ``source`` column (file path or name) and one per input.
    header_keys : dict, optional
        Input name -> FITS header keyword (default: the name upper-cased).

    Returns
    -------
    Summary
    """
    from tqdm.auto import tqdm

    out = check_output(out)
    csv_rows = _read_inputs_csv(inputs_csv, predictor.inputs) if inputs_csv else None
    header_keys = dict(header_keys or {})
    rows: list[dict] = []
    errors: list[dict] = []
    batch: list[tuple[Source, np.ndarray, np.ndarray]] = []

    def flush() -> None:
        images = np.stack([b[1] for b in batch])
        known = np.stack([b[2] for b in batch]) if predictor.inputs else None
        pred = predictor.predict(images, known)
        for i, (src, _, _) in enumerate(batch):
            row: dict = {"source": src.name}
            for t in predictor.targets:
                mu, sd = pred[t]["mean"][i], pred[t]["std"][i]
                cal = predictor.calibration.get(t)
                # a calibrated model reports its sigma-scaled std (the best Gaussian one)
                row[f"{t}_mean"] = mu
                row[f"{t}_std"] = sd * float(cal.get("sigma_scale", 1.0)) if cal else sd
                for tag, level in LEVELS.items():
                    lo, hi = intervals(mu, sd, level, cal)
                    row[f"{t}_lo{tag}"], row[f"{t}_hi{tag}"] = float(lo), float(hi)
                if t in src.values:
                    row[f"{t}_true"] = src.values[t]
            rows.append(row)
        batch.clear()

    bar = tqdm(desc="infer", unit="image", disable=not progress)
    for src in iter_inputs(inputs, predictor.bands):
        bar.update()
        try:
            if src.error is not None:
                raise BadInput(src.error, src.name)
            image = predictor.prepare(src.image, resize=resize, crop=crop)
            known = _known_inputs(src, predictor.inputs, csv_rows, header_keys)
        except BadInput as err:
            if strict:
                raise BadInput(err.reason, src.name) from None
            errors.append({"path": src.name, "reason": err.reason})
            continue
        batch.append((src, image, known))
        if len(batch) >= predictor.batch_size:
            flush()
    if batch:
        flush()
    bar.close()

    columns = ["source"] + [
        f"{t}_{c}"
        for t in predictor.targets
        for c in ("mean", "std", "lo68", "hi68", "lo95", "hi95")
    ]
    table = pd.DataFrame(rows)
    # T_true after the prediction columns, only for targets some input carries
    columns += [f"{t}_true" for t in predictor.targets if f"{t}_true" in table.columns]
    table = table.reindex(columns=columns)
    table_path = write_table(table, out)
    err_path = errors_path(out)
    write_table(pd.DataFrame(errors, columns=["path", "reason"]), err_path)
    return Summary(len(rows), len(errors), {"table": table_path, "errors": err_path})
