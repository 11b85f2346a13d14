"""The store: a file (HDF5) or directory (Zarr v3) holding systems of frames.

See :mod:`cgkit.data.schema` for the layout and the crash-safety contract and
:mod:`cgkit.data.lock` for the single-writer rule.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cgkit._version import __version__
from cgkit.data import schema
from cgkit.data._backend import StoreError, backend_of, open_backend
from cgkit.data.lock import WriterLock
from cgkit.data.system import System, as_atomic_numbers

if TYPE_CHECKING:  # pragma: no cover
    from cgkit.data.cgview import CGView


class Store:
    """An open cgkit store; use :func:`create` or :func:`open` rather than this class.

    A store is a context manager; leaving the ``with`` block closes it (and releases the
    writer lock). ``store[name]`` is a :class:`~cgkit.data.System`; iterating yields
    system names.
    """

    def __init__(self, path: str | Path, mode: str, _backend, _lock: WriterLock | None):
        self.path = Path(path)
        self.mode = mode
        self._backend = _backend
        self._lock = _lock
        self._systems: dict[str, System] = {}
        try:
            attrs = schema.check_root(_backend.root, self.path)
            schema.check_units(_backend.root, self.path)
            for name in self.system_names:
                self._systems[name] = System(self, self._systems_group.group(name), name)
        except Exception:
            self.close()
            raise
        self.schema_version: int = attrs["schema_version"]
        self.cgkit_version: str = attrs.get("cgkit_version", "")
        self.created: str = attrs.get("created", "")

    # ------------------------------------------------------------------ lifecycle
    @property
    def backend(self) -> str:
        """``"h5"`` or ``"zarr"``."""
        return self._backend.kind

    def flush(self) -> None:
        """Push buffered writes to the file system."""
        if self.mode != "r":
            self._backend.flush()

    def close(self) -> None:
        """Flush, close the file and release the writer lock."""
        if self._backend is None:
            return
        try:
            self.flush()
            self._backend.close()
        finally:
            self._backend = None
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # release a forgotten writer lock
        try:
            self.close()
        except Exception:  # pragma: no cover - interpreter shutdown
            pass

    def __repr__(self) -> str:
        if self._backend is None:
            return f"<cgkit Store {str(self.path)!r} (closed)>"
        return (
            f"<cgkit Store {str(self.path)!r} ({self.backend}, mode {self.mode!r}): "
            f"systems {self.system_names}>"
        )

    # ------------------------------------------------------------------ metadata
    @property
    def attrs(self) -> dict[str, Any]:
        """Root attributes (provenance as JSON text)."""
        return self._backend.root.attrs()

    @property
    def provenance(self) -> dict[str, Any]:
        """How the store was made (recipe text, command line, seeds, ...)."""
        return json.loads(self.attrs.get("provenance", "{}"))

    def update_provenance(self, **items: Any) -> None:
        """Merge ``items`` (JSON-able) into the provenance record."""
        self._require_writable()
        provenance = self.provenance
        provenance.update(items)
        self._backend.root.set_attrs({"provenance": schema.dumps(provenance)})
        self.flush()

    def _require_writable(self) -> None:
        if self.mode == "r":
            raise PermissionError(f"{self.path}: store is open read-only (mode='r')")

    # ------------------------------------------------------------------ systems
    @property
    def _systems_group(self):
        return self._backend.root.group("systems")

    @property
    def system_names(self) -> list[str]:
        """Names of the systems, sorted."""
        return self._systems_group.group_names()

    def __getitem__(self, name: str) -> System:
        try:
            return self._systems[name]
        except KeyError:
            raise KeyError(f"{self.path}: no system {name!r} (has {self.system_names})") from None

    def __contains__(self, name: str) -> bool:
        return name in self._systems

    def __iter__(self) -> Iterator[str]:
        return iter(self.system_names)

    def __len__(self) -> int:
        return len(self._systems)

    def add_system(self, name: str, numbers, masses=None, bonds=None) -> System:
        """Add a system (a fixed list of atoms) and return it.

        Parameters
        ----------
        name : str
            System name (no ``/``).
        numbers : array_like, shape (N,)
            Atomic numbers or element symbols (unknown elements name the atom).
        masses : array_like, shape (N,), optional
            Masses in amu; default ASE's standard atomic masses.
        bonds : array_like of int, shape (K, 2), optional
            Bonded atom pairs (0-based).
        """
        from ase.data import atomic_masses

        self._require_writable()
        if not name or "/" in name:
            raise ValueError(f"{self.path}: invalid system name {name!r}")
        if name in self._systems:
            raise ValueError(f"{self.path}: system {name!r} already exists")
        where = f"{self.path}:{name}"
        numbers = as_atomic_numbers(numbers, where)
        n_atoms = len(numbers)
        if n_atoms == 0:
            raise ValueError(f"{where}: a system needs at least one atom")
        masses = atomic_masses[numbers] if masses is None else np.asarray(masses, dtype=float)
        if masses.shape != (n_atoms,):
            raise ValueError(f"{where}: masses of shape {masses.shape} for {n_atoms} atoms")
        bad = np.flatnonzero(~np.isfinite(masses) | (masses <= 0))
        if len(bad):
            raise ValueError(f"{where}: atom {bad[0]} has invalid mass {masses[bad[0]]}")
        if bonds is not None:
            bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
            bad = np.argwhere((bonds < 0) | (bonds >= n_atoms))
            if len(bad):
                raise ValueError(
                    f"{where}: bond {bad[0][0]} refers to atom {bonds[tuple(bad[0])]} "
                    f"but the system has {n_atoms} atoms"
                )
        group = self._systems_group.create_group(name)
        group.set_attrs({"n_atoms": n_atoms, "n_frames": 0})
        for key, values, unit in (
            ("numbers", numbers, "1"),
            ("masses", masses, "amu"),
            ("bonds", bonds, "1"),
        ):
            if values is None or len(values) == 0:
                continue
            array = group.create_array(
                key,
                shape=values.shape,
                dtype=values.dtype,
                chunks=values.shape,
                attrs={"unit": unit},
            )
            array.write(0, values)
        self.flush()
        self._systems[name] = System(self, group, name)
        return self._systems[name]

    def cg(self, map_name: str, system: str | None = None) -> CGView:
        """CG view through map ``map_name`` of ``system`` (default: the system that has it)."""
        if system is not None:
            return self[system].cg(map_name)
        owners = [name for name, sys_ in self._systems.items() if map_name in sys_.map_names]
        if len(owners) != 1:
            raise KeyError(
                f"{self.path}: map {map_name!r} is stored with systems {owners}; "
                "pass system=... to choose"
                if owners
                else f"{self.path}: no system has a map {map_name!r}"
            )
        return self._systems[owners[0]].cg(map_name)


def create(
    path: str | Path,
    provenance: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> Store:
    """Create a new, empty store opened for writing.

    Parameters
    ----------
    path : str or Path
        ``*.h5`` (HDF5 file) or ``*.zarr`` (Zarr v3 directory).
    provenance : dict, optional
        How the store is made (recipe text, command line, random seeds, versions);
        stored as JSON in the root attribute ``provenance``. ``command_line`` defaults
        to this process's ``sys.argv``.
    overwrite : bool
        Replace an existing store at ``path`` (otherwise FileExistsError).

    Returns
    -------
    Store
        Open in mode ``"a"``; use it as a context manager.
    """
    path = Path(path)
    kind = backend_of(path)
    if path.exists():
        if not overwrite:
            raise FileExistsError(f"{path}: already exists (pass overwrite=True to replace it)")
        lock = WriterLock(path).acquire()  # refuse to replace a store someone writes
        if path.is_dir():
            for child in path.iterdir():
                if child != lock.path:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
        else:
            path.unlink()
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "zarr":
            path.mkdir()
        lock = WriterLock(path).acquire()
    provenance = {"command_line": " ".join(sys.argv), **(provenance or {})}
    try:
        backend = open_backend(path, "w")
        backend.root.set_attrs(
            {
                "format": schema.FORMAT,
                "schema_version": schema.SCHEMA_VERSION,
                "cgkit_version": __version__,
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "provenance": schema.dumps(provenance),
            }
        )
        backend.root.create_group("systems")
        backend.flush()
    except BaseException:
        lock.release()
        if kind == "zarr" and not (path / "zarr.json").exists():
            shutil.rmtree(path, ignore_errors=True)
        raise
    return Store(path, "a", backend, lock)


def open(path: str | Path, mode: str = "r") -> Store:  # noqa: A001 - mirrors builtins.open
    """Open an existing store.

    Parameters
    ----------
    path : str or Path
        ``*.h5`` file or ``*.zarr`` directory.
    mode : {"r", "a"}
        Read only, or read and append (takes the writer lock; a second writer gets
        :class:`~cgkit.data.StoreLockedError`).

    Raises
    ------
    FileNotFoundError
        No such store.
    StoreError
        Corrupt/truncated file, not a cgkit store, newer schema, or an array without unit.
    """
    if mode not in ("r", "a"):
        raise ValueError(f"{path}: mode must be 'r' or 'a', got {mode!r}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such store")
    lock = WriterLock(path).acquire() if mode == "a" else None
    try:
        backend = open_backend(path, mode)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return Store(path, mode, backend, lock)


__all__ = ["Store", "StoreError", "create", "open"]
