"""Dataset store: one schema, two backends (HDF5 ``.h5`` file, Zarr v3 ``.zarr`` directory).

>>> import cgkit.data
>>> with cgkit.data.create("frames.h5", provenance={"recipe": "..."}) as store:  # doctest: +SKIP
...     system = store.add_system("bithiophene", numbers=symbols)
...     system.append_frames(positions, labels={"homo": homo})
...     system.add_map("8bead", cgmap)
>>> with cgkit.data.open("frames.h5") as store:  # doctest: +SKIP
...     bead_positions = store.cg("8bead").bead_positions([5, 1, 5])

``cgkit.data.DatasetBuilder`` (:mod:`cgkit.data.builder`) is imported on first use.
The layout and the crash-safety contract are described in :mod:`cgkit.data.schema`, the
single-writer lock in :mod:`cgkit.data.lock`. The torch Dataset adapter lives in
:mod:`cgkit.data.torch_dataset` (imports torch); nothing here imports torch.
"""

from cgkit.data._backend import StoreError
from cgkit.data.cgview import CGView
from cgkit.data.convert import convert
from cgkit.data.datasets import import_bithiophene_dft, import_sps_melt
from cgkit.data.importers import from_arrays, import_trajectory
from cgkit.data.labels import LabelInfo
from cgkit.data.lock import StoreLockedError, break_lock
from cgkit.data.mapframes import map_frames
from cgkit.data.schema import FAILED, OK, PENDING, SCHEMA_VERSION
from cgkit.data.store import Store, create, open
from cgkit.data.system import System

__all__ = [
    "CGView",
    "FAILED",
    "LabelInfo",
    "OK",
    "PENDING",
    "SCHEMA_VERSION",
    "Store",
    "StoreError",
    "StoreLockedError",
    "System",
    "break_lock",
    "convert",
    "create",
    "from_arrays",
    "import_bithiophene_dft",
    "import_sps_melt",
    "import_trajectory",
    "map_frames",
    "open",
]


def __getattr__(name: str):
    # the dataset builder (cgkit/data/builder.py) pulls in labelers and samplers: lazy
    if name in ("DatasetBuilder", "BuildError", "BuildSummary"):
        from cgkit.data import builder

        return getattr(builder, name)
    raise AttributeError(f"module 'cgkit.data' has no attribute {name!r}")
