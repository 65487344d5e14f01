"""Names and metadata of the on-disk dataset layout (DESIGN.md section 3).

A darklens dataset is an HDF5 file that ``xarray.open_dataset(path, engine="h5netcdf")`` opens
with named dimensions: ``image(sample, y, x)`` (multi-band: ``image(sample, band, y, x)``)
float32 plus one 1-D ``(sample)`` variable per
:class:`VariableSpec`, each carrying ``units`` and ``long_name`` attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np

from darklens.errors import DarklensError

#: The image variable and its dimensions, in order.
IMAGE = "image"
SAMPLE, Y, X = "sample", "y", "x"
IMAGE_DIMS = (SAMPLE, Y, X)
#: Multi-band datasets store ``image(sample, band, y, x)`` with a ``band`` name coordinate.
BAND = "band"

#: Global attribute naming the bands, comma-separated (a ``band`` coordinate is written).
BAND_NAMES_ATTR = "band_names"

#: Global attribute that, when present, turns the ``y``/``x`` coordinates into arcsec offsets.
PIXEL_SCALE_ATTR = "pixel_scale_arcsec"

#: Global attributes whose key starts with this are per-shard and may differ between shards.
SHARD_ATTR_PREFIX = "shard"

#: Images per HDF5 chunk: small enough that a random-access training read decompresses little
#: beyond the image it wants, large enough to keep the chunk index small for 10^5 images.
CHUNK_IMAGES = 16

DTYPES = ("float64", "float32", "int64", "str")


@dataclass(frozen=True)
class VariableSpec:
    """Metadata of one per-sample (1-D) variable of a dataset.

    Parameters
    ----------
    name : str
        Variable name in the file (a valid netCDF name, e.g. ``"theta_E"``).
    units : str
        Physical units (``"arcsec"``, ``"Msun"``, ``"1"`` for dimensionless).
    long_name : str
        Human-readable description, shown by ``darklens info`` and in plots.
    dtype : str
        One of ``"float64"``, ``"float32"``, ``"int64"``, ``"str"``.
    """

    name: str
    units: str
    long_name: str
    dtype: str = "float64"

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise DarklensError(
                f"variable {self.name!r}: dtype {self.dtype!r} is not one of {', '.join(DTYPES)}"
            )
        if self.name in (IMAGE, BAND, *IMAGE_DIMS):
            raise DarklensError(f"variable {self.name!r}: name is reserved for the image layout")

    def storage_dtype(self) -> np.dtype:
        """Return the dtype to create the HDF5 dataset with (variable-length UTF-8 for str)."""
        if self.dtype == "str":
            return h5py.string_dtype()
        return np.dtype(self.dtype)

    def cast(self, values: np.ndarray, where: str) -> np.ndarray:
        """Convert block values to this variable's storage type.

        Parameters
        ----------
        values : numpy.ndarray
            1-D values as saved in a block.
        where : str
            The block file, named in the error message.

        Returns
        -------
        numpy.ndarray
            ``object`` array of ``str`` for string variables (what h5py writes as variable-length
            strings), otherwise an array of the declared numeric dtype.
        """
        try:
            if self.dtype == "str":
                return np.asarray(values).astype(str).astype(object)
            return np.asarray(values).astype(self.dtype)
        except ValueError as exc:
            raise DarklensError(
                f"{where}: values of {self.name!r} do not convert to {self.dtype} ({exc})"
            ) from None
