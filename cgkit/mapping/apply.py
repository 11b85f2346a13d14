"""Applying a sparse weight matrix to frames: dense/sparse GEMM, torch, periodic cells."""

from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp

from cgkit.mapping.pbc import minimum_image, wrap_positions

#: below this many matrix entries the map is applied as one dense GEMM
DENSE_LIMIT = 200_000
#: atom-bead entries per chunk of frames in periodic mapping (bounds memory)
PERIODIC_CHUNK = 1_000_000


def is_tensor(array) -> bool:
    """True for a torch tensor, without importing torch (a tensor implies torch is loaded)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(array, torch.Tensor)


def check_finite(array: np.ndarray, what: str) -> None:
    """Raise naming the first frame/atom of ``array`` (F, N, 3) holding a NaN or inf."""
    bad = ~np.isfinite(array)
    if bad.any():
        frame, atom, _ = np.argwhere(bad)[0]
        raise ValueError(
            f"non-finite {what} (NaN or inf) in frame {frame}, atom {atom}: {array[frame, atom]}"
        )


def as_frames(values, n_atoms: int, what: str) -> tuple[np.ndarray, bool]:
    """Validate ``values`` (F, N, 3) or (N, 3); return float frames and whether one was given."""
    array = np.asarray(values, dtype=float)
    single = array.ndim == 2
    if single:
        array = array[None]
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"{what} must have shape (F, N, 3) or (N, 3), got {array.shape}")
    if array.shape[1] != n_atoms:
        raise ValueError(f"{what} have {array.shape[1]} atoms but the map expects {n_atoms} atoms")
    check_finite(array, what)
    return array, single


def apply_linear(matrix: sp.csr_matrix, frames: np.ndarray) -> np.ndarray:
    """``matrix @ frames[f]`` for every frame: (F, N, 3) -> (F, M, 3).

    Small maps use one dense GEMM over all frames, large ones a sparse product.
    """
    n_frames, n_atoms = frames.shape[:2]
    if matrix.shape[0] * matrix.shape[1] <= DENSE_LIMIT:
        dense = matrix.toarray()
        return np.tensordot(frames, dense, axes=([1], [1])).transpose(0, 2, 1).copy()
    stacked = frames.transpose(1, 0, 2).reshape(n_atoms, n_frames * 3)
    mapped = matrix @ stacked
    return np.ascontiguousarray(mapped.reshape(-1, n_frames, 3).transpose(1, 0, 2))


def apply_torch(matrix: sp.csr_matrix, tensor, what: str):
    """Differentiable ``matrix @ tensor`` for a tensor (F, N, 3) or (N, 3)."""
    import torch

    n_atoms = matrix.shape[1]
    if tensor.ndim not in (2, 3) or tuple(tensor.shape[-2:]) != (n_atoms, 3):
        raise ValueError(
            f"{what} must have shape (F, {n_atoms}, 3) or ({n_atoms}, 3), got {tuple(tensor.shape)}"
        )
    if not bool(torch.isfinite(tensor).all()):
        check_finite(tensor.detach().cpu().numpy().reshape(-1, n_atoms, 3), what)
    dense = torch.as_tensor(matrix.toarray(), dtype=tensor.dtype, device=tensor.device)
    return torch.matmul(dense, tensor)


def apply_periodic(matrix: sp.csr_matrix, frames: np.ndarray, cell, pbc) -> np.ndarray:
    """Weighted centres of atoms unwrapped per bead, then wrapped into the cell.

    Each bead's atoms are placed at the minimum image relative to the bead's
    highest-weight atom (exact for triclinic cells as long as a bead spans less than half
    the cell), averaged, and the centre is wrapped back into the cell.

    Parameters
    ----------
    matrix : scipy.sparse.csr_matrix, shape (M, N)
    frames : ndarray, shape (F, N, 3), Å
    cell : ndarray, shape (3, 3) or (F, 3, 3), Å
    pbc : bool or sequence of 3 bool

    Returns
    -------
    ndarray, shape (F, M, 3), Å
    """
    n_frames = frames.shape[0]
    n_beads = matrix.shape[0]
    rows = np.repeat(np.arange(n_beads), np.diff(matrix.indptr))
    reference = np.empty(n_beads, dtype=int)
    for bead in range(n_beads):
        start, stop = matrix.indptr[bead], matrix.indptr[bead + 1]
        reference[bead] = matrix.indices[start + np.argmax(matrix.data[start:stop])]
    cell = np.asarray(cell, dtype=float)
    if cell.shape == (3,):
        cell = np.diag(cell)
    if cell.shape not in ((3, 3), (n_frames, 3, 3)):
        raise ValueError(f"cell must have shape (3, 3) or ({n_frames}, 3, 3), got {cell.shape}")
    cells = np.broadcast_to(cell, (n_frames, 3, 3))
    beads = np.empty((n_frames, n_beads, 3))
    chunk = max(1, PERIODIC_CHUNK // matrix.nnz)
    for start in range(0, n_frames, chunk):
        part = frames[start : start + chunk]
        part_cells = cells[start : start + chunk]
        steps = minimum_image(part[:, matrix.indices] - part[:, reference[rows]], part_cells, pbc)
        offsets = np.add.reduceat(steps * matrix.data[None, :, None], matrix.indptr[:-1], axis=1)
        beads[start : start + chunk] = wrap_positions(part[:, reference] + offsets, part_cells, pbc)
    return beads
