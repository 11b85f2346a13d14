"""Thin adapters that give HDF5 (h5py) and Zarr v3 the same small group/array interface.

The store (:mod:`cgkit.data.store`) is written once against :class:`Group` and
:class:`Array`; only this module knows about h5py and zarr. Attributes are restricted
to JSON scalars (str, int, float, bool); structured metadata is stored as JSON text.
h5py and zarr are imported lazily so that ``import cgkit.data`` stays light.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

#: frames per chunk target: about this many bytes per chunk of a per-frame array
CHUNK_BYTES = 1 << 18
#: HDF5 batched reads read the bounding slab when it is at most this many bytes per row read
_SLAB_BYTES_PER_ROW = 1 << 14


class StoreError(ValueError):
    """A file that is not a readable cgkit store (corrupt, truncated, wrong schema)."""


def backend_of(path: str | Path) -> str:
    """Return ``"h5"`` or ``"zarr"`` from the suffix of ``path``.

    Raises
    ------
    ValueError
        If the suffix is neither ``.h5``/``.hdf5`` nor ``.zarr``.
    """
    suffix = Path(path).suffix.lower()
    if suffix in (".h5", ".hdf5"):
        return "h5"
    if suffix == ".zarr":
        return "zarr"
    raise ValueError(f"{path}: unknown store type {suffix!r}; use a .h5 or .zarr path")


def frame_chunks(row_shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, ...]:
    """Chunk shape for a per-frame array: whole frames, about :data:`CHUNK_BYTES` per chunk."""
    row_bytes = max(1, int(np.prod(row_shape, dtype=np.int64)) * np.dtype(dtype).itemsize)
    n_rows = int(min(8192, max(1, CHUNK_BYTES // row_bytes)))
    return (n_rows, *row_shape)


def _plain(value: Any) -> Any:
    """Attribute value as a plain Python scalar (h5py returns numpy scalars)."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


