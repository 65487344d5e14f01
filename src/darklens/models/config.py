"""The ``model:`` section of a training config.

This module imports no torch, so configs can be checked quickly. Names that live in a registry
(backbone, fusion kind and op, head kind, point loss) are checked when the model is built,
against the registry itself, so adding an entry never means editing a list here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from darklens.config import bounded, dotted, from_dict
from darklens.errors import DarklensError

__all__ = ["FusionConfig", "HeadConfig", "ModelConfig"]


@dataclass
class FusionConfig:
    """How several feature vectors are fused before the head.

    Attributes
    ----------
    kind : str
        ``"backbones"``: every backbone in :attr:`backbones` sees the same image and is pooled;
        ``"stages"``: several stages (:attr:`out_indices`) of ``model.backbone`` are pooled.
    backbones : list of str
        The fused backbones for kind ``"backbones"`` (``model.backbone`` is then not used).
    out_indices : list of int
        timm ``features_only`` stage indices for kind ``"stages"`` (negative counts from the end).
    op : str
        A registered fusion op: ``concat``, ``sum``, ``weights``, ``attention``.
    width : int
        Common projection width of every op but ``concat``.
    attn_heads : int
        Attention heads of op ``attention`` (must divide :attr:`width`).
    """

    kind: str = "backbones"
    backbones: list[str] = bounded([])
    out_indices: list[int] = bounded([])
    op: str = "concat"
    width: int = bounded(256, ge=1)
    attn_heads: int = bounded(4, ge=1)


@dataclass
class HeadConfig:
    """The regression head on top of the (fused) features.

    Attributes
    ----------
    kind : str
        A registered head: ``point`` (means only), ``gaussian`` (means and variances) or
        ``gaussian_full`` (means and a full covariance).
    hidden : int
        Width of the hidden layers of the head's MLP.
    layers : int
        Number of hidden layers (0: a single linear layer).
    dropout : float
        Dropout after each hidden layer.
    loss : str or None
        Point heads only: ``mse`` (default), ``mae`` or ``huber``. Gaussian heads are trained
        by their negative log-likelihood.
    huber_delta : float
        Threshold of the Huber loss.
    log_var_min, log_var_max : float
        Clamp of predicted log-variances, which keeps the likelihood finite early in training.
    beta_nll : float
        ``gaussian`` only: weight each sample's NLL by its (gradient-stopped) variance to the
        power beta (beta-NLL, Seitzer et al. 2022). 0 is the plain NLL; 0.5 keeps the means
        learning where the predicted variance is large, as at the start of a hard task.
    """

    kind: str = "gaussian"
    hidden: int = bounded(256, ge=1)
    layers: int = bounded(1, ge=0)
    dropout: float = bounded(0.0, ge=0.0, lt=1.0)
    loss: str | None = None
    huber_delta: float = bounded(1.0, gt=0.0)
    log_var_min: float = -10.0
    log_var_max: float = 10.0
    beta_nll: float = bounded(0.0, ge=0.0, le=1.0)

    def validate(self, where: str) -> None:
        if self.log_var_min >= self.log_var_max:
            raise DarklensError(
                f"{dotted(where, 'log_var_min')}: expected a value < log_var_max "
                f"({self.log_var_max}), got {self.log_var_min}"
            )


@dataclass
class ModelConfig:
    """Backbone(s), optional fusion and head of a darklens model.

    Attributes
    ----------
    backbone : str
        A friendly name of :data:`darklens.models.backbones.BACKBONES` or any timm model name.
    pretrained : bool
        Start from timm's pretrained weights (hub or local cache; needs the network once).
    pretrained_path : str or None
        A local weights file (``.safetensors``, ``.pth``, ``.bin``) for offline machines.
    drop_path : float
        Stochastic-depth rate, for backbones that support it.
    fusion : dict or None
        A :class:`FusionConfig` mapping, or None for a single pooled backbone.
    head : dict
        A :class:`HeadConfig` mapping.
    freeze_backbone_epochs : int
        Epochs during which only the head (and fusion) are trained.
    init_from : str or None
        A darklens run directory or export of the same architecture whose weights (backbone,
        fusion and head) start this run: fine-tuning, or a curriculum that first trains on an
        easier version of the task.
    """

    backbone: str = "resnet18"
    pretrained: bool = False
    pretrained_path: str | None = None
    drop_path: float = bounded(0.0, ge=0.0, lt=1.0)
    fusion: dict | None = None
    head: dict = bounded({"kind": "gaussian"})
    freeze_backbone_epochs: int = bounded(0, ge=0)
    init_from: str | None = None
    # Parsed sub-configs; not init fields, so to_dict/from_dict see only the plain mappings.
    _fusion: FusionConfig | None = field(default=None, init=False, repr=False, compare=False)
    _head: HeadConfig | None = field(default=None, init=False, repr=False, compare=False)
    _where: str = field(default="model", init=False, repr=False, compare=False)

    def validate(self, where: str) -> None:
        self._where = where or "model"
        self._head = from_dict(HeadConfig, self.head, dotted(where, "head"))
        self._fusion = (
            None
            if self.fusion is None
            else from_dict(FusionConfig, self.fusion, dotted(where, "fusion"))
        )
        if self.init_from and (self.pretrained or self.pretrained_path):
            raise DarklensError(
                f"{dotted(where, 'init_from')}: starts from a darklens model's weights; do not "
                "also set pretrained or pretrained_path"
            )
        if self.pretrained and self.pretrained_path:
            raise DarklensError(
                f"{dotted(where, 'pretrained_path')}: set either pretrained: true (download) or "
                "pretrained_path (local file), not both"
            )

    @property
    def where(self) -> str:
        """Dotted path of this section in error messages (``model`` unless told otherwise)."""
        return self._where

    @property
    def head_config(self) -> HeadConfig:
        """The validated :class:`HeadConfig`."""
        if self._head is None:
            self.validate(self._where)
        return self._head

    @property
    def fusion_config(self) -> FusionConfig | None:
        """The validated :class:`FusionConfig`, or None without fusion."""
        if self._head is None:
            self.validate(self._where)
        return self._fusion
