"""Load (atomic numbers, positions, property) for CGMP from arrays, a ``.npz`` or a store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class PropertyData:
    """Frames of one molecule with a scalar property.

    Attributes
    ----------
    numbers : ndarray of int, shape (N,)
    positions : ndarray of float, shape (F, N, 3), Å
    values : ndarray of float, shape (F,), eV
    masses : ndarray of float, shape (N,), amu, or None
    source : str
        Where the data came from (for error messages).
    """

    numbers: np.ndarray
    positions: np.ndarray
    values: np.ndarray
    masses: np.ndarray | None = None
    source: str = "arrays"

    def __post_init__(self):
        self.numbers = np.asarray(self.numbers, dtype=int).ravel()
        self.positions = np.asarray(self.positions, dtype=float)
        self.values = np.asarray(self.values, dtype=float).ravel()
        n_atoms = self.numbers.shape[0]
        if self.positions.ndim != 3 or self.positions.shape[1:] != (n_atoms, 3):
            raise ValueError(
                f"{self.source}: positions must have shape (F, {n_atoms}, 3), "
                f"got {self.positions.shape}"
            )
        if self.values.shape[0] != self.positions.shape[0]:
            raise ValueError(
                f"{self.source}: {self.positions.shape[0]} frames of positions but "
                f"{self.values.shape[0]} property values"
            )
        bad_frames = np.flatnonzero(
            ~np.isfinite(self.values) | ~np.isfinite(self.positions).all(axis=(1, 2))
        )
        if bad_frames.size:
            raise ValueError(
                f"{self.source}: frame {bad_frames[0]} has a non-finite position or value"
            )

    @property
    def n_frames(self) -> int:
        return self.positions.shape[0]


def _numbers_from_symbols(symbols, source: str) -> np.ndarray:
    from ase.data import atomic_numbers

    numbers = []
    for index, symbol in enumerate(np.asarray(symbols).astype(str)):
        if symbol not in atomic_numbers:
            raise ValueError(f"{source}: atom {index} has unknown element {str(symbol)!r}")
        numbers.append(atomic_numbers[symbol])
    return np.array(numbers, dtype=int)


def load_property_data(source, target: str = "homo", system: str | None = None) -> PropertyData:
    """Read frames and one scalar property for CGMP.

    Parameters
    ----------
    source : PropertyData, Mapping, str or Path
        * a mapping with ``numbers`` (N,), ``positions`` (F, N, 3) Å and ``y`` (F,) eV;
        * a ``.npz`` in the layout of the shared bithiophene set: ``symbols`` or ``numbers``,
          ``positions`` and ``<target>_eV`` (or ``<target>``);
        * a cgkit store (``.h5`` / ``.zarr``): frames whose label ``target`` is ok.
    target : str
        Property name (``homo``, ``lumo``, ...).
    system : str, optional
        System of the store (needed when it holds more than one).
    """
    if isinstance(source, PropertyData):
        return source
    if isinstance(source, Mapping):
        missing = {"numbers", "positions", "y"} - set(source)
        if missing:
            raise KeyError(f"input arrays lack {sorted(missing)} (need numbers, positions, y)")
        return PropertyData(
            source["numbers"], source["positions"], source["y"], source.get("masses")
        )
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or store")
    if path.suffix == ".npz":
        return _from_npz(path, target)
    if path.suffix in (".h5", ".zarr"):
        return _from_store(path, target, system)
    raise ValueError(f"{path}: expected a .npz file or a cgkit store (.h5 / .zarr)")


def _from_npz(path: Path, target: str) -> PropertyData:
    with np.load(path) as data:
        keys = set(data.files)
        for key in (f"{target}_eV", target):
            if key in keys:
                values = data[key]
                break
        else:
            raise KeyError(f"{path}: no property {target!r} (keys: {', '.join(sorted(keys))})")
        if "numbers" in keys:
            numbers = data["numbers"]
        elif "symbols" in keys:
            numbers = _numbers_from_symbols(data["symbols"], str(path))
        else:
            raise KeyError(f"{path}: needs 'numbers' or 'symbols'")
        if "positions" not in keys:
            raise KeyError(f"{path}: needs 'positions' (F, N, 3) in Å")
        return PropertyData(numbers, data["positions"], values, source=str(path))


def _from_store(path: Path, target: str, system: str | None) -> PropertyData:
    import cgkit.data

    with cgkit.data.open(path, mode="r") as store:
        names = store.system_names
        if system is None:
            if len(names) != 1:
                raise ValueError(f"{path}: holds systems {names}; choose one with system=...")
            system = names[0]
        if system not in store:
            raise KeyError(f"{path}: no system {system!r} (systems: {names})")
        sys = store[system]
        if target not in sys.labels:
            raise KeyError(f"{path}:{system}: no label {target!r} (labels: {sorted(sys.labels)})")
        unit = sys.labels[target].unit
        if unit != "eV":
            raise ValueError(f"{path}:{system}: label {target!r} is in {unit}, expected eV")
        frames = sys.ok_frames(target)
        if frames.size == 0:
            raise ValueError(f"{path}:{system}: no frame has an ok {target!r} label")
        return PropertyData(
            sys.numbers,
            sys.read_positions(frames),
            sys.read_labels(target, frames),
            masses=sys.masses,
            source=f"{path}:{system}",
        )
