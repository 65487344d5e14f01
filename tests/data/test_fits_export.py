"""darklens export: a dataset as FITS files + labels, and analyze joining the labels back."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from darklens.analysis.report import read_predictions
from darklens.cli import main
from darklens.data.catalog import read_columns
from darklens.data.dataset import LensDataset
from darklens.errors import DarklensError
from darklens.simulate import run
from tests.conftest import tiny


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    cfg = tiny("none", n=6, params={"z_lens": {"uniform": [0.3, 0.6]}, "z_source": 2.0,
                                     "log10_halo_mass": {"uniform": [11.0, 11.4]}})
    return run(cfg, out=tmp_path_factory.mktemp("d") / "d.h5", progress=False)


def test_export_writes_every_image_with_inputs_and_labels(dataset, tmp_path, capsys):
    folder = tmp_path / "fits"
    assert main(["export", str(dataset), "--fits", str(folder), "--inputs", "z_lens,z_source",
                 "-q"]) == 0
    assert "wrote 6 FITS files" in capsys.readouterr().out
    files = sorted(folder.glob("lens_*.fits"))
    images = LensDataset([dataset], ["log10_halo_mass"]).load_images(np.arange(6))
    z = read_columns([dataset], ["z_lens", "log10_halo_mass"])
    assert len(files) == 6 and len(set(z[:, 0])) == 6
    for k, path in enumerate(files):
        with fits.open(path) as hdul:
            np.testing.assert_array_equal(hdul[0].data, images[k, 0])
            assert hdul[0].header["Z_LENS"] == pytest.approx(z[k, 0])
            assert hdul[0].header["PIXSCALE"] == pytest.approx(0.08)
    labels = pd.read_csv(tmp_path / "fits.labels.csv")
    assert list(labels["source"]) == [p.name for p in files]
    np.testing.assert_allclose(labels["log10_halo_mass_true"], z[:, 1])


def test_export_of_an_unknown_input_is_one_line(dataset, tmp_path):
    with pytest.raises(DarklensError, match="no per-sample variable 'redshift'"):
        from darklens.data.fits_export import export_fits
        export_fits(dataset, tmp_path / "f", inputs=["redshift"])
    assert main(["export", str(dataset), "--fits", str(tmp_path / "f"), "--inputs", "zz"]) == 2


def test_truth_joins_by_file_name_whatever_the_folder_path(tmp_path):
    pred = tmp_path / "p.csv"
    pd.DataFrame({"source": ["/abs/run/a.fits", "rel/b.fits"], "m_mean": [1.0, 2.0]}).to_csv(
        pred, index=False)
    labels = tmp_path / "l.csv"
    pd.DataFrame({"source": ["b.fits", "a.fits"], "m_true": [2.5, 1.5]}).to_csv(labels,
                                                                                index=False)
    table, targets = read_predictions(pred, labels)
    assert targets == ["m"] and list(table["m_true"]) == [1.5, 2.5]
    pd.DataFrame({"source": ["x.fits"], "m_true": [0.0]}).to_csv(labels, index=False)
    with pytest.raises(DarklensError, match="no 'source' matches"):
        read_predictions(pred, labels)
    pd.DataFrame({"source": ["d1/a.fits", "d2/a.fits"], "m_mean": [1.0, 2.0]}).to_csv(
        pred, index=False)
    with pytest.raises(DarklensError, match="appears twice"):
        read_predictions(pred, labels)
