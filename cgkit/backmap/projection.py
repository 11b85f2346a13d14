"""Make backmapped atoms consistent with the CG beads they came from."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from cgkit.mapping.pbc import minimum_image


def project_to_beads(positions, cgmap, bead_positions, cell=None, pbc=None) -> np.ndarray:
    """Smallest displacement of the atoms that makes them map exactly onto the beads.

    Solves ``min |d|^2`` subject to ``W (r + d) = R`` (``W`` the map's weights), i.e.
    ``d = W^T (W W^T)^{-1} (R - W r)``; for maps without shared atoms this shifts each
    bead's atoms rigidly by the bead's residual.

    Parameters
    ----------
    positions : ndarray (N, 3), Å
    cgmap : cgkit.mapping.CGMap
    bead_positions : ndarray (M, 3), Å
    cell : ndarray (3, 3) or None; pbc : bool or (3,) bools

    Returns
    -------
    ndarray (N, 3), Å
    """
    positions = np.asarray(positions, dtype=float)
    mapped = cgmap.map_positions(positions, cell=cell, pbc=pbc)
    residual = np.asarray(bead_positions, dtype=float) - mapped
    if cell is not None:
        residual = minimum_image(residual[None], np.asarray(cell, dtype=float),
                                 True if pbc is None else pbc)[0]  # fmt: skip
    weights = sp.csr_matrix(cgmap.sparse_weights)
    gram = (weights @ weights.T).tocsc()
    solve = splu(gram)
    return positions + weights.T @ solve.solve(residual)


class BeadConstraint:
    """Rigid shift of a bead's placement sequence that puts its mapped position on the bead.

    DBM places the atoms of bead ``b`` (its *sequence*) in a frame centred on the bead. The
    map's row ``b`` may also weigh atoms of other sequences (e.g. backbone atoms shared out
    by a centre-of-mass map). Given the other atoms' current positions, the shift ::

        t = -(sum_{i in seq} w_i x_i + sum_{i not in seq, placed} w_i x_i) / sum_{i in seq} w_i

    of the sequence (local coordinates ``x``, bead at the origin) makes the bead map exactly
    onto its target, before candidates are compared by energy; atoms not placed yet count
    as sitting on the bead.

    Parameters
    ----------
    cgmap : cgkit.mapping.CGMap
    sequences : list of ndarray of int
        Atoms of each bead in placement order.
    """

    def __init__(self, cgmap, sequences):
        weights = sp.csr_matrix(cgmap.sparse_weights)
        self.sequence_weights, self.other_atoms, self.other_weights = [], [], []
        for bead, seq in enumerate(sequences):
            row = weights[bead]
            position = {int(atom): k for k, atom in enumerate(seq)}
            in_seq = np.array([int(a) in position for a in row.indices], dtype=bool)
            w_seq = np.zeros(len(seq))
            w_seq[[position[int(a)] for a in row.indices[in_seq]]] = row.data[in_seq]
            self.sequence_weights.append(w_seq)
            self.other_atoms.append(row.indices[~in_seq])
            self.other_weights.append(row.data[~in_seq])

    def terms(self, beads, positions, placed, centres, rotations, cell=None):
        """Weights and fixed offsets of ``beads`` in their local (unrotated) frames.

        Parameters
        ----------
        beads : ndarray (B,), sequences of equal length L
        positions : ndarray (N, 3) Å; placed : ndarray of bool (N,)
        centres : ndarray (B, 3) Å; rotations : ndarray (B, 3, 3) (``global = local @ R``)
        cell : ndarray (3, 3) or None

        Returns
        -------
        weights : ndarray (B, L)       map weights of the sequence atoms
        scale : ndarray (B,)           1 / their sum (0 where the sequence is not in the row)
        offset : ndarray (B, 3)        sum of ``w_i x_i`` over the placed other atoms, Å
        """
        weights = np.stack([self.sequence_weights[b] for b in beads])
        total = weights.sum(1)
        scale = np.divide(1.0, total, out=np.zeros_like(total), where=total > 1e-12)
        offset = np.zeros((len(beads), 3))
        for k, bead in enumerate(beads):
            atoms, w = self.other_atoms[bead], self.other_weights[bead]
            keep = placed[atoms]
            if keep.any():
                d = positions[atoms[keep]] - centres[k]
                if cell is not None:
                    d = minimum_image(d[None], cell)[0]
                offset[k] = (w[keep, None] * (d @ rotations[k].T)).sum(0)
        return weights, scale, offset
