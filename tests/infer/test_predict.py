"""Predictor math (ensembles, D4 TTA, decoding), intervals, and image size handling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from darklens.errors import DarklensError
from darklens.infer.predict import Predictor, intervals
from darklens.infer.readers import BadInput
from tests.infer.conftest import TARGET, Fake, export, meta


def test_ensemble_mean_of_means_and_total_variance():
    members = [(Fake(1.0, 0.5), meta()), (Fake(3.0, 1.5), meta())]
    pred = Predictor.from_members(members).predict(np.ones((4, 32, 32), np.float32))[TARGET]
    # mean of means 2; mean variance 1 + population variance of means 1
    assert np.allclose(pred["mean"], 2.0) and np.allclose(pred["std"], np.sqrt(2.0))


def test_members_decode_with_their_own_target_norm():
    members = [(Fake(1.0, 4.0), meta(mean=(10.0,), std=(0.5,)))]
    pred = Predictor.from_members(members).predict(np.ones((2, 1, 32, 32)))[TARGET]
    assert np.allclose(pred["mean"], 10.5) and np.allclose(pred["std"], 1.0)


def test_point_head_std_is_nan():
    pred = Predictor.from_members([(Fake(1.0, None), meta())]).predict(np.ones((2, 32, 32)))
    assert np.all(np.isnan(pred[TARGET]["std"]))


def test_tta_averages_the_eight_d4_views():
    img = np.ones((1, 32, 32), np.float32)
    img[0, 0, 0], img[0, 0, -1], img[0, -1, 0], img[0, -1, -1] = 1.0, 2.0, 3.0, 6.0
    members = [(Fake(0.0, 0.25, corner=True), meta())]
    plain = Predictor.from_members(members).predict(img)[TARGET]
    assert plain["mean"][0] == pytest.approx(1.0) and plain["std"][0] == pytest.approx(0.5)
    tta = Predictor.from_members(members, tta=True).predict(img)[TARGET]
    # the 8 views put each corner at the top left twice
    corners = np.array([1.0, 2.0, 3.0, 6.0])
    assert tta["mean"][0] == pytest.approx(corners.mean())
    assert tta["std"][0] == pytest.approx(np.sqrt(0.25 + corners.var()))


def test_batches_give_the_same_result(model_dir):
    images = np.random.default_rng(0).uniform(0, 5, (7, 32, 32)).astype(np.float32)
    a = Predictor([model_dir], batch_size=3).predict(images)[TARGET]
    b = Predictor([model_dir], batch_size=64).predict(images)[TARGET]
    assert np.allclose(a["mean"], b["mean"], atol=1e-5) and np.all(a["std"] > 0)


def test_ensemble_members_must_agree(tmp_path, model_dir):
    other = export(tmp_path / "other", inputs=("z_lens",))
    with pytest.raises(DarklensError, match="inputs .* differ"):
        Predictor([model_dir, other])
    with pytest.raises(DarklensError, match="not a darklens model"):
        Predictor([tmp_path / "nothing"])


@pytest.mark.parametrize("level", [0.5, 0.68, 0.95, 0.997])
def test_gaussian_intervals_match_scipy(level):
    mean, std = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    lo, hi = intervals(mean, std, level)
    want_lo, want_hi = stats.norm.interval(level, loc=mean, scale=std)
    assert np.allclose(lo, want_lo) and np.allclose(hi, want_hi)


def test_calibrated_intervals():
    cal = {"sigma_scale": 2.0, "levels": [0.68, 0.95], "quantiles": [1.3, 2.5]}
    lo, hi = intervals(10.0, 2.0, 0.95, cal)
    assert (lo, hi) == pytest.approx((5.0, 15.0))
    lo, hi = intervals(10.0, 2.0, 0.9, cal)  # not a calibrated level: sigma-scaled Gaussian
    z = stats.norm.ppf(0.95)
    assert (lo, hi) == pytest.approx((10 - 4 * z, 10 + 4 * z))


def test_size_mismatch_resize_and_crop():
    p = Predictor.from_members([(Fake(0.0, 1.0), meta())])
    big = np.random.default_rng(0).uniform(1, 2, (100, 100)).astype(np.float32)
    with pytest.raises(
        BadInput,
        match=r"image is 100x100, the model expects 32x32 \(use "
        r"--resize or --crop\)",
    ):
        p.prepare(big)
    cropped = p.prepare(big, crop=True)
    assert cropped.shape == (1, 32, 32) and np.array_equal(cropped[0], big[34:66, 34:66])
    resized = p.prepare(big, resize=True)
    assert resized.shape == (1, 32, 32) and 1 <= resized.min() and resized.max() <= 2
    small = np.full((16, 16), 3.0, np.float32)
    with pytest.raises(BadInput, match="use --resize"):
        p.prepare(small, crop=True)  # cannot crop up
    assert np.allclose(p.prepare(small, crop=True, resize=True), 3.0)
    with pytest.raises(BadInput, match="3 bands, the model expects 1"):
        p.prepare(np.ones((3, 32, 32)))


class _FullCov(torch.nn.Module):
    """A two-target ``gaussian_full`` member with fixed mean and Cholesky factor."""

    def __init__(self, mean, tril):
        super().__init__()
        self.mean, self.tril = torch.tensor(mean), torch.tensor(tril)

    def forward(self, image, inputs=None):
        b = image.shape[0]
        return {"mean": self.mean.expand(b, 2), "scale_tril": self.tril.expand(b, 2, 2)}


def test_full_covariance_is_decoded_and_combined_across_members():
    targets, std = ("log10_halo_mass", "f_sub"), np.array([0.5, 2.0])
    tril = [[0.3, 0.0], [0.2, 0.4]]
    members = [(_FullCov(m, tril), meta(targets, mean=(0.0, 0.0), std=tuple(std),
                                        head={"kind": "gaussian_full"}))
               for m in ([0.0, 0.0], [1.0, 1.0])]
    predictor = Predictor.from_members(members)
    assert predictor.full_covariance
    mean, cov = predictor.predict_arrays(np.ones((3, 32, 32), np.float32))
    low = np.array(tril)
    own = np.diag(std) @ low @ low.T @ np.diag(std)
    spread = np.outer(0.5 * std, 0.5 * std)  # population covariance of the two members' means
    np.testing.assert_allclose(mean, np.tile(0.5 * std, (3, 1)))
    np.testing.assert_allclose(cov, np.tile(own + spread, (3, 1, 1)))
    pred = predictor.predict(np.ones((3, 32, 32), np.float32))
    np.testing.assert_allclose(pred["f_sub"]["std"], np.sqrt((own + spread)[1, 1]))
