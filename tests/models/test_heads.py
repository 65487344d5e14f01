"""Heads: shapes, and losses equal to torch.distributions / torch.nn.functional."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from darklens.errors import DarklensError
from darklens.models.config import HeadConfig
from darklens.models.heads import HEADS, build_head


def _head(kind, t=3, d=8, **cfg):
    return build_head(d, t, HeadConfig(kind=kind, hidden=16, **cfg))


@pytest.mark.parametrize("kind", sorted(HEADS))
def test_shapes_and_backward(kind):
    head = _head(kind)
    out = head(torch.randn(5, 8))
    assert out["mean"].shape == (5, 3)
    if kind != "point":
        assert out["var"].shape == (5, 3) and (out["var"] > 0).all()
    loss = head.loss(out, torch.randn(5, 3))
    assert loss.ndim == 0
    loss.backward()
    assert all(p.grad is not None for p in head.parameters())


def test_gaussian_nll_equals_normal_log_prob():
    head = _head("gaussian")
    mean = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2]])
    log_var = torch.tensor([[0.1, -2.0, 1.5], [0.0, 3.0, -1.0]])
    target = torch.tensor([[0.0, -0.9, 4.0], [1.0, 0.0, 0.0]])
    out = {"mean": mean, "log_var": log_var, "var": log_var.exp()}
    normal = torch.distributions.Normal(mean, (0.5 * log_var).exp())
    expect = -normal.log_prob(target).sum(-1).mean()
    torch.testing.assert_close(head.loss(out, target), expect)


def test_beta_nll_scales_the_mean_gradient_by_the_variance_to_beta():
    """beta-NLL: loss = NLL * var^beta, so the mean gradient is (mu - y) / var^(1 - beta)."""
    mean = torch.tensor([[0.5]], requires_grad=True)
    log_var = torch.tensor([[math.log(4.0)]], requires_grad=True)
    target = torch.tensor([[0.0]])
    grads = {}
    for beta in (0.0, 0.5, 1.0):
        head = _head("gaussian", t=1, beta_nll=beta)
        out = {"mean": mean, "log_var": log_var, "var": log_var.exp()}
        nll = -torch.distributions.Normal(0.5, 2.0).log_prob(torch.tensor(0.0))
        loss = head.loss(out, target)
        torch.testing.assert_close(loss, nll * 4.0**beta)
        (grads[beta],) = torch.autograd.grad(loss, mean)
    for beta, grad in grads.items():
        torch.testing.assert_close(grad, torch.tensor([[0.5 / 4.0 ** (1 - beta)]]))
    with pytest.raises(DarklensError, match=r"^model\.head\.beta_nll: only for kind gaussian"):
        _head("point", beta_nll=0.5)


def test_gaussian_log_var_is_clamped():
    head = build_head(4, 2, HeadConfig(kind="gaussian", layers=0, log_var_min=-3, log_var_max=2))
    with torch.no_grad():
        head.net[-1].weight.zero_()
        head.net[-1].bias.copy_(torch.tensor([0.0, 0.0, -50.0, 50.0]))
    out = head(torch.zeros(1, 4))
    assert out["log_var"].tolist() == [[-3.0, 2.0]]


def test_gaussian_full_nll_equals_multivariate_normal():
    head = _head("gaussian_full", t=3)
    out = head(torch.randn(4, 8) * 3)
    scale_tril = out["scale_tril"]
    assert torch.equal(scale_tril, scale_tril.tril())
    assert (scale_tril.diagonal(dim1=-2, dim2=-1) > 0).all()
    assert scale_tril[:, 1, 0].abs().sum() > 0  # off-diagonal terms are free
    cov = scale_tril @ scale_tril.transpose(-1, -2)
    torch.testing.assert_close(out["var"], cov.diagonal(dim1=-2, dim2=-1))
    target = torch.randn(4, 3)
    mvn = torch.distributions.MultivariateNormal(out["mean"], scale_tril=scale_tril)
    torch.testing.assert_close(head.loss(out, target), -mvn.log_prob(target).mean())


def test_gaussian_full_with_one_target_matches_gaussian():
    out = _head("gaussian_full", t=1)(torch.randn(6, 8))
    target = torch.randn(6, 1)
    diag = {"mean": out["mean"], "log_var": out["log_var"]}
    torch.testing.assert_close(
        _head("gaussian_full", t=1).loss(out, target), _head("gaussian", t=1).loss(diag, target)
    )


@pytest.mark.parametrize(
    ("loss", "fn"),
    [
        ("mse", F.mse_loss),
        ("mae", F.l1_loss),
        ("huber", lambda a, b: F.huber_loss(a, b, delta=0.5)),
    ],
)
def test_point_losses(loss, fn):
    head = _head("point", loss=loss, huber_delta=0.5)
    pred, target = torch.randn(4, 3), torch.randn(4, 3)
    # summed over targets, averaged over the batch
    torch.testing.assert_close(head.loss({"mean": pred}, target), fn(pred, target) * 3)
    assert set(head(torch.randn(4, 8))) == {"mean"}


def test_head_config_errors_name_the_field():
    with pytest.raises(DarklensError, match=r"^model\.head\.kind: expected one of .*gaussian_full"):
        build_head(4, 2, HeadConfig(kind="laplace"))
    with pytest.raises(DarklensError, match=r"^model\.head\.loss: only for kind point"):
        build_head(4, 2, HeadConfig(kind="gaussian", loss="mse"))
    with pytest.raises(DarklensError, match=r"^model\.head\.loss: expected one of mse, mae, huber"):
        build_head(4, 2, HeadConfig(kind="point", loss="l2"))
