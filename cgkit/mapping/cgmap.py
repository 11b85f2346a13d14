"""The linear coarse-graining map ``R = W r`` from N atoms to M beads.

``W`` (M, N) is non-negative with rows summing to 1: bead ``I`` sits at the weighted
centre ``R_I = sum_i W_Ii r_i`` of its atoms. An atom may carry weight in several beads
(shared atoms, e.g. Fritz et al.'s polystyrene model); how forces and masses are then
split is fixed by the *share* matrix ``C`` with ``C_Ii = W_Ii / sum_J W_Ji``: every
mapped atom distributes exactly 1 over its beads (``C_Ii = 1`` for an atom in one bead).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from cgkit.mapping import topology
from cgkit.mapping.apply import apply_linear, apply_periodic, apply_torch, as_frames, is_tensor
from cgkit.mapping.groups import positive_masses, weights_from_groups

#: rows whose sum is within this of 1 are kept bit-for-bit (lossless round trips)
_ROW_SUM_TOL = 1e-12


class CGMap:
    """Linear map of N atoms onto M beads.

    Parameters
    ----------
    weights : array-like or scipy.sparse matrix, shape (M, N)
        Non-negative weights; each row is normalised to sum 1 (a row already summing to
        1 within 1e-12 is kept unchanged).
    masses : array-like, shape (N,), amu, optional
        Atomic masses (used for ``bead_masses`` and the beads' ``ase.Atoms``).
    bead_names, bead_types : sequence of str, length M, optional
        Default ``"B0", "B1", ...`` and ``"B"``.
    atom_bonds : array-like of int, shape (K, 2), optional
        0-based bonded atom pairs; bead bonds are derived from them unless given.
    bead_bonds : array-like of int, shape (L, 2), optional
        Explicit CG bonds (0-based bead pairs).
    symbols : sequence of str, length N, optional
        Element of each atom.
    allow_unmapped : bool
        Allow atoms with no weight in any bead (decimation maps drop atoms).
    """

    def __init__(
        self,
        weights,
        *,
        masses=None,
        bead_names: Sequence[str] | None = None,
        bead_types: Sequence[str] | None = None,
        atom_bonds=None,
        bead_bonds=None,
        symbols: Sequence[str] | None = None,
        allow_unmapped: bool = False,
    ):
        matrix = sp.csr_matrix(weights, dtype=float, copy=True)
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        n_beads, n_atoms = matrix.shape
        if n_beads < 1 or n_atoms < 1:
            raise ValueError(
                f"a map needs at least one bead and one atom, got shape {matrix.shape}"
            )
        coo = matrix.tocoo()
        if not np.all(np.isfinite(coo.data)):
            k = int(np.flatnonzero(~np.isfinite(coo.data))[0])
            raise ValueError(f"weight of atom {coo.col[k]} in bead {coo.row[k]} is not finite")
        if np.any(coo.data < 0):
            k = int(np.flatnonzero(coo.data < 0)[0])
            raise ValueError(
                f"weight of atom {coo.col[k]} in bead {coo.row[k]} is negative ({coo.data[k]})"
            )
        row_sums = np.asarray(matrix.sum(axis=1)).ravel()
        if np.any(row_sums <= 0):
            bead = int(np.flatnonzero(row_sums <= 0)[0])
            raise ValueError(f"bead {bead} has zero total weight (it contains no atom)")
        scale = np.where(np.abs(row_sums - 1.0) > _ROW_SUM_TOL, 1.0 / row_sums, 1.0)
        matrix = sp.csr_matrix(sp.diags(scale) @ matrix)
        matrix.sort_indices()
        counts = np.bincount(matrix.indices, minlength=n_atoms)
        if not allow_unmapped and np.any(counts == 0):
            atom = int(np.flatnonzero(counts == 0)[0])
            raise ValueError(
                f"atom {atom} is in no bead ({int((counts == 0).sum())} unmapped atoms in all)"
            )
        self._matrix = matrix
        self.allow_unmapped = bool(allow_unmapped)
        self.masses = None if masses is None else self._check_masses(masses, n_atoms)
        self.bead_names = self._check_names(bead_names, n_beads, "bead_names", "B{}")
        self.bead_types = self._check_names(bead_types, n_beads, "bead_types", "B")
        self.symbols = None if symbols is None else self._check_symbols(symbols, n_atoms)
        self.atom_bonds = None
        if atom_bonds is not None:
            self.atom_bonds = topology.check_pairs(atom_bonds, n_atoms, "atom")
        if bead_bonds is not None:
            self.bead_bonds = topology.check_pairs(bead_bonds, n_beads, "bead")
        elif self.atom_bonds is not None:
            self.bead_bonds = topology.bead_bonds_from_atom_bonds(matrix, self.atom_bonds)
        else:
            self.bead_bonds = None
        self._dense = None

    # ------------------------------------------------------------------ validation
    @staticmethod
    def _check_masses(masses, n_atoms: int) -> np.ndarray:
        masses = positive_masses(masses, n_atoms).copy()
        masses.flags.writeable = False
        return masses

    @staticmethod
    def _check_names(names, n: int, what: str, default: str) -> tuple[str, ...]:
        if names is None:
            return tuple(default.format(i) for i in range(n))
        if isinstance(names, str):
            raise TypeError(f"{what} must be a sequence of {n} strings, not one string")
        names = tuple(str(name) for name in names)
        if len(names) != n:
            raise ValueError(f"{what} has {len(names)} entries but the map has {n} beads")
        return names

    @staticmethod
    def _check_symbols(symbols, n_atoms: int) -> tuple[str, ...]:
        from ase.data import atomic_numbers

        symbols = tuple(str(s) for s in symbols)
        if len(symbols) != n_atoms:
            raise ValueError(f"symbols has {len(symbols)} entries but the map has {n_atoms} atoms")
        for atom, symbol in enumerate(symbols):
            if symbol not in atomic_numbers:
                raise ValueError(f"atom {atom} has unknown element {symbol!r}")
        return symbols

    # ------------------------------------------------------------------ properties
    @property
    def n_atoms(self) -> int:
        """Number of atoms N."""
        return self._matrix.shape[1]

    @property
    def n_beads(self) -> int:
        """Number of beads M."""
        return self._matrix.shape[0]

    @property
    def weights(self) -> np.ndarray:
        """Dense weight matrix W, shape (M, N), rows summing to 1 (read-only)."""
        if self._dense is None:
            self._dense = self._matrix.toarray()
            self._dense.flags.writeable = False
        return self._dense

    @property
    def sparse_weights(self) -> sp.csr_matrix:
        """W as a scipy CSR matrix (a copy)."""
        return self._matrix.copy()

    @property
    def shares(self) -> sp.csr_matrix:
        """Share matrix C (M, N), ``C_Ii = W_Ii / sum_J W_Ji``: mapped atoms' columns sum to 1."""
        column_sums = np.asarray(self._matrix.sum(axis=0)).ravel()
        inverse = np.divide(1.0, column_sums, out=np.zeros_like(column_sums), where=column_sums > 0)
        return sp.csr_matrix(self._matrix @ sp.diags(inverse))

    @property
    def shared_atoms(self) -> np.ndarray:
        """Indices of atoms with weight in more than one bead."""
        return np.flatnonzero(np.bincount(self._matrix.indices, minlength=self.n_atoms) > 1)

    @property
    def bead_masses(self) -> np.ndarray | None:
        """Bead masses ``sum_i C_Ii m_i``, shape (M,), amu; None without atomic masses.

        Their sum is the total mass of the mapped atoms (shared atoms are split by share).
        """
        if self.masses is None:
            return None
        return self.shares @ self.masses

    @property
    def bead_angles(self) -> np.ndarray | None:
        """Bead triples (I, J, K), J central, enumerated from ``bead_bonds``; shape (A, 3)."""
        if self.bead_bonds is None:
            return None
        return topology.angles_from_bonds(self.bead_bonds, self.n_beads)

    @property
    def bead_dihedrals(self) -> np.ndarray | None:
        """Bead quadruples (I, J, K, L) along bonded paths from ``bead_bonds``; shape (D, 4)."""
        if self.bead_bonds is None:
            return None
        return topology.dihedrals_from_bonds(self.bead_bonds, self.n_beads)

    def atoms_of_bead(self, bead: int) -> np.ndarray:
        """0-based indices of the atoms with non-zero weight in ``bead``."""
        start, stop = self._matrix.indptr[bead], self._matrix.indptr[bead + 1]
        return self._matrix.indices[start:stop].copy()

    def __repr__(self) -> str:
        shared = len(self.shared_atoms)
        extra = f", {shared} shared atoms" if shared else ""
        return f"CGMap(n_atoms={self.n_atoms}, n_beads={self.n_beads}{extra})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, CGMap):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None

    # ------------------------------------------------------------------ mapping
    def map_positions(self, positions, cell=None, pbc=None):
        """Bead centres ``R = W r``, vectorised over frames.

        Parameters
        ----------
        positions : ndarray or torch.Tensor, shape (F, N, 3) or (N, 3), Å
            Atomic positions. Tensors are mapped differentiably (no periodic boundaries).
        cell : ndarray, shape (3, 3) or (F, 3, 3), Å, optional
            Cell vectors as rows. With a cell, each bead's atoms are unwrapped by minimum
            image relative to the bead's heaviest-weight atom before averaging (exact in
            triclinic cells) and the bead centres are wrapped back into the cell.
        pbc : bool or sequence of 3 bool, optional
            Periodic directions; default all periodic when a cell is given.

        Returns
        -------
        bead_positions : same type as input, shape (F, M, 3) or (M, 3), Å
        """
        if is_tensor(positions):
            if cell is not None:
                raise ValueError("periodic mapping of torch tensors is not supported; pass numpy")
            return apply_torch(self._matrix, positions, "positions")
        frames, single = as_frames(positions, self.n_atoms, "positions")
        periodic = cell is not None and np.any(True if pbc is None else pbc)
        if not periodic:
            beads = apply_linear(self._matrix, frames)
        else:
            beads = apply_periodic(self._matrix, frames, cell, True if pbc is None else pbc)
        return beads[0] if single else beads

    def map_forces(self, forces):
        """Bead forces ``F_I = sum_i C_Ii f_i`` with the share matrix C.

        ``C_Ii = 1`` for an atom in exactly one bead; a shared atom's force is split over
        its beads in proportion to its weights, so the total force is conserved (atoms of
        no bead, as in decimation maps, do not contribute).

        Parameters
        ----------
        forces : ndarray or torch.Tensor, shape (F, N, 3) or (N, 3), eV/Å

        Returns
        -------
        bead_forces : same type as input, shape (F, M, 3) or (M, 3), eV/Å
        """
        if is_tensor(forces):
            return apply_torch(self.shares, forces, "forces")
        frames, single = as_frames(forces, self.n_atoms, "forces")
        beads = apply_linear(self.shares, frames)
        return beads[0] if single else beads

    def __call__(self, atoms):
        """Map an ``ase.Atoms`` onto an ``ase.Atoms`` of beads.

        Beads get positions at the weighted centres (molecules made whole across periodic
        boundaries), ``bead_masses`` (from the map, else from ``atoms``), the cell and pbc
        of ``atoms``, atomic number 0 and ``arrays["bead_types"]``/``arrays["bead_names"]``.
        """
        from ase import Atoms

        if len(atoms) != self.n_atoms:
            raise ValueError(
                f"Atoms has {len(atoms)} atoms but the map expects {self.n_atoms} atoms"
            )
        pbc = np.asarray(atoms.pbc, dtype=bool)
        cell = atoms.cell.array if pbc.any() else None
        positions = self.map_positions(atoms.positions, cell=cell, pbc=pbc if pbc.any() else None)
        masses = self.masses if self.masses is not None else atoms.get_masses()
        beads = Atoms(
            numbers=np.zeros(self.n_beads, dtype=int),
            positions=positions,
            masses=self.shares @ masses,
            cell=atoms.cell,
            pbc=atoms.pbc,
        )
        beads.new_array("bead_types", np.array(self.bead_types, dtype=str))
        beads.new_array("bead_names", np.array(self.bead_names, dtype=str))
        return beads

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_groups(
        cls,
        groups: Sequence[Sequence[int]],
        weights="mass",
        masses=None,
        bead_names: Sequence[str] | None = None,
        bead_types: Sequence[str] | None = None,
        *,
        n_atoms: int | None = None,
        atom_bonds=None,
        symbols: Sequence[str] | None = None,
    ) -> CGMap:
        """Build a map from one list of 0-based atom indices per bead.

        Parameters
        ----------
        groups : sequence of sequences of int
            Atoms of each bead.
        weights : {"mass", "center"} or sequence of arrays or ndarray (M, N)
            ``"mass"``: centre of mass (needs ``masses``); ``"center"``: geometric centre;
            one array of raw weights per group (aligned with the group's atoms); or an
            explicit (M, N) matrix whose non-zeros must lie inside the groups. Named
            schemes forbid an atom in two groups; explicit weights may share atoms.
        masses : array-like, shape (N,), amu, optional
        bead_names, bead_types : sequence of str, length M, optional
        n_atoms : int, optional
            Total atom count (default ``len(masses)`` or the largest index + 1).
        atom_bonds : array-like of int, shape (K, 2), optional
        symbols : sequence of str, length N, optional
        """
        matrix = weights_from_groups(groups, weights, masses, n_atoms, symbols)
        return cls(
            matrix,
            masses=masses,
            bead_names=bead_names,
            bead_types=bead_types,
            atom_bonds=atom_bonds,
            symbols=symbols,
        )

    @classmethod
    def decimation(cls, atom_indices: Sequence[int], n_atoms: int, masses=None) -> CGMap:
        """Map keeping the given atoms as beads (bead ``k`` = atom ``atom_indices[k]``).

        The other atoms are dropped: they carry no weight and no force.

        Parameters
        ----------
        atom_indices : sequence of int, length M
            0-based indices of the kept atoms, in bead order; no repeats.
        n_atoms : int
            Number of atoms N of the full system.
        masses : array-like, shape (N,), amu, optional

        Returns
        -------
        CGMap
            Beads named ``"A<atom index>"``; ``allow_unmapped`` is True.
        """
        atom_indices = np.asarray(atom_indices, dtype=int).ravel()
        if atom_indices.size == 0:
            raise ValueError("decimation needs at least one atom index")
        bad = (atom_indices < 0) | (atom_indices >= n_atoms)
        if bad.any():
            raise ValueError(f"atom index {atom_indices[bad][0]} is outside 0..{n_atoms - 1}")
        values, counts = np.unique(atom_indices, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f"atom {values[counts > 1][0]} is kept twice")
        matrix = sp.csr_matrix(
            (np.ones(atom_indices.size), (np.arange(atom_indices.size), atom_indices)),
            shape=(atom_indices.size, n_atoms),
        )
        return cls(
            matrix,
            masses=masses,
            bead_names=[f"A{i}" for i in atom_indices],
            allow_unmapped=True,
        )

    def repeat(self, n_copies: int) -> CGMap:
        """Block-diagonal map of ``n_copies`` consecutive copies (one per molecule).

        Parameters
        ----------
        n_copies : int
            Number of molecules, stored one after the other (atoms and beads alike).

        Returns
        -------
        CGMap
            ``n_copies * n_atoms`` atoms and ``n_copies * n_beads`` beads; names, types,
            masses, symbols and bonds tiled (bond indices shifted per copy).
        """
        if n_copies < 1:
            raise ValueError(f"n_copies must be >= 1, got {n_copies}")

        def tile_pairs(pairs, stride):
            if pairs is None:
                return None
            return np.concatenate([pairs + k * stride for k in range(n_copies)])

        return CGMap(
            sp.block_diag([self._matrix] * n_copies, format="csr"),
            masses=None if self.masses is None else np.tile(self.masses, n_copies),
            bead_names=self.bead_names * n_copies,
            bead_types=self.bead_types * n_copies,
            atom_bonds=tile_pairs(self.atom_bonds, self.n_atoms),
            bead_bonds=tile_pairs(self.bead_bonds, self.n_beads),
            symbols=None if self.symbols is None else self.symbols * n_copies,
            allow_unmapped=self.allow_unmapped,
        )

    # ------------------------------------------------------------------ I/O
    def to_dict(self) -> dict:
        """JSON-able description (sparse weights as exact floats); inverse of :meth:`from_dict`."""
        from cgkit.mapping.formats import map_to_dict

        return map_to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CGMap:
        """Rebuild a map from :meth:`to_dict` output."""
        from cgkit.mapping.formats import map_from_dict

        return map_from_dict(data)

    @classmethod
    def read(cls, path) -> CGMap:
        """Read a map file, detecting its format.

        Formats: cgkit JSON (``write``), the DKL-ECG text format (``n_atoms n_beads`` line,
        header, one line per atom) and the DBM ``[map]`` format (one molecule; use
        :meth:`repeat` for many).
        """
        from cgkit.mapping.formats import read_map

        return read_map(Path(path))

    def write(self, path, format: str | None = None) -> None:
        """Write the map: ``"json"`` (default; lossless) or ``"dkl-ecg"`` (text format)."""
        from cgkit.mapping.formats import write_map

        write_map(self, Path(path), format=format)
