"""Periodic boundaries for mapping: minimum images in (triclinic) cells and wrapping.

All functions take cell vectors as rows, ``cell`` of shape (3, 3) or (F, 3, 3) in Å (ASE
convention), and ``pbc`` as three booleans. Directions without periodicity are left alone.
"""

from __future__ import annotations

import itertools
from collections import deque

import numpy as np

_IMAGE_SHIFTS = np.array(list(itertools.product((-1, 0, 1), repeat=3)), dtype=float)


def _as_cell(cell, n_frames: int) -> np.ndarray:
    """Return cells of shape (F, 3, 3), broadcasting a single cell."""
    cell = np.asarray(cell, dtype=float)
    if cell.shape == (3,):
        cell = np.diag(cell)
    if cell.shape == (3, 3):
        cell = np.broadcast_to(cell, (n_frames, 3, 3))
    if cell.shape != (n_frames, 3, 3):
        raise ValueError(f"cell must have shape (3, 3) or ({n_frames}, 3, 3), got {cell.shape}")
    return cell


def _as_pbc(pbc) -> np.ndarray:
    pbc = np.broadcast_to(np.asarray(True if pbc is None else pbc, dtype=bool), (3,))
    return pbc.copy()


def _check_cell(cell: np.ndarray, pbc: np.ndarray) -> None:
    for axis in np.flatnonzero(pbc):
        if np.any(np.linalg.norm(cell[:, axis], axis=-1) == 0):
            raise ValueError(f"cell vector {axis} is zero but pbc[{axis}] is True")


