"""SAM's two-step update, BatchNorm statistics on the second pass, and the schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from darklens.train.optim import SAM, frozen_bn_stats, warmup_cosine


def test_sam_applies_the_gradient_taken_at_the_perturbed_point():
    # f(w) = sum(a * w^4): gradient 4 a w^3, so the perturbed gradient differs from the plain one
    a = torch.tensor([1.0, 2.0, 0.5])
    w = nn.Parameter(torch.tensor([0.3, -0.2, 0.5]))
    opt = torch.optim.SGD([w], lr=0.1)
    sam = SAM(opt, rho=0.05)
    start = w.detach().clone()
    (a * w**4).sum().backward()
    g = 4 * a * start**3
    sam.ascend()
    opt.zero_grad()
    (a * w**4).sum().backward()
    sam.descend()
    w_adv = start + 0.05 * g / g.norm()
    expected = start - 0.1 * 4 * a * w_adv**3
    torch.testing.assert_close(w.detach(), expected)


def test_second_pass_leaves_batchnorm_statistics_alone():
    bn = nn.BatchNorm1d(3).train()
    bn(torch.randn(8, 3))
    before = bn.running_mean.clone()
    with frozen_bn_stats(bn):
        bn(torch.randn(8, 3) + 5.0)
    torch.testing.assert_close(bn.running_mean, before)
    bn(torch.randn(8, 3) + 5.0)
    assert not torch.allclose(bn.running_mean, before)


def test_warmup_then_cosine():
    assert warmup_cosine(0, 100, 10, 0.0) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10, 0.0) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10, 0.0) == pytest.approx(0.5)
    assert warmup_cosine(100, 100, 10, 0.01) == pytest.approx(0.01)
