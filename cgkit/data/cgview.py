"""CG view of a system: bead positions computed on the fly through a stored CGMap."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ase import Atoms

    from cgkit.data.system import System
    from cgkit.mapping import CGMap


def map_frame_positions(cgmap: CGMap, positions, cell=None, pbc=None) -> np.ndarray:
    """Bead positions (F, M, 3) in Å of frames (F, N, 3) with optional per-frame cell/pbc.

    Frames are mapped in one vectorised call per distinct pbc (usually one), with the
    per-frame cells (F, 3, 3), so periodic molecules are made whole by the map.
    """
    positions = np.asarray(positions, dtype=float)
    if cell is None:
        return np.asarray(cgmap.map_positions(positions))
    cell = np.asarray(cell, dtype=float)
    pbc = np.broadcast_to(np.asarray(True if pbc is None else pbc, dtype=bool), (len(cell), 3))
    out = np.empty((len(positions), int(cgmap.n_beads), 3))
    unique, inverse = np.unique(pbc, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    for k, flags in enumerate(unique):
        rows = np.flatnonzero(inverse == k)
        out[rows] = cgmap.map_positions(
            positions[rows], cell=cell[rows] if flags.any() else None, pbc=flags
        )
    return out


class CGView:
    """Frames of ``system`` seen through ``cgmap``; get it from ``system.cg(map_name)``.

    Nothing is stored: bead positions are mapped from the atomistic frames on each read
    (with the frame's cell and pbc, so molecules split by periodic boundaries are made
    whole by the map). Labels are those of the underlying frames.
    """

    def __init__(self, system: System, map_name: str, cgmap: CGMap):
        self.system = system
        self.map_name = map_name
        self.cgmap = cgmap

    @property
    def n_frames(self) -> int:
        return self.system.n_frames

    def __len__(self) -> int:
        return self.system.n_frames

    @property
    def n_beads(self) -> int:
        return int(self.cgmap.n_beads)

    def __repr__(self) -> str:
        return (
            f"<CGView {self.system.name!r} via {self.map_name!r}: "
            f"{self.n_beads} beads, {self.n_frames} frames>"
        )

    def _map(self, positions: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return map_frame_positions(
            self.cgmap, positions, self.system.read_cell(idx), self.system.read_pbc(idx)
        )

    def bead_positions(self, indices=None) -> np.ndarray:
        """Bead positions (len(indices), M, 3) in Å (batched read, then mapped)."""
        idx = self.system._indices(indices)
        positions = self.system.read_positions(idx)
        return self._map(positions, idx)

    def bead_forces(self, indices=None) -> np.ndarray:
        """Forces mapped onto beads (len(indices), M, 3) in eV/Å."""
        idx = self.system._indices(indices)
        return np.asarray(self.cgmap.map_forces(self.system.read_forces(idx)))

    def read_labels(self, name: str, indices=None) -> np.ndarray:
        """Label values of the underlying frames (see :meth:`System.read_labels`)."""
        return self.system.read_labels(name, indices)

    def label_status(self, name: str, indices=None) -> np.ndarray:
        """Label status of the underlying frames (see :meth:`System.label_status`)."""
        return self.system.label_status(name, indices)

    def ok_frames(self, *names: str) -> np.ndarray:
        """Frames whose labels ``names`` are all ok."""
        return self.system.ok_frames(*names)

    def to_atoms(self, index: int) -> Atoms:
        """Frame ``index`` as bead :class:`ase.Atoms` (``cgmap(atoms)``), labels in ``info``."""
        atoms = self.system.to_atoms(index)
        beads = self.cgmap(atoms)
        for key, value in atoms.info.items():
            beads.info.setdefault(key, value)
        return beads
