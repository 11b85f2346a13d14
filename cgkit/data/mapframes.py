"""Apply a CG map to the frames of a store or trajectory, writing CG frames (``cgkit map``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cgkit.data._backend import backend_of
from cgkit.data.cgview import map_frame_positions
from cgkit.data.labels import LabelInfo
from cgkit.data.schema import OK

if TYPE_CHECKING:  # pragma: no cover
    from ase import Atoms

    from cgkit.mapping import CGMap

#: frames mapped per batch
CHUNK_FRAMES = 1000


@dataclass
class _CGBatch:
    """Mapped frames of one chunk: bead arrays plus frame labels with their status."""

    bead_positions: np.ndarray
    cell: np.ndarray | None
    pbc: np.ndarray | None
    bead_forces: np.ndarray | None
    #: label name -> (values, status codes) of the chunk's frames
    labels: dict[str, tuple[np.ndarray, np.ndarray]]
    #: label name -> {frame within the chunk: failure reason}
    failures: dict[str, dict[int, str]]


def is_store_path(path: str | Path) -> bool:
    """Whether ``path`` names a store (``.h5``/``.hdf5``/``.zarr``) rather than a trajectory."""
    try:
        backend_of(path)
    except ValueError:
        return False
    return True


def _store_batches(path: Path, system_name: str | None, cgmap: CGMap, chunk_frames: int):
    """Yield (label infos, batch) for chunks of a store system."""
    from cgkit.data.store import open as open_store

    with open_store(path, "r") as store:
        system = store[_choose_system(store, path, system_name)]
        if system.n_atoms != cgmap.n_atoms:
            raise ValueError(
                f"{system.where}: the system has {system.n_atoms} atoms but the map "
                f"expects {cgmap.n_atoms} atoms"
            )
        infos = {name: info for name, info in system.labels.items() if not info.per_atom}
        reasons = {name: system.failure_reasons(name) for name in infos}
        for start in range(0, system.n_frames, chunk_frames):
            idx = np.arange(start, min(system.n_frames, start + chunk_frames))
            cell, pbc = system.read_cell(idx), system.read_pbc(idx)
            forces = None
            if "forces" in system.frame_fields:
                forces = np.asarray(cgmap.map_forces(system.read_forces(idx)))
            yield (
                infos,
                _CGBatch(
                    map_frame_positions(cgmap, system.read_positions(idx), cell, pbc),
                    cell,
                    pbc,
                    forces,
                    {
                        name: (system.read_labels(name, idx), system.label_status(name, idx))
                        for name in infos
                    },
                    {
                        name: {i - start: why for i, why in failed.items() if i in idx}
                        for name, failed in reasons.items()
                    },
                ),
            )


def _choose_system(store, path, system_name: str | None) -> str:
    if system_name is not None:
        return system_name
    if len(store.system_names) != 1:
        raise ValueError(f"{path}: has systems {store.system_names}; choose one with --system")
    return store.system_names[0]


def _trajectory_atoms(path: Path, cgmap: CGMap, fmt: str | None) -> Iterator[Atoms]:
    from ase.io import iread

    for frame, atoms in enumerate(iread(str(path), index=":", format=fmt)):
        if len(atoms) != cgmap.n_atoms:
            raise ValueError(
                f"{path} frame {frame}: has {len(atoms)} atoms but the map expects "
                f"{cgmap.n_atoms} atoms"
            )
        yield atoms


def _trajectory_batches(path: Path, cgmap: CGMap, fmt: str | None, chunk_frames: int):
    """Yield (label infos, batch) for chunks of an ASE-readable trajectory."""
    chunk: list = []
    energy = LabelInfo("energy", "eV", "", "", "", (), "float64", False)

    def batch(frames):
        periodic = bool(frames[0].pbc.any())
        cell = np.stack([a.cell.array for a in frames]) if periodic else None
        pbc = np.stack([a.pbc for a in frames]) if periodic else None
        results = [a.calc.results if a.calc is not None else {} for a in frames]
        forces = None
        if all("forces" in r for r in results):
            forces = np.asarray(cgmap.map_forces(np.stack([r["forces"] for r in results])))
        labels, infos = {}, {}
        if all("energy" in r for r in results):
            labels["energy"] = (
                np.array([r["energy"] for r in results]),
                np.full(len(frames), OK, dtype=np.int8),
            )
            infos["energy"] = energy
        positions = np.stack([a.positions for a in frames])
        return infos, _CGBatch(
            map_frame_positions(cgmap, positions, cell, pbc), cell, pbc, forces, labels, {}
        )

    for atoms in _trajectory_atoms(path, cgmap, fmt):
        chunk.append(atoms)
        if len(chunk) == chunk_frames:
            yield batch(chunk)
            chunk = []
    if chunk:
        yield batch(chunk)


def map_frames(
    source: str | Path,
    cgmap: CGMap,
    out: str | Path,
    *,
    system: str | None = None,
    output_system: str = "cg",
    format: str | None = None,
    chunk_frames: int = CHUNK_FRAMES,
    overwrite: bool = False,
) -> Path:
    """Map every frame of ``source`` through ``cgmap`` and write the bead frames to ``out``.

    Parameters
    ----------
    source : str or Path
        A store (``*.h5``/``*.zarr``; choose the system with ``system`` when it has several)
        or any trajectory ASE reads.
    cgmap : CGMap
        Map whose atom count equals the source's.
    out : str or Path
        A new store (system ``output_system`` of dummy atoms ``X`` with the bead masses;
        cell/pbc, mapped forces and the frame labels with their ok status carried over)
        or a trajectory file written with :func:`ase.io.write` (e.g. ``.extxyz``).
    format : str, optional
        ASE format of a trajectory ``source``.
    chunk_frames : int
        Frames mapped per batch.
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    Path
    """
    from cgkit.data.store import create

    source, out = Path(source), Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: already exists (pass overwrite=True to replace it)")
    if is_store_path(source):
        batches = _store_batches(source, system, cgmap, chunk_frames)
    else:
        if not source.exists():
            raise FileNotFoundError(f"{source}: no such trajectory")
        batches = _trajectory_batches(source, cgmap, format, chunk_frames)
    if not is_store_path(out):
        _write_trajectory(batches, cgmap, out)
        return out
    bead_masses = cgmap.bead_masses
    provenance = {"mapped_from": str(source), "map": cgmap.to_dict()}
    with create(out, provenance=provenance, overwrite=overwrite) as store:
        target = store.add_system(
            output_system,
            np.zeros(cgmap.n_beads, dtype=int),
            masses=bead_masses if bead_masses is not None else np.ones(cgmap.n_beads),
        )
        for infos, batch in batches:
            for name, info in infos.items():
                target.add_label(
                    name,
                    unit=info.unit,
                    method=info.method,
                    program=info.program,
                    program_version=info.program_version,
                    shape=info.shape,
                    dtype=info.dtype,
                )
            new = np.asarray(
                target.append_frames(
                    batch.bead_positions, cell=batch.cell, pbc=batch.pbc, forces=batch.bead_forces
                )
            )
            for name, (values, status) in batch.labels.items():
                ok = status == OK
                target.write_labels(name, new[ok], values[ok])
                for k, reason in batch.failures.get(name, {}).items():
                    target.mark_failed(name, int(new[k]), reason)
    return out


def _write_trajectory(batches, cgmap: CGMap, out: Path) -> None:
    """Write mapped batches as bead Atoms (symbol X, bead masses/types) with ASE."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    images = []
    masses = cgmap.bead_masses if cgmap.bead_masses is not None else np.ones(cgmap.n_beads)
    for _infos, batch in batches:
        for k, positions in enumerate(batch.bead_positions):
            beads = Atoms(
                numbers=np.zeros(cgmap.n_beads, dtype=int),
                positions=positions,
                masses=masses,
                cell=None if batch.cell is None else batch.cell[k],
                pbc=False if batch.pbc is None else batch.pbc[k],
            )
            beads.new_array("bead_types", np.array(cgmap.bead_types, dtype=str))
            results = {}
            for name, (values, status) in batch.labels.items():
                if status[k] == OK:
                    (results if name == "energy" else beads.info)[name] = values[k]
            if batch.bead_forces is not None:
                results["forces"] = batch.bead_forces[k]
            if results:
                beads.calc = SinglePointCalculator(beads, **results)
            images.append(beads)
    write(str(out), images)