def _safe_cell(cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """Cells with non-periodic axes replaced by unit vectors (keeps them invertible)."""
    safe_cell = cell.copy()
    for axis in np.flatnonzero(~pbc):
        safe_cell[:, axis] = 0.0
        safe_cell[:, axis, axis] = 1.0
    return safe_cell


def _reduced_cell(cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    """Minkowski-reduced bases (F, 3, 3) of the same lattices (shortest, most orthogonal)."""
    from ase.geometry.minkowski_reduction import minkowski_reduce

    safe_cell = _safe_cell(cell, pbc)
    unique, inverse = np.unique(safe_cell.reshape(-1, 9), axis=0, return_inverse=True)
    reduced = np.stack([np.asarray(minkowski_reduce(c.reshape(3, 3), pbc)[0]) for c in unique])
    return reduced[inverse.reshape(-1)]


def minimum_image(displacements, cell, pbc=True) -> np.ndarray:
    """Shortest periodic image of displacement vectors, exact for triclinic cells.

    Fractional coordinates in the Minkowski-reduced basis are rounded first; a result
    longer than half the smallest cell height is then compared with its 26 neighbouring
    images, which finds the shortest vector for any triclinic cell.

    Parameters
    ----------
    displacements : ndarray, shape (F, K, 3), Å
        Displacement vectors, K per frame.
    cell : ndarray, shape (3, 3) or (F, 3, 3), Å
        Cell vectors as rows.
    pbc : bool or sequence of 3 bool
        Periodic directions.

    Returns
    -------
    ndarray, shape (F, K, 3), Å
    """
    displacements = np.asarray(displacements, dtype=float)
    n_frames = displacements.shape[0]
    cell = _as_cell(cell, n_frames)
    pbc = _as_pbc(pbc)
    if not pbc.any():
        return displacements.copy()
    _check_cell(cell, pbc)
    # rows of `cell` are the lattice vectors; non-periodic axes get a unit vector so the
    # matrix stays invertible, and their fractional shift is forced to 0. In a Minkowski-
    # reduced basis the minimum image is among the 27 images next to the rounded vector.
    safe_cell = _reduced_cell(cell, pbc)
    inverse = np.linalg.inv(safe_cell)
    # batched matmuls (BLAS), 3-6x faster than the equivalent einsum on 10^5 vectors
    fractional = np.matmul(displacements, inverse)
    shift = np.where(pbc, np.round(fractional), 0.0)
    reduced = displacements - np.matmul(shift, safe_cell)
    # a reduced vector shorter than half the smallest periodic cell height is the minimum
    # image; only longer ones (possible in skewed cells) are compared with the 26 neighbours
    heights = 1.0 / np.linalg.norm(inverse, axis=1)  # (F, 3): height along each axis
    half_height = 0.5 * np.where(pbc, heights, np.inf).min(axis=1)
    lengths = np.linalg.norm(reduced, axis=-1)
    frames, entries = np.nonzero(lengths >= half_height[:, None])
    if frames.size:
        shifts = _IMAGE_SHIFTS[np.all((_IMAGE_SHIFTS == 0) | pbc, axis=1)]
        # the S images of each distinct frame's cell once, then gathered per entry (3x the
        # per-entry einsum when many long vectors share a cell)
        unique_frames, which = np.unique(frames, return_inverse=True)
        images = np.matmul(shifts, safe_cell[unique_frames])  # (U, S, 3)
        candidates = reduced[frames, entries][:, None, :] + images[which]  # (E, S, 3)
        best = np.argmin(np.einsum("esb,esb->es", candidates, candidates), axis=1)
        reduced[frames, entries] = candidates[np.arange(frames.size), best]
    return reduced


def wrap_positions(positions, cell, pbc=True) -> np.ndarray:
    """Wrap positions into the cell (fractional coordinates in [0, 1) along periodic axes).

    Parameters
    ----------
    positions : ndarray, shape (F, K, 3), Å
    cell : ndarray, shape (3, 3) or (F, 3, 3), Å
    pbc : bool or sequence of 3 bool

    Returns
    -------
    ndarray, shape (F, K, 3), Å
    """
    positions = np.asarray(positions, dtype=float)
    cell = _as_cell(cell, positions.shape[0])
    pbc = _as_pbc(pbc)
    if not pbc.any():
        return positions.copy()
    _check_cell(cell, pbc)
    safe_cell = _safe_cell(cell, pbc)
    fractional = np.matmul(positions, np.linalg.inv(safe_cell))
    shift = np.where(pbc, np.floor(fractional), 0.0)
    return positions - np.matmul(shift, safe_cell)


def make_whole(positions, cell, bonds, pbc=True) -> np.ndarray:
    """Unwrap molecules split by periodic boundaries by walking the bond graph.

    Each connected component keeps its lowest-index atom in place; every other atom is
    placed at the minimum image of its bond partner that was reached first (breadth-first).

    Parameters
    ----------
    positions : ndarray, shape (F, N, 3) or (N, 3), Å
    cell : ndarray, shape (3, 3) or (F, 3, 3), Å
    bonds : ndarray of int, shape (K, 2)
        0-based atom pairs.
    pbc : bool or sequence of 3 bool

    Returns
    -------
    ndarray, same shape as ``positions``, Å
    """
    positions = np.asarray(positions, dtype=float)
    single = positions.ndim == 2
    frames = positions[None] if single else positions
    n_atoms = frames.shape[1]
    bonds = np.asarray(bonds, dtype=int).reshape(-1, 2)
    if bonds.size and (bonds.min() < 0 or bonds.max() >= n_atoms):
        raise ValueError(f"bond atom index out of range for {n_atoms} atoms")
    neighbours: list[list[int]] = [[] for _ in range(n_atoms)]
    for i, j in bonds:
        neighbours[i].append(int(j))
        neighbours[j].append(int(i))
    parent = np.full(n_atoms, -1)
    order = []
    seen = np.zeros(n_atoms, dtype=bool)
    for root in range(n_atoms):
        if seen[root]:
            continue
        seen[root] = True
        queue = deque([root])
        while queue:
            atom = queue.popleft()
            for other in neighbours[atom]:
                if not seen[other]:
                    seen[other] = True
                    parent[other] = atom
                    order.append(other)
                    queue.append(other)
    whole = frames.copy()
    if order:
        order = np.asarray(order)
        # process breadth-first layers together: a child's parent is always placed earlier
        depth = np.zeros(n_atoms, dtype=int)
        for atom in order:
            depth[atom] = depth[parent[atom]] + 1
        cell_f = _as_cell(cell, frames.shape[0])
        for level in range(1, depth.max() + 1):
            atoms = order[depth[order] == level]
            step = minimum_image(frames[:, atoms] - frames[:, parent[atoms]], cell_f, pbc)
            whole[:, atoms] = whole[:, parent[atoms]] + step
    return whole[0] if single else whole
