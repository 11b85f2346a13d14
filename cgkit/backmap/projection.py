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
