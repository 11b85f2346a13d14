"""One system of a store: a fixed atom list and its frames, labels and CG maps."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cgkit.data import schema
from cgkit.data._backend import Array, Group, StoreError, frame_chunks
from cgkit.data.labels import LabelInfo, LabelsMixin

if TYPE_CHECKING:  # pragma: no cover
    from ase import Atoms

    from cgkit.data.cgview import CGView
    from cgkit.data.store import Store
    from cgkit.mapping import CGMap


def as_atomic_numbers(numbers_or_symbols, where: str) -> np.ndarray:
    """Atomic numbers (N,) from numbers or element symbols; unknown elements name the atom.

    Number 0 (symbol ``"X"``) is ASE's dummy atom, used for CG beads.
    """
    from ase.data import atomic_numbers

    values = np.asarray(numbers_or_symbols)
    if values.ndim != 1:
        raise ValueError(f"{where}: numbers must be 1-d (N,), got shape {values.shape}")
    if values.dtype.kind in "USO":
        out = np.empty(len(values), dtype=np.int64)
        for atom, symbol in enumerate(values):
            symbol = str(symbol).strip()
            if symbol not in atomic_numbers:
                raise ValueError(f"{where}: atom {atom} has unknown element {symbol!r}")
            out[atom] = atomic_numbers[symbol]
        return out
    out = values.astype(np.int64)
    bad = np.flatnonzero((out < 0) | (out > 118) | (out != values))
    if len(bad):
        raise ValueError(
            f"{where}: atom {bad[0]} has invalid atomic number {values[bad[0]].item()!r} "
            "(valid: 1..118, or 0 for a CG bead / dummy atom 'X')"
        )
    return out


def check_finite(values: np.ndarray, what: str, where: str, first_frame: int) -> None:
    """Refuse NaN/inf in ``values`` (F, ...) naming the frame (and atom for (F, N, 3))."""
    bad = ~np.isfinite(values)
    if bad.any():
        position = np.argwhere(bad)[0]
        frame = first_frame + int(position[0])
        atom = f", atom {int(position[1])}" if values.ndim == 3 else ""
        raise ValueError(
            f"{where}: {what} of frame {frame}{atom} is not finite ({values[tuple(position)]}); "
            "nothing of this append was stored"
        )


@dataclass(frozen=True)
class _FrameField:
    name: str
    row_shape: tuple[int, ...]
    dtype: type


class System(LabelsMixin):
    """Frames of one fixed atom list inside a :class:`~cgkit.data.Store`.

    Obtain it with ``store[name]`` or ``store.add_system(...)``. Frame indices refer to
    committed frames ``0 .. n_frames - 1``; negative indices count from the end.
    """

    def __init__(self, store: Store, group: Group, name: str):
        self.store = store
        self.group = group
        self.name = name
        attrs = group.attrs()
        self.n_atoms: int = int(attrs["n_atoms"])
        self._n_frames: int = int(attrs.get("n_frames", 0))
        required = ("numbers", "masses", "positions") if self._n_frames else ("numbers", "masses")
        for array_name in required:
            if array_name not in group:
                raise StoreError(
                    f"{store.path}: array {group.path}/{array_name} is missing (corrupt store?)"
                )
        self.numbers: np.ndarray = group.array("numbers").read()
        self.masses: np.ndarray = group.array("masses").read()
        self.bonds: np.ndarray | None = group.array("bonds").read() if "bonds" in group else None
        self._fields = {
            "positions": _FrameField("positions", (self.n_atoms, 3), np.float64),
            "cell": _FrameField("cell", (3, 3), np.float64),
            "pbc": _FrameField("pbc", (3,), np.bool_),
            "time": _FrameField("time", (), np.float64),
            "forces": _FrameField("forces", (self.n_atoms, 3), np.float64),
        }
        self._frame_fields: tuple[str, ...] | None = None
        self._handles: dict[str, Array] = {}
        for field in self.frame_fields:
            schema.check_array_length(self._array(field), self._n_frames, store.path)

    # ------------------------------------------------------------------ basics
    @property
    def where(self) -> str:
        """``file:system`` prefix for error messages."""
        return f"{self.store.path}:{self.name}"

    @property
    def n_frames(self) -> int:
        """Number of committed frames."""
        return self._n_frames

    def __len__(self) -> int:
        return self._n_frames

    @property
    def symbols(self) -> list[str]:
        from ase.data import chemical_symbols

        return [chemical_symbols[z] for z in self.numbers]

    @property
    def frame_fields(self) -> tuple[str, ...]:
        """Per-frame arrays present: ``positions`` plus any of cell, pbc, time, forces."""
        if self._frame_fields is None:
            self._frame_fields = tuple(
                f for f in ("positions", *schema.OPTIONAL_FRAME_FIELDS) if f in self.group
            )
        return self._frame_fields

    def _array(self, path: str) -> Array:
        """Cached handle of the array at ``path`` (relative to the system group)."""
        handle = self._handles.get(path)
        if handle is None:
            group = self.group
            *groups, name = path.split("/")
            for part in groups:
                group = group.group(part)
            handle = self._handles[path] = group.array(name)
        return handle

    def __repr__(self) -> str:
        return (
            f"<System {self.name!r}: {self.n_atoms} atoms, {self.n_frames} frames, "
            f"labels {sorted(self.labels)}, maps {sorted(self.map_names)}>"
        )

    def _require_writable(self) -> None:
        if self.store.mode == "r":
            raise PermissionError(f"{self.store.path}: store is open read-only (mode='r')")

    def _indices(self, indices) -> np.ndarray:
        """Normalise ``indices`` (None, int, slice, sequence) to int64 frame numbers."""
        n = self._n_frames
        if indices is None:
            return np.arange(n, dtype=np.int64)
        if isinstance(indices, slice):
            return np.arange(n, dtype=np.int64)[indices]
        idx = np.asarray(indices)
        if idx.dtype == np.bool_ or (idx.size and idx.dtype.kind not in "iu"):
            raise TypeError(f"{self.where}: frame indices must be integers, got {idx.dtype}")
        idx = idx.astype(np.int64).reshape(-1)
        bad = np.flatnonzero((idx < -n) | (idx >= n))
        if len(bad):
            raise IndexError(
                f"{self.where}: frame index {idx[bad[0]]} out of range ({n} committed frames)"
            )
        return np.where(idx < 0, idx + n, idx)

    @staticmethod
    def _read_rows(array: Array, idx: np.ndarray) -> np.ndarray:
        """Batched read: one selection of the sorted unique rows, then un-permute."""
        if len(idx) and idx[0] >= 0 and np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx))):
            return array.read(int(idx[0]), int(idx[0]) + len(idx))
        unique, inverse = np.unique(idx, return_inverse=True)
        return array.read_rows(unique)[inverse.reshape(-1)]

    # ------------------------------------------------------------------ reads
    def read(self, field: str, indices=None) -> np.ndarray:
        """Batched read of a per-frame array.

        Parameters
        ----------
        field : str
            ``"positions"`` (Å), ``"cell"`` (Å), ``"pbc"``, ``"time"`` (fs) or ``"forces"`` (eV/Å).
        indices : int, slice, sequence of int or None
            Frames to read, any order, repeats allowed; None reads all frames.

        Returns
        -------
        ndarray, shape (len(indices), ...) (no leading axis for a scalar int index)
        """
        if field not in self.frame_fields:
            raise KeyError(f"{self.where}: no per-frame array {field!r} (has {self.frame_fields})")
        idx = self._indices(indices)
        values = self._read_rows(self._array(field), idx)
        return values[0] if isinstance(indices, int | np.integer) else values

    def read_positions(self, indices=None) -> np.ndarray:
        """Positions (len(indices), N, 3) in Å; see :meth:`read`."""
        return self.read("positions", indices)

    def read_forces(self, indices=None) -> np.ndarray:
        """Forces (len(indices), N, 3) in eV/Å; see :meth:`read`."""
        return self.read("forces", indices)

    def read_cell(self, indices=None) -> np.ndarray | None:
        """Cells (len(indices), 3, 3) in Å, or None when the system has no cell."""
        return self.read("cell", indices) if "cell" in self.frame_fields else None

    def read_pbc(self, indices=None) -> np.ndarray | None:
        """Periodic flags (len(indices), 3), or None when the system has no cell."""
        return self.read("pbc", indices) if "pbc" in self.frame_fields else None

    def read_time(self, indices=None) -> np.ndarray | None:
        """Times (len(indices),) in fs, or None when not stored."""
        return self.read("time", indices) if "time" in self.frame_fields else None

    def to_atoms(self, index: int) -> Atoms:
        """Frame ``index`` as :class:`ase.Atoms`.

        Labels whose status is ok go to ``atoms.info`` (per-atom labels and forces to
        ``atoms.arrays``); time goes to ``info["time"]`` (fs); ``info["frame"]`` is the index.
        """
        from ase import Atoms

        i = int(self._indices([index])[0])
        atoms = Atoms(numbers=self.numbers, positions=self.read_positions([i])[0])
        atoms.set_masses(self.masses)
        if "cell" in self.frame_fields:
            atoms.cell = self.read_cell([i])[0]
            atoms.pbc = self.read_pbc([i])[0]
        if "time" in self.frame_fields:
            atoms.info["time"] = float(self.read_time([i])[0])
        if "forces" in self.frame_fields:
            atoms.arrays["forces"] = self.read_forces([i])[0]
        atoms.info["frame"] = i
        for name, info in self.labels.items():
            if self.label_status(name, [i])[0] != schema.OK:
                continue
            value = self.read_labels(name, [i])[0]
            if info.per_atom:
                atoms.arrays[name] = value
            else:
                atoms.info[name] = value.item() if value.ndim == 0 else value
        return atoms

    def __iter__(self) -> Iterator[Atoms]:
        for i in range(self._n_frames):
            yield self.to_atoms(i)

    # ------------------------------------------------------------------ append
    def append_frames(
        self,
        positions,
        cell=None,
        pbc=None,
        time=None,
        forces=None,
        labels: Mapping[str, Any] | None = None,
    ) -> range:
        """Append frames; return the range of their indices.

        Parameters
        ----------
        positions : array_like, shape (F, N, 3) or (N, 3)
            Cartesian coordinates in Å; NaN/inf is refused naming frame and atom.
        cell : array_like, shape (F, 3, 3) or (3, 3), optional
            Cell vectors as rows in Å (one cell is broadcast to all frames).
        pbc : array_like of bool, shape (F, 3) or (3,), optional
            Periodic flags; default all True when ``cell`` is given.
        time : array_like, shape (F,), optional
            Simulation time in fs.
        forces : array_like, shape (F, N, 3), optional
            Forces in eV/Å.
        labels : dict name -> array_like (F, ...), optional
            Label values (status ok); labels not added yet are added with the unit of
            :func:`cgkit.units.unit_of` (use :meth:`add_label` for others). Existing
            labels not given here are pending for the new frames.

        Notes
        -----
        The optional per-frame arrays are fixed by the first append: later appends must
        give the same ones. Everything is validated before anything is written; the
        committed frame count is raised only after all data is flushed, so a refused or
        interrupted append leaves the earlier frames intact.
        """
        self._require_writable()
        start = self._n_frames
        where = self.where
        positions = np.asarray(positions, dtype=np.float64)
        if positions.ndim == 2:
            positions = positions[None]
        if positions.ndim != 3 or positions.shape[1:] != (self.n_atoms, 3):
            raise ValueError(
                f"{where}: positions of shape {positions.shape} do not match the system's "
                f"{self.n_atoms} atoms; expected (F, {self.n_atoms}, 3)"
            )
        n_new = len(positions)
        check_finite(positions, "position", where, start)
        given: dict[str, np.ndarray] = {"positions": positions}
        if cell is not None:
            given["cell"] = self._frame_array("cell", cell, n_new)
            check_finite(given["cell"], "cell", where, start)
            given["pbc"] = self._frame_array("pbc", True if pbc is None else pbc, n_new)
        elif pbc is not None and np.any(pbc):
            raise ValueError(f"{where}: pbc given without a cell")
        if time is not None:
            given["time"] = self._frame_array("time", time, n_new)
            check_finite(given["time"], "time", where, start)
        if forces is not None:
            given["forces"] = self._frame_array("forces", forces, n_new)
            check_finite(given["forces"], "force", where, start)
        existing = set(self.frame_fields)
        if existing:  # fixed by the first append (even an interrupted one)
            if set(given) != existing:
                raise ValueError(
                    f"{where}: this append gives {sorted(given)} but the system stores "
                    f"{sorted(existing)}; every append must give the same per-frame arrays"
                )
        label_values = self._prepare_label_values(labels or {}, n_new)
        # ---- write (nothing above touched the file)
        for name, values in given.items():
            array = self._frame_array_handle(name)
            if array.shape[0] < start + n_new:
                array.resize(start + n_new)
            array.write(start, values)
        self._append_label_rows(start, n_new, label_values)
        self.store.flush()
        self.group.set_attrs({"n_frames": start + n_new})  # the commit
        self.store.flush()
        self._n_frames = start + n_new
        return range(start, start + n_new)

    def _frame_array(self, name: str, values, n_new: int) -> np.ndarray:
        field = self._fields[name]
        array = np.asarray(values, dtype=field.dtype)
        if array.ndim <= len(field.row_shape):  # one value for every frame
            try:
                array = np.broadcast_to(array, (n_new, *field.row_shape))
            except ValueError:
                pass
        if array.shape != (n_new, *field.row_shape):
            raise ValueError(
                f"{self.where}: {name} has shape {array.shape}, expected "
                f"({n_new}, {', '.join(map(str, field.row_shape))}) for {n_new} frames"
            )
        return np.ascontiguousarray(array)

    def _frame_array_handle(self, name: str) -> Array:
        if name in self.frame_fields:
            return self._array(name)
        field = self._fields[name]
        self._frame_fields = None
        return self.group.create_array(
            name,
            shape=(0, *field.row_shape),
            dtype=field.dtype,
            chunks=frame_chunks(field.row_shape, field.dtype),
            fill_value=False if field.dtype is np.bool_ else np.nan,
            attrs={"unit": schema.FIXED_UNITS[name]},
        )

    # ------------------------------------------------------------------ maps and CG
    @property
    def map_names(self) -> list[str]:
        """Names of the CG maps stored with this system."""
        return sorted(self.group.group("maps").attrs()) if "maps" in self.group else []

    @property
    def maps(self) -> dict[str, CGMap]:
        """CG maps by name (rebuilt from their stored JSON)."""
        from cgkit.mapping import CGMap

        if "maps" not in self.group:
            return {}
        return {
            name: CGMap.from_dict(json.loads(text))
            for name, text in sorted(self.group.group("maps").attrs().items())
        }

    def add_map(self, name: str, cgmap: CGMap) -> None:
        """Store ``cgmap`` (as JSON of ``cgmap.to_dict()``) under ``name``.

        Raises ValueError when the map's atom count differs from the system's.
        """
        self._require_writable()
        if int(cgmap.n_atoms) != self.n_atoms:
            raise ValueError(
                f"{self.where}: map {name!r} is for {cgmap.n_atoms} atoms but the system has "
                f"{self.n_atoms} atoms"
            )
        group = (
            self.group.group("maps") if "maps" in self.group else self.group.create_group("maps")
        )
        group.set_attrs({name: schema.dumps(cgmap.to_dict())})
        self.store.flush()

    def cg(self, map_name: str) -> CGView:
        """A CG view of this system through the stored map ``map_name``."""
        from cgkit.data.cgview import CGView

        maps = self.maps
        if map_name not in maps:
            raise KeyError(f"{self.where}: no map {map_name!r} (has {sorted(maps)})")
        return CGView(self, map_name, maps[map_name])

    def label_info(self, name: str) -> LabelInfo:
        """Metadata of label ``name``."""
        return self.labels[name]
