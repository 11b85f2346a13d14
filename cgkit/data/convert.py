"""Lossless conversion between the HDF5 and Zarr backends (``cgkit convert``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from cgkit.data._backend import Group, backend_of, open_backend
from cgkit.data.lock import WriterLock

#: bytes copied per block
_BLOCK_BYTES = 16 << 20


def copy_tree(source: Group, target: Group) -> None:
    """Copy every attribute, array and sub-group of ``source`` into ``target``."""
    target.set_attrs(source.attrs())
    for name in source.array_names():
        array = source.array(name)
        shape = array.shape
        chunks = tuple(max(1, c) for c in array.chunks)
        copy = target.create_array(
            name,
            shape=shape,
            dtype=array.dtype,
            chunks=chunks,
            fill_value=_fill_of(array),
            attrs=array.attrs(),
        )
        row_bytes = max(1, int(np.prod(shape[1:], dtype=np.int64)) * array.dtype.itemsize)
        step = max(1, _BLOCK_BYTES // row_bytes)
        for start in range(0, shape[0], step):
            copy.write(start, array.read(start, min(shape[0], start + step)))
    for name in source.group_names():
        copy_tree(source.group(name), target.create_group(name))


def _fill_of(array) -> object:
    fill = getattr(array.native, "fillvalue", None)
    if fill is None:
        fill = getattr(array.native, "fill_value", None)
    if isinstance(fill, np.generic):
        fill = fill.item()
    return fill


def convert(source: str | Path, target: str | Path, overwrite: bool = False) -> Path:
    """Copy store ``source`` into a new store ``target`` of the other (or same) backend.

    Every array (values, shape, dtype, chunking) and every attribute is copied
    unchanged, so HDF5 -> Zarr -> HDF5 round trips are lossless. ``source`` is checked
    first (schema version, units) and must not be open for writing elsewhere.

    Parameters
    ----------
    source, target : str or Path
        ``*.h5`` or ``*.zarr`` paths.
    overwrite : bool
        Replace an existing ``target``.

    Returns
    -------
    Path
        ``target``.
    """
    from cgkit.data.store import open as open_store

    source, target = Path(source), Path(target)
    if source.resolve() == target.resolve():
        raise ValueError(f"{source}: source and target are the same store")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target}: already exists (pass overwrite=True to replace it)")
    kind = backend_of(target)
    with open_store(source, "r") as store:
        if target.exists():
            WriterLock(target).acquire().release()  # refuse to replace a store being written
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        if kind == "zarr":
            target.mkdir(parents=True)
        lock = WriterLock(target).acquire()
        try:
            backend = open_backend(target, "w")
            try:
                copy_tree(store._backend.root, backend.root)
                backend.flush()
            finally:
                backend.close()
        finally:
            lock.release()
    return target
