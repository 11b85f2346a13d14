"""Lennard-Jones pairs: neighbour lists with periodic images, and pair energies in torch.

:func:`lj_pairs` lists the non-excluded pairs within a cutoff (k-d tree over the atoms
and the periodic images near the cell); :func:`pair_shifts` fixes the periodic image of
each listed pair, so that a Verlet list evaluates ``r_j - r_i + shift`` between rebuilds
instead of the minimum image; :func:`lj_pair_energies` gives the energy of each pair, with
an analytic backward pass on that path (the relaxation's hot loop: one pass over the
pairs instead of autograd's graph of elementwise operations).
"""

from __future__ import annotations

import numpy as np
import torch


def minimum_image(vectors: torch.Tensor, cell: torch.Tensor | None) -> torch.Tensor:
    """Wrap displacement vectors ``(..., 3)`` Å to their minimum image in ``cell`` (3, 3).

    Uses fractional rounding, exact for vectors shorter than half the smallest
    perpendicular cell width (the usual requirement on cutoffs). ``cell=None``: no-op.
    """
    if cell is None:
        return vectors
    cell = torch.as_tensor(cell, dtype=vectors.dtype, device=vectors.device)
    frac = vectors @ torch.linalg.inv(cell)
    frac = frac - torch.round(frac)
    return frac @ cell


def _rows(positions, index):
    """``positions[:, index]`` (B, K, 3) via ``index_select`` on the (B N, 3) rows: on the
    CPU several times faster than advanced indexing on dim 1, forward and backward."""
    n_batch, n_atoms = positions.shape[:2]
    if n_batch == 1:
        return positions[0].index_select(0, index)[None]
    offsets = torch.arange(n_batch, device=positions.device)[:, None] * n_atoms
    rows = positions.reshape(-1, 3).index_select(0, (index + offsets).reshape(-1))
    return rows.view(n_batch, -1, 3)


def _disp(positions, i, j, cell):
    return minimum_image(_rows(positions, j) - _rows(positions, i), cell)


def lj_pair_energies(positions, pairs, sigma, epsilon, cell=None, cutoff=None, soft_core=0.0,
                     shifts=None):  # fmt: skip
    """Lennard-Jones energy of each listed pair ``4 eps ((s/r)^12 - (s/r)^6)``.

    Parameters
    ----------
    positions : Tensor (B, N, 3), Å
    pairs : LongTensor (P, 2)
        Non-excluded pairs (build them with :func:`lj_pairs`).
    sigma, epsilon : Tensor (P,), Å and eV
    cutoff : float or None
        Pairs farther apart than ``cutoff`` Å contribute zero (plain truncation).
    soft_core : float
        ``alpha`` of the soft core ``r^6 -> r^6 + alpha sigma^6``: overlapping atoms get
        the finite energy ``4 eps (1/alpha^2 - 1/alpha)``; 0 is the plain potential.
    shifts : Tensor (P, 3) Å or None
        Fixed periodic image of each pair (``r_j - r_i + shift`` is the pair vector, e.g.
        from :func:`pair_shifts` when the list was built); replaces the minimum image
        in ``cell``, which a Verlet list may skip between rebuilds.

    Returns
    -------
    Tensor (B, P), eV
    """
    if shifts is not None and not (sigma.requires_grad or epsilon.requires_grad):
        cutoff_sq = None if cutoff is None else cutoff**2
        return _ShiftedLJ.apply(positions, pairs, shifts, sigma, epsilon, cutoff_sq, soft_core)
    if shifts is None:
        disp = _disp(positions, pairs[:, 0], pairs[:, 1], cell)
    else:
        disp = _rows(positions, pairs[:, 1]) - _rows(positions, pairs[:, 0]) + shifts
    r2 = (disp**2).sum(-1)
    if soft_core:
        sig6 = sigma**6
        s6 = sig6 / (r2**3 + soft_core * sig6)
    else:
        s6 = (sigma**2 / r2) ** 3
    e = 4 * epsilon * (s6 * s6 - s6)
    if cutoff is not None:
        e = torch.where(r2 < cutoff**2, e, torch.zeros_like(e))
    return e


