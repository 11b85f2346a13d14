"""Importers: arrays, ASE-readable trajectories and the two shared data sets -> store."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cgkit.data.system import System

if TYPE_CHECKING:  # pragma: no cover
    from ase import Atoms

    from cgkit.data.store import Store
    from cgkit.mapping import CGMap

#: frames per append when importing
CHUNK_FRAMES = 1000


def _append_arrays(
    system: System,
    positions: np.ndarray,
    *,
    cell=None,
    pbc=None,
    time=None,
    forces=None,
    labels: Mapping[str, np.ndarray] | None = None,
    chunk_frames: int = CHUNK_FRAMES,
) -> None:
    """Append (F, ...) arrays to ``system`` in chunks of ``chunk_frames`` frames."""
    n_frames = len(positions)
    labels = dict(labels or {})
    for name, values in labels.items():
        if len(values) != n_frames:
            raise ValueError(
                f"{system.where}: label {name!r} has {len(values)} values for {n_frames} frames"
            )

    for start in range(0, n_frames, chunk_frames):
        stop = min(n_frames, start + chunk_frames)
        system.append_frames(
            positions[start:stop],
            cell=_rows(cell, (3, 3), start, stop),
            pbc=_rows(pbc, (3,), start, stop),
            time=None if time is None else np.asarray(time)[start:stop],
            forces=None if forces is None else forces[start:stop],
            labels={name: np.asarray(values)[start:stop] for name, values in labels.items()},
        )


def _rows(values, row_shape: tuple[int, ...], start: int, stop: int):
    """Slice per-frame ``values`` (F, *row_shape); a single row is passed through."""
    if values is None:
        return None
    values = np.asarray(values)
    return values if values.shape == row_shape else values[start:stop]


def from_arrays(
    path: str | Path,
    numbers,
    positions,
    *,
    cell=None,
    pbc=None,
    time=None,
    forces=None,
    labels: Mapping[str, Any] | None = None,
    label_units: Mapping[str, str] | None = None,
    label_attrs: Mapping[str, Mapping[str, str]] | None = None,
    masses=None,
    bonds=None,
    maps: Mapping[str, CGMap] | None = None,
    system: str = "system",
    provenance: dict[str, Any] | None = None,
    overwrite: bool = False,
    chunk_frames: int = CHUNK_FRAMES,
) -> Path:
    """Write arrays to a new store with one system.

    Parameters
    ----------
    path : str or Path
        New ``*.h5`` or ``*.zarr`` store.
    numbers : array_like, shape (N,)
        Atomic numbers or element symbols.
    positions : array_like, shape (F, N, 3)
        Coordinates in Å.
    cell, pbc, time, forces
        Optional per-frame arrays as in :meth:`System.append_frames`.
    labels : dict name -> array_like (F, ...), optional
        Label values (all ok).
    label_units : dict name -> unit, optional
        Units of labels not registered in :mod:`cgkit.units`.
    label_attrs : dict name -> {"method", "program", "program_version"}, optional
        How each label was computed.
    masses, bonds
        As in :meth:`Store.add_system`.
    maps : dict name -> CGMap, optional
        CG maps stored with the system.
    system : str
        System name.
    provenance : dict, optional
        Stored in the root attributes (the command line is added).
    overwrite : bool
        Replace an existing store.
    chunk_frames : int
        Frames per append.

    Returns
    -------
    Path
    """
    from cgkit.data.store import create

    positions = np.asarray(positions, dtype=np.float64)
    labels = dict(labels or {})
    provenance = {"importer": "from_arrays", **(provenance or {})}
    with create(path, provenance=provenance, overwrite=overwrite) as store:
        target = store.add_system(system, numbers, masses=masses, bonds=bonds)
        for name, values in labels.items():
            attrs = dict((label_attrs or {}).get(name, {}))
            target.add_label(
                name,
                unit=(label_units or {}).get(name),
                shape=np.shape(values)[1:],
                **attrs,
            )
        for name, cgmap in (maps or {}).items():
            target.add_map(name, cgmap)
        _append_arrays(
            target,
            positions,
            cell=cell,
            pbc=pbc,
            time=time,
            forces=forces,
            labels=labels,
            chunk_frames=chunk_frames,
        )
    return Path(path)


class _FrameBuffer:
    """Collects Atoms frames of one trajectory and appends them in chunks."""

    def __init__(self, system: System, chunk_frames: int):
        self.system = system
        self.chunk_frames = chunk_frames
        self.rows: dict[str, list] = {}

    def add(self, row: dict[str, Any]) -> None:
        for key, value in row.items():
            self.rows.setdefault(key, []).append(value)
        if len(self.rows["positions"]) >= self.chunk_frames:
            self.flush()

    def flush(self) -> None:
        if not self.rows.get("positions"):
            return
        arrays = {key: np.asarray(values) for key, values in self.rows.items()}
        labels = {k[6:]: v for k, v in arrays.items() if k.startswith("label:")}
        self.system.append_frames(
            arrays["positions"],
            cell=arrays.get("cell"),
            pbc=arrays.get("pbc"),
            time=arrays.get("time"),
            forces=arrays.get("forces"),
            labels=labels,
        )
        self.rows = {}


def _frame_row(atoms: Atoms, reference: Atoms, has: dict[str, bool], where: str) -> dict:
    if len(atoms) != len(reference):
        raise ValueError(
            f"{where}: has {len(atoms)} atoms but the first frame has {len(reference)}"
        )
    differ = np.flatnonzero(atoms.numbers != reference.numbers)
    if len(differ):
        atom = differ[0]
        raise ValueError(
            f"{where}: atom {atom} is {atoms.get_chemical_symbols()[atom]} but "
            f"{reference.get_chemical_symbols()[atom]} in the first frame"
        )
    row = {"positions": atoms.positions}
    if has["cell"]:
        row["cell"] = atoms.cell.array
        row["pbc"] = atoms.pbc
    results = atoms.calc.results if atoms.calc is not None else {}
    if has["forces"]:
        if "forces" not in results and "forces" not in atoms.arrays:
            raise ValueError(f"{where}: has no forces but the first frame has")
        row["forces"] = results["forces"] if "forces" in results else atoms.arrays["forces"]
    if has["energy"]:
        if "energy" not in results:
            raise ValueError(f"{where}: has no energy but the first frame has")
        row["label:energy"] = results["energy"]
    if has["time"]:
        if "time" not in atoms.info:
            raise ValueError(f"{where}: has no info['time'] but the first frame has")
        row["time"] = atoms.info["time"]
    return row


def import_trajectory(
    trajectories: str | Path | Sequence[str | Path],
    out: str | Path | Store,
    *,
    labels: Mapping[str, Any] | None = None,
    label_units: Mapping[str, str] | None = None,
    format: str | None = None,
    index: str = ":",
    system: str = "system",
    maps: Mapping[str, CGMap] | None = None,
    provenance: dict[str, Any] | None = None,
    overwrite: bool = False,
    chunk_frames: int = CHUNK_FRAMES,
) -> Path:
    """Import ASE-readable trajectories (xyz, extxyz, traj, gro, LAMMPS dump, ...).

    Frames of all files, in order, become one system. Cell/pbc are stored when the first
    frame has a cell, forces and the ``energy`` label when it has them (from the
    calculator results or ``atoms.arrays["forces"]``), time when ``info["time"]`` is set.

    Parameters
    ----------
    trajectories : path or sequence of paths
        Files to read with :func:`ase.io.iread`.
    out : path or Store
        New store (``*.h5``/``*.zarr``) or an open writable store to add the system to.
    labels : dict name -> array_like (F_total, ...), optional
        Extra labels for the imported frames (e.g. loaded from ``.npy``).
    label_units : dict name -> unit, optional
        Units of unregistered labels.
    format, index : str
        Passed to :func:`ase.io.iread`.
    system, maps, provenance, overwrite, chunk_frames
        As in :func:`from_arrays`.

    Raises
    ------
    ValueError
        A frame whose atom count or elements differ from the first frame, or with
        non-finite coordinates (the message names file and frame). A new store is then
        removed; frames already in a passed-in ``Store`` stay.
    """
    from ase.io import iread

    from cgkit.data.store import Store, create

    if isinstance(trajectories, str | Path):
        trajectories = [trajectories]
    trajectories = [Path(p) for p in trajectories]
    for path in trajectories:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such trajectory")
    provenance = {
        "importer": "import_trajectory",
        "sources": [str(p) for p in trajectories],
        **(provenance or {}),
    }
    own = not isinstance(out, Store)
    store = create(out, provenance=provenance, overwrite=overwrite) if own else out
    try:
        target, buffer, reference, has = None, None, None, {}
        for path in trajectories:
            for frame, atoms in enumerate(iread(str(path), index=index, format=format)):
                where = f"{path} frame {frame}"
                if reference is None:
                    reference = atoms
                    results = atoms.calc.results if atoms.calc is not None else {}
                    has = {
                        "cell": bool(atoms.pbc.any() or atoms.cell.rank > 0),
                        "forces": "forces" in results or "forces" in atoms.arrays,
                        "energy": "energy" in results,
                        "time": "time" in atoms.info,
                    }
                    target = store.add_system(system, atoms.numbers, masses=atoms.get_masses())
                    for name, cgmap in (maps or {}).items():
                        target.add_map(name, cgmap)
                    buffer = _FrameBuffer(target, chunk_frames)
                row = _frame_row(atoms, reference, has, where)
                bad = np.argwhere(~np.isfinite(atoms.positions))
                if len(bad):
                    raise ValueError(f"{where}: position of atom {bad[0][0]} is not finite")
                buffer.add(row)
        if reference is None:
            raise ValueError(f"{', '.join(map(str, trajectories))}: no frames read")
        buffer.flush()
        for name, values in (labels or {}).items():
            values = np.asarray(values)
            if len(values) != target.n_frames:
                raise ValueError(
                    f"label {name!r} has {len(values)} values but {target.n_frames} frames "
                    f"were imported from {', '.join(map(str, trajectories))}"
                )
            target.add_label(name, unit=(label_units or {}).get(name), shape=values.shape[1:])
            target.write_labels(name, np.arange(target.n_frames), values)
    except BaseException:
        if own:  # a failed import into a new store leaves no half-written store behind
            store.close()
            shutil.rmtree(store.path) if store.path.is_dir() else store.path.unlink()
        raise
    if own:
        store.close()
    return store.path