class Array:
    """A chunked n-d array whose first axis can grow (``file`` names it in errors)."""

    def __init__(self, native, path: str, file: Path):
        self.native = native
        self.path = path
        self.file = file

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.native.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.native.dtype)

    @property
    def chunks(self) -> tuple[int, ...]:
        return tuple(self.native.chunks)

    def attrs(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in self.native.attrs.items()}

    def set_attrs(self, values: dict[str, Any]) -> None:
        raise NotImplementedError

    def resize(self, n_rows: int) -> None:
        raise NotImplementedError

    def write(self, start: int, values: np.ndarray) -> None:
        """Write ``values`` into rows ``start : start + len(values)``."""
        self.native[start : start + len(values)] = values

    def read(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Read the contiguous rows ``start:stop``."""
        stop = self.shape[0] if stop is None else stop
        if stop <= start:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        with self._reading():
            return np.asarray(self.native[start:stop])

    def read_rows(self, sorted_unique: np.ndarray) -> np.ndarray:
        """Read rows given as sorted unique indices in one selection."""
        if len(sorted_unique) == 0:
            return np.empty((0, *self.shape[1:]), dtype=self.dtype)
        with self._reading():
            return self._read_rows(np.asarray(sorted_unique))

    def _read_rows(self, sorted_unique: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @contextlib.contextmanager
    def _reading(self):
        """Turn backend read failures (corrupt chunk, truncated file) into StoreError."""
        try:
            yield
        except (OSError, ValueError, RuntimeError) as exc:
            raise StoreError(
                f"{self.file}: cannot read array {self.path} (corrupt or truncated?): {exc}"
            ) from exc


class Group:
    """A group of arrays and sub-groups with scalar attributes."""

    def __init__(self, native, path: str, file: Path):
        self.native = native
        self.path = path
        self.file = file

    def attrs(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in self.native.attrs.items()}

    def set_attrs(self, values: dict[str, Any]) -> None:
        raise NotImplementedError

    def _join(self, name: str) -> str:
        return f"{self.path.rstrip('/')}/{name}"


# ----------------------------------------------------------------------------- HDF5


class H5Array(Array):
    def set_attrs(self, values):
        for key, value in values.items():
            self.native.attrs[key] = value

    def resize(self, n_rows):
        self.native.resize(n_rows, axis=0)

    def _read_rows(self, sorted_unique):
        first, last = int(sorted_unique[0]), int(sorted_unique[-1])
        span = last - first + 1
        # h5py point selections cost ~10 us per index, a contiguous read ~1 us per KB: read
        # the bounding slab once and select in memory when that is cheaper and its size is
        # bounded (<= 16 KiB per requested row); either way it is one read, no Python loop.
        slab_bytes = span * self._row_bytes()
        if slab_bytes <= max(CHUNK_BYTES, _SLAB_BYTES_PER_ROW * len(sorted_unique)):
            return np.asarray(self.native[first : last + 1])[sorted_unique - first]
        return np.asarray(self.native[sorted_unique])

    def _row_bytes(self) -> int:
        return int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize


class H5Group(Group):
    def set_attrs(self, values):
        for key, value in values.items():
            self.native.attrs[key] = value

    def group_names(self) -> list[str]:
        import h5py

        return sorted(k for k, v in self.native.items() if isinstance(v, h5py.Group))

    def array_names(self) -> list[str]:
        import h5py

        return sorted(k for k, v in self.native.items() if isinstance(v, h5py.Dataset))

    def __contains__(self, name: str) -> bool:
        return name in self.native

    def group(self, name: str) -> H5Group:
        return H5Group(self.native[name], self._join(name), self.file)

    def array(self, name: str) -> H5Array:
        return H5Array(self.native[name], self._join(name), self.file)

    def create_group(self, name: str) -> H5Group:
        return H5Group(self.native.create_group(name), self._join(name), self.file)

    def create_array(self, name, shape, dtype, chunks, fill_value=None, attrs=None) -> H5Array:
        dtype = np.dtype(dtype)
        kwargs = {}
        if fill_value is not None:
            kwargs["fillvalue"] = fill_value
        dataset = self.native.create_dataset(
            name, shape=shape, dtype=dtype, chunks=chunks, maxshape=(None, *shape[1:]), **kwargs
        )
        array = H5Array(dataset, self._join(name), self.file)
        array.set_attrs(attrs or {})
        return array


class H5File:
    """An open HDF5 file: ``root`` group, ``flush`` and ``close``."""

    kind = "h5"

    def __init__(self, path: Path, mode: str):
        import h5py

        h5mode = {"r": "r", "a": "r+", "w": "w-"}[mode]
        if mode == "a" and path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(f"{path}: no write permission")
        try:
            # HDF5's own file locking is replaced by cgkit's lock file (see lock.py) so
            # readers can inspect a store while a builder appends to it.
            self.file = h5py.File(path, h5mode, locking=False)
        except FileExistsError:
            raise
        except OSError as exc:
            if not path.exists():
                raise FileNotFoundError(f"{path}: no such store") from exc
            raise StoreError(
                f"{path}: not a readable HDF5 file (corrupt or truncated?): {exc}"
            ) from exc
        self.root = H5Group(self.file, "/", path)

    def flush(self) -> None:
        self.file.flush()

    def close(self) -> None:
        if self.file.id.valid:
            self.file.close()


# ----------------------------------------------------------------------------- Zarr


@contextlib.contextmanager
def _quiet_lock_file():
    """Silence zarr's warning about the writer lock file inside the store directory."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*\.cgkit\.lock.*")
        yield


class ZarrArray(Array):
    def set_attrs(self, values):
        self.native.attrs.update(values)

    def resize(self, n_rows):
        self.native.resize((n_rows, *self.shape[1:]))

    def _read_rows(self, sorted_unique):
        return np.asarray(self.native.get_orthogonal_selection(sorted_unique))


class ZarrGroup(Group):
    def set_attrs(self, values):
        self.native.attrs.update(values)

    def group_names(self) -> list[str]:
        with _quiet_lock_file():
            return sorted(self.native.group_keys())

    def array_names(self) -> list[str]:
        with _quiet_lock_file():
            return sorted(self.native.array_keys())

    def __contains__(self, name: str) -> bool:
        return name in self.native

    def group(self, name: str) -> ZarrGroup:
        return ZarrGroup(self.native[name], self._join(name), self.file)

    def array(self, name: str) -> ZarrArray:
        return ZarrArray(self.native[name], self._join(name), self.file)

    def create_group(self, name: str) -> ZarrGroup:
        return ZarrGroup(self.native.create_group(name), self._join(name), self.file)

    def create_array(self, name, shape, dtype, chunks, fill_value=None, attrs=None) -> ZarrArray:
        dtype = np.dtype(dtype)
        if fill_value is None:
            fill_value = False if dtype == np.bool_ else 0
        native = self.native.create_array(
            name,
            shape=shape,
            dtype=dtype,
            chunks=chunks,
            fill_value=fill_value,
            attributes=dict(attrs or {}),
        )
        return ZarrArray(native, self._join(name), self.file)


class ZarrFile:
    """An open Zarr v3 directory store: ``root`` group, ``flush`` and ``close``."""

    kind = "zarr"

    def __init__(self, path: Path, mode: str):
        import zarr

        if mode == "w":
            # the directory may exist already, holding only the writer's lock file
            if (path / "zarr.json").exists():
                raise FileExistsError(f"{path}: already exists")
            self.group = zarr.open_group(str(path), mode="a", zarr_format=3)
        else:
            if not path.exists():
                raise FileNotFoundError(f"{path}: no such store")
            if not (path / "zarr.json").is_file():
                raise StoreError(f"{path}: not a Zarr v3 store (no zarr.json; corrupt?)")
            try:
                self.group = zarr.open_group(
                    str(path), mode="r" if mode == "r" else "r+", zarr_format=3
                )
            except Exception as exc:  # zarr raises several types for bad metadata
                raise StoreError(
                    f"{path}: not a readable Zarr v3 store (corrupt or truncated?): {exc}"
                ) from exc
        self.root = ZarrGroup(self.group, "/", path)

    def flush(self) -> None:
        """Zarr writes every chunk and metadata document atomically as it goes."""

    def close(self) -> None:
        """Nothing to release (each write already reached the file system)."""


def open_backend(path: str | Path, mode: str):
    """Open ``path`` with the backend chosen from its suffix.

    Parameters
    ----------
    path : str or Path
        ``.h5``/``.hdf5`` file or ``.zarr`` directory.
    mode : {"r", "a", "w"}
        Read only, read/write an existing store, or create a new one (refuses to overwrite).
    """
    path = Path(path)
    kind = backend_of(path)
    if mode == "w" and kind == "h5" and path.exists():
        raise FileExistsError(f"{path}: already exists (pass overwrite=True to replace it)")
    return H5File(path, mode) if kind == "h5" else ZarrFile(path, mode)
