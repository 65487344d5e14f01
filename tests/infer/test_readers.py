"""Each image reader on a real file it writes, and every kind of bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest
from astropy.io import fits
from PIL import Image

from darklens.errors import DarklensError
from darklens.infer.readers import BadInput, read_image, read_image_header
from darklens.infer.sources import iter_inputs
from darklens.simulate import run
from tests.conftest import tiny


def _img(h=32, w=32):
    return np.random.default_rng(0).uniform(1, 100, (h, w)).astype(np.float32)


def test_fits_image_and_header(tmp_path):
    img = _img()
    hdul = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(img)])  # image in the 2nd HDU
    hdul[1].header["Z_LENS"] = 0.5
    hdul.writeto(tmp_path / "a.fits")
    out, header = read_image_header(tmp_path / "a.fits")
    assert out.dtype == np.float32 and np.array_equal(out, img)
    assert header["Z_LENS"] == 0.5
    fits.PrimaryHDU(img).writeto(tmp_path / "b.fits.gz")
    assert np.array_equal(read_image(tmp_path / "b.fits.gz"), img)


def test_npy(tmp_path):
    img = _img().astype(np.float64)
    np.save(tmp_path / "a.npy", img)
    out = read_image(tmp_path / "a.npy")
    assert out.dtype == np.float32 and np.allclose(out, img)


def test_png_8_and_16_bit_and_tiff_keep_values(tmp_path):
    img8 = (np.arange(32 * 32) % 256).astype(np.uint8).reshape(32, 32)
    Image.fromarray(img8).save(tmp_path / "a.png")
    assert np.array_equal(read_image(tmp_path / "a.png"), img8.astype(np.float32))
    img16 = (np.arange(32 * 32) * 50).astype(np.uint16).reshape(32, 32)
    Image.fromarray(img16).save(tmp_path / "b.png")
    out = read_image(tmp_path / "b.png")
    assert out.max() > 255 and np.array_equal(out, img16.astype(np.float32))
    Image.fromarray(img16).save(tmp_path / "c.tiff")
    out = read_image(tmp_path / "c.tiff")
    assert out.max() > 255 and np.array_equal(out, img16.astype(np.float32))


def test_rgb_png_is_bands_first(tmp_path):
    rgb = np.random.default_rng(1).integers(1, 255, (32, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    assert read_image(tmp_path / "rgb.png").shape == (3, 32, 32)


def test_hdf5_dataset_samples_carry_values(tmp_path):
    path = run(tiny(n=5), out=tmp_path / "d.h5", progress=False)
    sources = list(iter_inputs([path], bands=1))
    assert [s.name for s in sources] == [f"{path}#{k}" for k in range(5)]
    assert all(s.error is None and s.image.shape[-2:] == (32, 32) for s in sources)
    import h5py

    with h5py.File(path) as f:
        stored = f["log10_halo_mass"][()]
    assert [s.values["log10_halo_mass"] for s in sources] == pytest.approx(stored.tolist())


def test_folders_are_expanded_sorted(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("b.npy", "a.npy", "sub/c.npy"):
        np.save(tmp_path / name, _img())
    names = [s.name for s in iter_inputs([tmp_path])]
    assert names == [str(tmp_path / n) for n in ("a.npy", "b.npy", "sub/c.npy")]


def _bad_files(d):
    """Every kind of bad input: file name -> words its reason must contain."""
    (d / "empty.fits").write_bytes(b"")
    fits.PrimaryHDU(_img(64, 64)).writeto(d / "full.fits")
    raw = (d / "full.fits").read_bytes()
    (d / "truncated.fits").write_bytes(raw[: len(raw) // 2])
    (d / "full.fits").unlink()
    (d / "text.npy").write_text("1 2 3\n4 5 6\n")
    nan = _img()
    nan[3, 3] = np.nan
    np.save(d / "nan.npy", nan)
    np.save(d / "zero.npy", np.zeros((32, 32), np.float32))
    np.save(d / "cube.npy", np.ones((5, 32, 32), np.float32))
    np.save(d / "line.npy", np.ones(32, np.float32))
    (d / "notes.jpg").write_bytes(b"\xff\xd8 not really")
    # the file system's kinds: nothing found may be dropped silently
    (d / "dir.fits").mkdir()
    (d / "broken.fits").symlink_to(d / "nowhere.fits")
    (d / "loop_a.fits").symlink_to(d / "loop_b.fits")
    (d / "loop_b.fits").symlink_to(d / "loop_a.fits")
    np.save(d / ".hidden.npy", _img())
    os.mkfifo(d / "pipe.fits")
    (d / "inf.npy").write_bytes(b"")
    inf = _img()
    inf[0, 0] = np.inf
    np.save(d / "inf.npy", inf)
    np.save(d / "words.npy", np.array(["a", "b"]))
    fits.BinTableHDU.from_columns([fits.Column("x", "E", array=np.ones(3))]).writeto(
        d / "table.fits")
    (d / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return {
        "empty.fits": "empty",
        "truncated.fits": "truncated",
        "text.npy": "not a .npy",
        "nan.npy": "NaN",
        "zero.npy": "all zeros",
        "cube.npy": "3-D cube",
        "line.npy": "expected a 2-D image",
        "notes.jpg": "unsupported suffix",
        "dir.fits": "empty folder",
        "broken.fits": "broken symbolic link",
        "loop_a.fits": "symbolic link loop",
        "loop_b.fits": "symbolic link loop",
        ".hidden.npy": "hidden",
        "pipe.fits": "not a regular file",
        "inf.npy": "NaN/inf",
        "words.npy": "not a numeric array",
        "table.fits": "no image HDU",
        "bad.png": "corrupt or truncated image",
    }


def test_every_bad_input_gives_its_reason(tmp_path):
    expected = _bad_files(tmp_path)
    found = {s.name.rsplit("/", 1)[-1]: s.error for s in iter_inputs([tmp_path], bands=1)}
    assert set(found) == set(expected)
    for name, words in expected.items():
        assert found[name] is not None and words in found[name], (name, found[name])


def test_read_image_raises_bad_input_as_darklens_error(tmp_path):
    (tmp_path / "x.npy").write_text("hello")
    with pytest.raises(DarklensError, match=r"x\.npy: not a \.npy"):
        read_image(tmp_path / "x.npy")
    with pytest.raises(BadInput, match="no such file"):
        read_image(tmp_path / "missing.fits")
