"""Training data layer: splits, column reads, LensDataset items/augmentation/workers, norms."""

from __future__ import annotations

import json
import pickle

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from darklens.data.catalog import describe, read_columns, split_indices
from darklens.data.dataset import LensDataset
from darklens.data.merge import merge
from darklens.data.normalize import ImageNorm, TargetNorm
from darklens.errors import DarklensError
from darklens.simulate import run
from tests.conftest import tiny

TARGETS = ["log10_halo_mass", "theta_E"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two simulated datasets: 48 and 16 images of 32x32 (different seeds)."""
    d = tmp_path_factory.mktemp("data")
    a = run(tiny("none", n=48), out=d / "a.h5", progress=False)
    b = run(tiny("none", n=16, seed=8), out=d / "b.h5", progress=False)
    return a, b


def _write(path, images, **columns):
    """A minimal dataset file written with h5py (image plus 1-D columns)."""
    with h5py.File(path, "w") as f:
        f["image"] = np.asarray(images, np.float32)
        for name, values in columns.items():
            f[name] = values
    return path


def _stored(path, name, rows):
    with h5py.File(path, "r") as f:
        return f[name][()][rows]


def _d4(image):
    """The 8 images of the dihedral group acting on the last two axes."""
    rots = [np.rot90(image, k, axes=(-2, -1)) for k in range(4)]
    return rots + [r[..., ::-1] for r in rots]


def _batches(loader):
    return [{k: v.clone() if torch.is_tensor(v) else v for k, v in b.items()} for b in loader]


def _assert_batches_equal(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for key in ("image", "inputs", "target", "index"):
            torch.testing.assert_close(x[key], y[key], rtol=0, atol=0)


# -- splits ------------------------------------------------------------------------------------


def test_split_is_deterministic_disjoint_and_covering():
    s = split_indices(1000, (0.8, 0.1, 0.1), seed=3)
    assert [len(s[k]) for k in ("train", "val", "test")] == [800, 100, 100]
    every = np.concatenate(list(s.values()))
    np.testing.assert_array_equal(np.sort(every), np.arange(1000))
    again = split_indices(1000, (0.8, 0.1, 0.1), seed=3)
    for k in s:
        np.testing.assert_array_equal(s[k], again[k])
        assert s[k].dtype == np.int64
    other = split_indices(1000, (0.8, 0.1, 0.1), seed=4)
    assert not np.array_equal(s["test"], other["test"])
    # a random split, not the first 800 rows
    assert s["test"].max() > 900 or s["test"].min() < 800


def test_split_leaves_remainder_and_rejects_bad_fractions():
    s = split_indices(100, (0.5, 0.2, 0.1), seed=0)
    sizes = [len(s[k]) for k in ("train", "val", "test")]
    assert sizes == [50, 20, 10]
    assert len(np.unique(np.concatenate(list(s.values())))) == 80
    for bad in [(0.8, 0.2, 0.1), (0.9, -0.1, 0.1), (0.5, 0.5)]:
        with pytest.raises(DarklensError, match="split fractions") as err:
            split_indices(100, bad)
        assert "\n" not in str(err.value)


# -- describe / columns ------------------------------------------------------------------------


def test_describe_and_read_columns(files):
    a, b = files
    info = describe([a, b])
    assert info.n_per_file == (48, 16) and info.n == 64 and info.image_shape == (1, 32, 32)
    assert {"log10_halo_mass", "theta_E", "z_lens", "seed"} <= set(info.variables)
    assert "substructure" not in info.variables and "sample" not in info.variables
    cols = read_columns([a, b], ["theta_E", "seed"])
    assert cols.shape == (64, 2) and cols.dtype == np.float64
    np.testing.assert_array_equal(cols[:48, 0], _stored(a, "theta_E", slice(None)))
    np.testing.assert_array_equal(cols[48:, 1], _stored(b, "seed", slice(None)))


def test_missing_or_wrong_variables_give_one_line_errors(files, tmp_path):
    a, _ = files
    with pytest.raises(DarklensError, match=r"a\.h5: no variable 'f_sub' \(available: .*theta_E"):
        read_columns(a, ["theta_E", "f_sub"])
    with pytest.raises(DarklensError, match="'substructure' is str, expected a numeric"):
        read_columns(a, ["substructure"])
    with pytest.raises(DarklensError, match="no variable 'f_sub'") as err:
        LensDataset(a, targets=["f_sub"])
    assert "\n" not in str(err.value)
    with pytest.raises(DarklensError, match=r"nope\.h5: dataset file not found"):
        LensDataset([a, tmp_path / "nope.h5"], targets=["theta_E"])


def test_mixed_image_sizes_name_the_file_and_both_shapes(files, tmp_path):
    a, _ = files
    small = _write(tmp_path / "small.h5", np.zeros((4, 24, 24)), theta_E=np.ones(4))
    with pytest.raises(DarklensError) as err:
        LensDataset([a, small], targets=["theta_E"])
    msg = str(err.value)
    assert "small.h5" in msg and "(1, 24, 24)" in msg and "(1, 32, 32)" in msg
    assert "\n" not in msg


def test_nan_target_names_variable_and_count(tmp_path):
    values = np.arange(10.0)
    values[[2, 7]] = np.nan
    path = _write(tmp_path / "nan.h5", np.zeros((10, 8, 8)), f_sub=values, z=np.ones(10))
    with pytest.raises(DarklensError, match=r"nan\.h5: target 'f_sub' has 2 NaN") as err:
        LensDataset(path, targets=["z", "f_sub"])
    assert "\n" not in str(err.value)
    # rows excluded through indices are not checked
    ds = LensDataset(path, targets=["f_sub"], indices=np.array([0, 1, 3]))
    assert [float(ds[i]["target"][0]) for i in range(3)] == [0.0, 1.0, 3.0]


# -- items -------------------------------------------------------------------------------------


def test_item_shapes_dtypes_and_target_decodes_to_stored_value(files):
    a, b = files
    split = split_indices(64, seed=1)
    tn = TargetNorm.fit(read_columns([a, b], TARGETS)[split["train"]], TARGETS)
    ds = LensDataset(
        [a, b],
        TARGETS,
        inputs=["z_lens"],
        indices=split["val"],
        image_norm=ImageNorm(mode="per_image", stretch="asinh"),
        target_norm=tn,
    )
    assert len(ds) == len(split["val"])
    item = ds[2]
    assert item["image"].shape == (1, 32, 32) and item["image"].dtype == torch.float32
    assert item["inputs"].shape == (1,) and item["inputs"].dtype == torch.float32
    assert item["target"].shape == (2,) and item["target"].dtype == torch.float32
    row = item["index"]
    assert isinstance(row, int) and row == split["val"][2]
    path, local = (a, row) if row < 48 else (b, row - 48)
    stored = [_stored(path, name, local) for name in TARGETS]
    np.testing.assert_allclose(tn.decode_mean(item["target"].numpy()), stored, rtol=1e-6)
    assert float(item["inputs"][0]) == pytest.approx(_stored(path, "z_lens", local))
    # per-image standardisation of the stretched stored image
    raw = _stored(path, "image", local)
    expected = np.arcsinh(raw)
    expected = (expected - expected.mean()) / expected.std()
    np.testing.assert_allclose(item["image"][0].numpy(), expected, atol=1e-5)
    # no inputs: an empty vector, not a missing key
    plain = LensDataset(a, ["theta_E"])
    assert plain[0]["inputs"].shape == (0,)
    np.testing.assert_array_equal(plain[5]["image"][0].numpy(), _stored(a, "image", 5))


def test_two_files_concatenate_in_order(files):
    a, b = files
    ds = LensDataset([a, b], ["theta_E"])
    assert len(ds) == 64
    for row, (path, local) in [(0, (a, 0)), (47, (a, 47)), (48, (b, 0)), (63, (b, 15))]:
        np.testing.assert_array_equal(ds[row]["image"][0].numpy(), _stored(path, "image", local))
        assert float(ds[row]["target"][0]) == pytest.approx(_stored(path, "theta_E", local))
    # batch reads come back in the requested order, across files
    k = np.array([50, 3, 63, 3, 10])
    images = ds.load_images(k)
    assert images.shape == (5, 1, 32, 32) and images.dtype == np.float32
    for got, kk in zip(images, k, strict=True):
        np.testing.assert_array_equal(got, ds[int(kk)]["image"].numpy())


def test_merged_virtual_dataset_reads_like_the_full_file(files, tmp_path):
    a, _ = files
    shards = [
        run(tiny("none", n=48), out=tmp_path / f"s{k}.h5", shard=(k, 2), progress=False)
        for k in range(2)
    ]
    merge(tmp_path / "merged.h5", shards)
    full, merged = LensDataset(a, TARGETS), LensDataset(tmp_path / "merged.h5", TARGETS)
    assert len(merged) == 48
    np.testing.assert_array_equal(
        merged.load_images(np.arange(48)), full.load_images(np.arange(48))
    )
    torch.testing.assert_close(merged[40]["target"], full[40]["target"], rtol=0, atol=0)
    shards[1].unlink()
    with pytest.raises(DarklensError, match=r"merged\.h5: merged dataset references missing shard"):
        LensDataset(tmp_path / "merged.h5", TARGETS)


def test_band_dimension_becomes_channels(tmp_path):
    images = np.random.default_rng(0).normal(size=(6, 3, 8, 8))
    path = _write(tmp_path / "bands.h5", images, t=np.arange(6.0))
    assert describe(path).image_shape == (3, 8, 8)
    ds = LensDataset(path, ["t"])
    np.testing.assert_array_equal(ds[4]["image"].numpy(), images[4].astype(np.float32))


# -- augmentation ------------------------------------------------------------------------------


def test_d4_augmentation_is_a_reproducible_dihedral_transform(files):
    a, _ = files
    norm = ImageNorm(mode="dataset", stretch="asinh", stretch_scale=0.01, mean=1.0, std=2.0)
    plain = LensDataset(a, ["theta_E"], image_norm=norm)
    aug = LensDataset(a, ["theta_E"], image_norm=norm, augment=True, seed=5)
    used = set()
    for k in range(16):
        base, got = plain[k]["image"].numpy(), aug[k]["image"].numpy()
        matches = [i for i, t in enumerate(_d4(base)) if np.array_equal(t, got)]
        assert len(matches) == 1, f"item {k}: not one of the 8 D4 images"
        used.add(matches[0])
        torch.testing.assert_close(aug[k]["target"], plain[k]["target"])
    assert len(used) > 2  # the draw really varies between items
    # same (seed, epoch, index) -> same image, also in a fresh copy of the dataset
    copy = pickle.loads(pickle.dumps(aug))
    epoch0 = [aug[k]["image"] for k in range(16)]
    for k in range(16):
        torch.testing.assert_close(copy[k]["image"], epoch0[k], rtol=0, atol=0)
    aug.set_epoch(1)
    assert aug.epoch == 1
    epoch1 = [aug[k]["image"] for k in range(16)]
    assert any(not torch.equal(x, y) for x, y in zip(epoch0, epoch1, strict=True))
    aug.set_epoch(0)
    torch.testing.assert_close(aug[3]["image"], epoch0[3], rtol=0, atol=0)


# -- workers -----------------------------------------------------------------------------------


def test_pickled_open_dataset_gives_same_batches_in_workers(files):
    a, b = files
    ds = LensDataset(
        [a, b],
        TARGETS,
        inputs=["z_lens"],
        indices=np.arange(5, 60),
        image_norm=ImageNorm(mode="per_image"),
    )
    ds[0]  # opens this process's handles
    assert ds._files is not None
    clone = pickle.loads(pickle.dumps(ds))
    serial = _batches(DataLoader(ds, batch_size=8, num_workers=0))
    parallel = _batches(DataLoader(clone, batch_size=8, num_workers=2))
    _assert_batches_equal(serial, parallel)
    # forked workers inheriting the open handles reopen their own
    _assert_batches_equal(serial, _batches(DataLoader(ds, batch_size=8, num_workers=2)))
    assert serial[0]["image"].shape == (8, 1, 32, 32)


def test_set_epoch_reaches_persistent_workers(files):
    a, _ = files
    ds = LensDataset(a, ["theta_E"], augment=True, seed=2)
    loader = DataLoader(ds, batch_size=16, num_workers=2, persistent_workers=True)
    epochs = []
    for epoch in range(2):
        ds.set_epoch(epoch)
        parallel = _batches(loader)
        _assert_batches_equal(parallel, _batches(DataLoader(ds, batch_size=16)))
        epochs.append(torch.cat([b["image"] for b in parallel]))
    assert not torch.equal(epochs[0], epochs[1])


# -- normalisations ----------------------------------------------------------------------------


def test_image_norm_fit_apply_and_round_trip(files):
    a, _ = files
    ds = LensDataset(a, ["theta_E"], indices=split_indices(48, seed=0)["train"])
    images = ds.load_images(np.arange(len(ds)))
    for stretch in ("none", "asinh", "log"):
        norm = ImageNorm(stretch=stretch).fit(images, fit_scale=True)
        out = norm.apply(images)
        assert out.dtype == np.float32 and out.shape == images.shape
        assert abs(out.mean()) < 1e-4 and out.std() == pytest.approx(1.0, abs=1e-4)
        back = ImageNorm.from_dict(json.loads(json.dumps(norm.to_dict())))
        assert back == norm
        np.testing.assert_array_equal(back.apply(images[0]), out[0])
    assert ImageNorm(stretch="asinh").fit(images).stretch_scale == 1.0  # kept unless asked
    per = ImageNorm(mode="per_image").apply(images)
    np.testing.assert_allclose(per.mean(axis=(1, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(per.std(axis=(1, 2, 3)), 1, atol=1e-4)
    assert np.all(ImageNorm(mode="per_image").apply(np.ones((4, 4))) == 0)  # floored std


@pytest.mark.parametrize(
    ("d", "match"),
    [
        ({"mode": "global"}, "mode: expected one of .*got 'global'"),
        ({"stretch": "sqrt"}, "stretch: expected one of .*got 'sqrt'"),
        ({"std": 0.0}, "std"),
        ({"stretch_scale": "1"}, "stretch_scale"),
        ({"colour": 1}, "unexpected: \\['colour'\\]"),
    ],
)
def test_image_norm_from_dict_rejects_bad_values(d, match):
    good = ImageNorm().to_dict()
    with pytest.raises(DarklensError, match=match) as err:
        ImageNorm.from_dict({**good, **d})
    assert "\n" not in str(err.value)


def test_target_norm_numpy_torch_and_round_trip():
    rng = np.random.default_rng(0)
    y = rng.normal([11.0, 0.8, 0.01], [0.3, 0.2, 0.004], size=(500, 3))
    names = ["log10_halo_mass", "theta_E", "f_sub"]
    tn = TargetNorm.fit(y, names)
    z = tn.encode(y)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(tn.decode_mean(z), y, rtol=1e-12)
    # variances and covariances of the standardised values decode to the raw ones
    np.testing.assert_allclose(tn.decode_var(z.var(axis=0)), y.var(axis=0), rtol=1e-10)
    cov_z = np.broadcast_to(np.cov(z.T), (2, 3, 3))
    np.testing.assert_allclose(tn.decode_cov(cov_z)[1], np.cov(y.T), rtol=1e-10)
    # torch tensors keep their dtype and agree with numpy
    t = tn.encode(torch.tensor(y, dtype=torch.float32))
    assert t.dtype == torch.float32
    np.testing.assert_allclose(t.numpy(), z, atol=1e-4)
    cov_t = tn.decode_cov(torch.tensor(cov_z.copy()))
    np.testing.assert_allclose(cov_t.numpy(), tn.decode_cov(cov_z), rtol=1e-12)
    back = TargetNorm.from_dict(json.loads(json.dumps(tn.to_dict())))
    assert back == tn
    # a constant target encodes to 0 instead of NaN
    const = TargetNorm.fit(np.ones((5, 1)), ["z_lens"])
    assert const.std == [1.0] and np.all(const.encode(np.ones((5, 1))) == 0)
    with pytest.raises(DarklensError, match="target norm std of 'b'"):
        TargetNorm.from_dict({"names": ["a", "b"], "mean": [0, 0], "std": [1, -1]})
    with pytest.raises(DarklensError, match="must be lists of one length"):
        TargetNorm.from_dict({"names": ["a", "b"], "mean": [0], "std": [1, 1]})
