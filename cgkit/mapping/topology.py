"""CG topology: bead bonds from atom bonds, and angles/dihedrals enumerated from bonds."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def check_pairs(pairs, n: int, what: str) -> np.ndarray:
    """Validate 0-based index pairs; return them sorted (i < j), unique, shape (K, 2).

    Raises naming the offending pair when an index is out of range or a pair joins an
    ``what`` ("atom"/"bead") to itself.
    """
    pairs = np.asarray(pairs, dtype=int)
    if pairs.size == 0:
        return np.zeros((0, 2), dtype=int)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f"{what} bonds must have shape (K, 2), got {pairs.shape}")
    bad = np.any((pairs < 0) | (pairs >= n), axis=1)
    if bad.any():
        i, j = pairs[bad][0]
        raise ValueError(f"{what} bond ({i}, {j}) has an index outside 0..{n - 1}")
    same = pairs[:, 0] == pairs[:, 1]
    if same.any():
        raise ValueError(f"{what} bond joins {what} {pairs[same][0, 0]} to itself")
    return np.unique(np.sort(pairs, axis=1), axis=0)


def bead_bonds_from_atom_bonds(weights, atom_bonds) -> np.ndarray:
    """Bead pairs (I < J) joined by at least one atom bond crossing the bead boundary.

    An atom belongs to every bead in which it has non-zero weight, so a bond between an
    atom of bead I and an atom of bead J (I != J) bonds I and J.

    Parameters
    ----------
    weights : ndarray or scipy.sparse matrix, shape (M, N)
    atom_bonds : ndarray of int, shape (K, 2)

    Returns
    -------
    ndarray of int, shape (L, 2), sorted rows and lexicographic order
    """
    membership = sp.csr_matrix(weights, dtype=float, copy=True)
    membership.data[:] = 1.0
    n_atoms = membership.shape[1]
    atom_bonds = np.asarray(atom_bonds, dtype=int).reshape(-1, 2)
    adjacency = sp.csr_matrix(
        (np.ones(len(atom_bonds)), (atom_bonds[:, 0], atom_bonds[:, 1])), shape=(n_atoms, n_atoms)
    )
    adjacency = adjacency + adjacency.T
    bead_adjacency = (membership @ adjacency @ membership.T).tocoo()
    keep = bead_adjacency.row < bead_adjacency.col
    pairs = np.stack([bead_adjacency.row[keep], bead_adjacency.col[keep]], axis=1)
    return np.unique(pairs.astype(int), axis=0).reshape(-1, 2)


def _neighbours(bonds: np.ndarray, n: int) -> list[list[int]]:
    neighbours: list[list[int]] = [[] for _ in range(n)]
    for i, j in np.asarray(bonds, dtype=int).reshape(-1, 2):
        neighbours[i].append(int(j))
        neighbours[j].append(int(i))
    return [sorted(set(x)) for x in neighbours]


def angles_from_bonds(bonds, n: int) -> np.ndarray:
    """All bonded triples (I, J, K), J the central bead and I < K.

    Returns
    -------
    ndarray of int, shape (A, 3)
    """
    neighbours = _neighbours(bonds, n)
    angles = [
        (i, j, k)
        for j in range(n)
        for a, i in enumerate(neighbours[j])
        for k in neighbours[j][a + 1 :]
    ]
    return np.array(sorted(angles), dtype=int).reshape(-1, 3)


def dihedrals_from_bonds(bonds, n: int) -> np.ndarray:
    """All bonded quadruples (I, J, K, L) along paths I-J-K-L of distinct beads.

    Each dihedral is listed once, in the direction with J < K.

    Returns
    -------
    ndarray of int, shape (D, 4)
    """
    neighbours = _neighbours(bonds, n)
    dihedrals = set()
    for j in range(n):
        for k in neighbours[j]:
            if k <= j:
                continue
            for i in neighbours[j]:
                if i == k:
                    continue
                for m in neighbours[k]:
                    if m not in (i, j):
                        dihedrals.add((i, j, k, m))
    return np.array(sorted(dihedrals), dtype=int).reshape(-1, 4)