def lj_pairs(positions, excluded, cutoff, cell=None, pbc=None) -> np.ndarray:
    """Non-excluded atom pairs ``(P, 2)`` with ``i < j`` closer than ``cutoff`` Å.

    Periodic cells: the atoms are wrapped into the cell and only the images within
    ``cutoff`` of it (in every periodic direction) are added as ghosts before one k-d tree
    query. The search is complete for any cell shape and cutoff; each pair appears once even
    where ``cutoff`` exceeds half a perpendicular width of the cell (several images in
    range; the energy terms use the nearest).

    Parameters
    ----------
    positions : ndarray (N, 3), Å
    excluded : ndarray (E, 2) of excluded pairs (any order)
    cutoff : float, Å
    cell : ndarray (3, 3) or None; pbc : bool or (3,) bools
    """
    from itertools import product

    from scipy.spatial import cKDTree

    positions = np.asarray(positions, dtype=float)
    n = len(positions)
    if cell is None:
        i, j = cKDTree(positions).query_pairs(cutoff, output_type="ndarray").T
    else:
        cell = np.asarray(cell, dtype=float)
        periodic = np.broadcast_to(np.asarray(True if pbc is None else pbc, dtype=bool), (3,))
        inverse = np.linalg.inv(cell)
        frac = positions @ inverse
        frac[:, periodic] %= 1.0
        margin = cutoff * np.linalg.norm(inverse, axis=0)  # cutoff / perpendicular widths
        owners, points = [np.arange(n)], [frac @ cell]
        # an image within the cutoff of an atom in the cell lies within ``margin`` of the
        # unit cube in fractional coordinates, so these shifts find every pair in range
        reach = np.where(periodic, np.ceil(margin), 0).astype(int)
        for shift in product(*[range(-k, k + 1) for k in reach]):
            if any(shift):
                image = frac + np.asarray(shift, dtype=float)
                near = np.all((image > -margin) & (image < 1.0 + margin), axis=1)
                owners.append(np.flatnonzero(near))
                points.append(image[near] @ cell)
        owner = np.concatenate(owners)
        found = cKDTree(np.concatenate(points)).query_pairs(cutoff, output_type="ndarray")
        found = found[found[:, 0] < n]  # query_pairs gives i < j: ghost-ghost pairs go
        i, j = owner[found[:, 0]], owner[found[:, 1]]
        if np.any(margin[periodic] >= 0.5):  # several images in range: one entry per pair
            lo, hi = np.minimum(i, j), np.maximum(i, j)
            key = np.unique(lo[lo < hi].astype(np.int64) * n + hi[lo < hi])
            i, j = key // n, key % n
        # below half the cell width a pair is found once with both atoms real, or twice
        # (i with a ghost of j, j with a ghost of i): keep the copy where i < j
    keep = i < j
    pair_key = np.sort(i[keep].astype(np.int64) * n + j[keep])
    if len(excluded) and len(pair_key):
        ex = np.sort(np.asarray(excluded, dtype=np.int64), axis=1)
        ex_key = np.sort(ex[:, 0] * n + ex[:, 1])
        slot = np.minimum(np.searchsorted(ex_key, pair_key), len(ex_key) - 1)
        pair_key = pair_key[ex_key[slot] != pair_key]  # np.setdiff1d is 50x slower here
    return np.stack([pair_key // n, pair_key % n], axis=1).astype(int)


def pair_shifts(positions, pairs, cell=None) -> np.ndarray:
    """Periodic image shifts (P, 3) Å with ``r_j - r_i + shift`` the minimum-image vector
    of every pair of ``pairs`` (P, 2) at ``positions`` (N, 3) Å; zeros without ``cell``."""
    positions = np.asarray(positions, dtype=float)
    pairs = np.asarray(pairs, dtype=int).reshape(-1, 2)
    if cell is None:
        return np.zeros((len(pairs), 3))
    cell = np.asarray(cell, dtype=float)
    frac = (positions[pairs[:, 1]] - positions[pairs[:, 0]]) @ np.linalg.inv(cell)
    return -np.round(frac) @ cell


class _ShiftedLJ(torch.autograd.Function):
    """Pair energies (B, P) of fixed-image pairs with an analytic gradient in positions."""

    @staticmethod
    def forward(ctx, positions, pairs, shifts, sigma, epsilon, cutoff_sq, soft_core):
        disp = _rows(positions, pairs[:, 1]) - _rows(positions, pairs[:, 0]) + shifts
        r2 = (disp * disp).sum(-1)
        if soft_core:
            sig6 = sigma**6
            s6 = sig6 / (r2**3 + soft_core * sig6)
            ds6 = -3.0 * r2 * r2 * s6 * s6 / sig6  # d s6 / d r2
        else:
            s6 = (sigma * sigma / r2) ** 3
            ds6 = -3.0 * s6 / r2
        energy = 4.0 * epsilon * (s6 * s6 - s6)
        slope = 4.0 * epsilon * (2.0 * s6 - 1.0) * ds6  # d energy / d r2
        if cutoff_sq is not None:
            inside = r2 < cutoff_sq
            energy, slope = energy * inside, slope * inside
        ctx.save_for_backward(disp, slope, pairs)
        ctx.n_atoms = positions.shape[1]
        return energy

    @staticmethod
    def backward(ctx, grad_energy):
        if torch.is_grad_enabled():  # create_graph=True: second derivatives would be zero
            raise RuntimeError("the fixed-image LJ path has a first-order analytic gradient "
                               "only; pass shifts=None for higher derivatives")  # fmt: skip
        disp, slope, pairs = ctx.saved_tensors
        pull = (2.0 * grad_energy * slope)[..., None] * disp  # d E / d r_j per pair
        n_batch, n_atoms = disp.shape[0], ctx.n_atoms
        size = 3 * n_batch * n_atoms
        offsets = torch.arange(n_batch, device=disp.device)[:, None, None] * n_atoms
        xyz = torch.arange(3, device=disp.device)

        def scatter(atom):  # weighted bincount: 4x faster than index_add_ on the CPU
            slots = (3 * (atom[None, :, None] + offsets) + xyz).reshape(-1)
            return torch.bincount(slots, pull.reshape(-1), minlength=size)

        grad = (scatter(pairs[:, 1]) - scatter(pairs[:, 0])).to(disp.dtype)
        return grad.view(n_batch, n_atoms, 3), None, None, None, None, None, None
