"""Blocks -> assembled file -> virtual merge of shards, and the info/preview views of a dataset."""

from __future__ import annotations

import shutil

import matplotlib.image
import numpy as np
import pytest
import xarray as xr

from darklens.data.info import open_dataset, summary
from darklens.data.merge import merge
from darklens.data.preview import plot_examples
from darklens.data.schema import VariableSpec
from darklens.data.store import assemble, completed_blocks, partial_dir, write_block
from darklens.errors import DarklensError

N, NY, NX, BLOCK = 80, 12, 10, 16  # 5 blocks of one 16-image chunk each
VARIABLES = [
    VariableSpec("theta_E", "arcsec", "Einstein radius"),
    VariableSpec("n_sub", "1", "number of subhalos", dtype="int64"),
    VariableSpec("substructure", "", "substructure kind", dtype="str"),
]
ATTRS = {"config": "seed: 7\nn: 40\n", "darklens_version": "0.1.0", "pixel_scale_arcsec": 0.08}


def fake_data(n=N, ny=NY, nx=NX):
    """Deterministic stand-in for the simulator: every value differs per sample."""
    rng = np.random.default_rng(0)
    return {
        "images": rng.normal(size=(n, ny, nx)).astype(np.float32),
        "theta_E": rng.uniform(0.5, 2.0, n),
        "n_sub": rng.integers(0, 100, n),
        "substructure": np.array(["cdm", "wdm", "none", "sidm"] * (n // 4)),
    }


def write_blocks(out, data, blocks, attrs=ATTRS):
    """Write blocks (global numbering; block b holds samples b*BLOCK ..) for dataset ``out``."""
    for local, b in enumerate(blocks):
        sl = slice(b * BLOCK, (b + 1) * BLOCK)
        params = {k: data[k][sl] for k in ("theta_E", "n_sub", "substructure")}
        write_block(out, local, np.arange(N)[sl], data["images"][sl], params)


def make_full(tmp_path, data, name="full.nc"):
    out = tmp_path / name
    write_blocks(out, data, range(N // BLOCK))
    assemble(out, N // BLOCK, VARIABLES, ATTRS)
    return out


def make_shards(tmp_path, data, attrs2=ATTRS, ranges=((0, 3), (3, 5))):
    paths = []
    for k, (b0, b1) in enumerate(ranges):
        out = tmp_path / f"shard{k}.nc"
        write_blocks(out, data, range(b0, b1))
        attrs = dict(ATTRS if k == 0 else attrs2, shard=f"{k} of {len(ranges)}")
        assemble(out, b1 - b0, VARIABLES, attrs)
        paths.append(out)
    return paths


def test_assemble_roundtrip(tmp_path):
    data = fake_data()
    out = make_full(tmp_path, data)
    assert not partial_dir(out).exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert ds["image"].dims == ("sample", "y", "x")
        assert ds["image"].dtype == np.float32
        assert ds["image"].encoding["zlib"] and ds["image"].encoding["shuffle"]
        assert ds["image"].encoding["chunksizes"] == (16, NY, NX)
        assert not [d for d in ds.dims if d.startswith("phony")]
        np.testing.assert_array_equal(ds["image"].values, data["images"])
        np.testing.assert_array_equal(ds["sample"].values, np.arange(N))
        np.testing.assert_array_equal(ds["theta_E"].values, data["theta_E"])
        np.testing.assert_array_equal(ds["n_sub"].values, data["n_sub"])
        assert ds["n_sub"].dtype == np.int64
        assert list(ds["substructure"].values) == list(data["substructure"])
        for spec in VARIABLES:
            assert ds[spec.name].dims == ("sample",)
            assert ds[spec.name].attrs["units"] == spec.units
            assert ds[spec.name].attrs["long_name"] == spec.long_name
        for key, value in ATTRS.items():
            assert ds.attrs[key] == value
        # pixel centres in arcsec, symmetric about the image centre
        assert ds["x"].attrs["units"] == "arcsec"
        np.testing.assert_allclose(ds["x"].values, (np.arange(NX) - 4.5) * 0.08)
        np.testing.assert_allclose(ds["y"].values, -ds["y"].values[::-1])


def test_pixel_index_coords_without_scale(tmp_path):
    data = fake_data()
    out = tmp_path / "px.nc"
    write_blocks(out, data, range(N // BLOCK))
    assemble(out, N // BLOCK, VARIABLES, {"config": "x: 1\n"})
    with open_dataset(out) as ds:
        np.testing.assert_array_equal(ds["y"].values, np.arange(NY))
        assert ds["y"].attrs["units"] == "pixel"


def test_completed_blocks_after_crash(tmp_path):
    data = fake_data()
    out = tmp_path / "run.nc"
    assert completed_blocks(out) == set()
    write_blocks(out, data, [0, 1, 2])
    part = partial_dir(out)
    # a crash mid-write leaves a temp file, and a truncated file must not count either
    (part / ".block_000003.npz.tmp-123").write_bytes(b"PK\x03\x04 half a zip")
    shutil.copy(part / "block_000000.npz", part / "block_000004.npz")
    (part / "block_000004.npz").write_bytes((part / "block_000004.npz").read_bytes()[:100])
    # an OS crash can leave a whole-looking file with damaged contents: the CRC catches it
    damaged = bytearray((part / "block_000001.npz").read_bytes())
    damaged[200] ^= 0xFF
    (part / "block_000001.npz").write_bytes(bytes(damaged))
    assert completed_blocks(out) == {0, 2}


def test_assemble_missing_block(tmp_path):
    data = fake_data()
    out = tmp_path / "gap.nc"
    write_blocks(out, data, [0, 1, 2])
    (partial_dir(out) / "block_000001.npz").unlink()
    with pytest.raises(DarklensError, match="block 1"):
        assemble(out, 3, VARIABLES, ATTRS)
    assert not out.exists()
    assert partial_dir(out).exists()  # finished blocks survive for the resumed run


def test_assemble_undeclared_variable(tmp_path):
    data = fake_data()
    out = tmp_path / "undeclared.nc"
    write_blocks(out, data, [0])
    with pytest.raises(DarklensError, match="declared variables"):
        assemble(out, 1, VARIABLES[:2], ATTRS)


def test_merge_equals_single_assemble(tmp_path):
    data = fake_data(ny=48, nx=40)  # big enough that image bytes dominate HDF5 overhead
    full = make_full(tmp_path, data)
    shards = make_shards(tmp_path, data)
    merged = tmp_path / "merged.nc"
    merge(merged, shards[::-1])  # any order
    with xr.open_dataset(full, engine="h5netcdf") as a, open_dataset(merged) as b:
        assert b["image"].dims == ("sample", "y", "x")
        assert set(a.variables) == set(b.variables)
        for name in a.variables:
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
            assert a[name].dims == b[name].dims
            assert a[name].attrs == b[name].attrs, name
        # "shard*" removed, a fresh creation time, everything else kept
        assert {k: v for k, v in a.attrs.items() if k != "created"} == {
            k: v for k, v in b.attrs.items() if k != "created"
        }
        assert "created" in b.attrs
    # no image data copied: the merged file is a small fraction of the shards' bytes
    shard_bytes = sum(s.stat().st_size for s in shards)
    assert shard_bytes > 0.5 * data["images"].nbytes
    assert merged.stat().st_size < 0.1 * shard_bytes


def test_merged_file_moves_with_shards(tmp_path):
    data = fake_data()
    src = tmp_path / "a"
    src.mkdir()
    shards = make_shards(src, data)
    merge(src / "merged.nc", shards)
    moved = tmp_path / "b"
    shutil.move(src, moved)
    with open_dataset(moved / "merged.nc") as ds:
        np.testing.assert_array_equal(ds["image"].values, data["images"])
    (moved / "shard1.nc").unlink()
    with pytest.raises(DarklensError, match="shard1.nc"):
        open_dataset(moved / "merged.nc")


def test_merge_mismatched_attrs(tmp_path):
    data = fake_data()
    shards = make_shards(tmp_path, data, attrs2=dict(ATTRS, config="seed: 8\n"))
    with pytest.raises(DarklensError, match=r"shard1\.nc.*'config'"):
        merge(tmp_path / "m.nc", shards)
    assert not (tmp_path / "m.nc").exists()


@pytest.mark.parametrize(
    ("ranges", "message"),
    [(((0, 2), (3, 5)), r"samples 32\.\.47 are in no shard"), (((0, 3), (2, 5)), "overlap")],
)
def test_merge_gap_or_overlap(tmp_path, ranges, message):
    shards = make_shards(tmp_path, fake_data(), ranges=ranges)
    with pytest.raises(DarklensError, match=message):
        merge(tmp_path / "m.nc", shards)


def test_merge_must_start_at_zero(tmp_path):
    shards = make_shards(tmp_path, fake_data(), ranges=((1, 3), (3, 5)))
    with pytest.raises(DarklensError, match=r"samples 0\.\.15"):
        merge(tmp_path / "m.nc", shards)


def test_open_dataset_errors(tmp_path):
    with pytest.raises(DarklensError, match="not found"):
        open_dataset(tmp_path / "nope.nc")
    junk = tmp_path / "junk.nc"
    junk.write_text("not hdf5")
    with pytest.raises(DarklensError, match="junk.nc"):
        open_dataset(junk)


def test_summary_mentions_everything(tmp_path):
    data = fake_data()
    shards = make_shards(tmp_path, data)
    merge(tmp_path / "merged.nc", shards)
    for path in (shards[0], tmp_path / "merged.nc"):
        text = summary(path)
        for spec in VARIABLES:
            assert spec.name in text and spec.long_name in text
        assert "12 x 10" in text and "0.08 arcsec" in text
        assert "    seed: 7" in text  # the YAML config, indented
    text = summary(tmp_path / "merged.nc")
    assert f"samples:     {N}" in text and "virtual" in text
    assert f"max {data['theta_E'].max():.6g}" in text


def test_plot_examples_png(tmp_path):
    out = make_full(tmp_path, fake_data())
    png = plot_examples(out, tmp_path / "ex" / "grid.png", n=6)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = matplotlib.image.imread(png)
    assert pixels.ndim == 3 and pixels.shape[0] > 100
    assert pixels.std() > 0
    with pytest.raises(DarklensError, match="no_such"):
        plot_examples(out, tmp_path / "bad.png", label_vars=["no_such"])


def test_blocks_of_several_chunks_and_a_short_last_block(tmp_path):
    data = fake_data(ny=32, nx=32)
    out = tmp_path / "uneven.nc"
    edges = [0, 32, 48, 75]  # two chunks, one chunk, a short last block (27 = 16 + 11)
    for b, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        params = {k: data[k][lo:hi] for k in ("theta_E", "n_sub", "substructure")}
        write_block(out, b, np.arange(lo, hi), data["images"][lo:hi], params)
    assemble(out, 3, VARIABLES, ATTRS)
    with open_dataset(out) as ds:
        np.testing.assert_array_equal(ds["image"].values, data["images"][:75])
        np.testing.assert_array_equal(ds["theta_E"].values, data["theta_E"][:75])
        assert ds["image"].encoding["zlib"] and ds["image"].encoding["shuffle"]


def test_block_not_ending_on_a_chunk_boundary_is_refused(tmp_path):
    data = fake_data()
    out = tmp_path / "bad.nc"
    for b, (lo, hi) in enumerate([(0, 10), (10, 26)]):
        params = {k: data[k][lo:hi] for k in ("theta_E", "n_sub", "substructure")}
        write_block(out, b, np.arange(lo, hi), data["images"][lo:hi], params)
    with pytest.raises(DarklensError, match="every block but the last must hold a multiple"):
        assemble(out, 2, VARIABLES, ATTRS)
