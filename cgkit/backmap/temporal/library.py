"""Frame-based library backmapping (baseline of thesis ch. 8).

Every CG frame is backmapped independently: the all-atom library frame whose CG image
has the smallest RMSD to it after optimal superposition is rotated and translated onto
it. The temporal VAE uses the same search to pick its first all-atom frame.
"""

from __future__ import annotations

import numpy as np
import torch

from cgkit.mapping.superposition import kabsch_rotation


class LibraryBackmapper:
    """Nearest-CG-frame library backmapping.

    Parameters
    ----------
    max_frames : int or None
        Keep at most this many library frames (evenly strided); None keeps all.
    chunk : int
        Library frames compared per batched superposition.
    """

    def __init__(self, max_frames: int | None = None, chunk: int = 20000):
        self.max_frames = max_frames
        self.chunk = chunk

    def fit(self, positions: np.ndarray, weights: np.ndarray):
        """Store the library.

        Parameters
        ----------
        positions : ndarray (L, N, 3), Å
            All-atom library frames.
        weights : ndarray (M, N)
            CG map weights (``cgmap.weights``).
        """
        positions = np.asarray(positions, dtype=float)
        weights = np.asarray(weights, dtype=float)
        if positions.ndim != 3 or positions.shape[1] != weights.shape[1]:
            raise ValueError(
                f"library of shape {positions.shape} does not match a map of "
                f"{weights.shape[1]} atoms"
            )
        if self.max_frames is not None and len(positions) > self.max_frames:
            stride = int(np.ceil(len(positions) / self.max_frames))
            positions = positions[::stride]
        beads = np.einsum("mn,lnd->lmd", weights, positions)
        self.bead_centres_ = beads.mean(axis=1)
        self.beads_ = torch.as_tensor(beads - self.bead_centres_[:, None], dtype=torch.float64)
        self.positions_ = positions
        self.weights_ = weights
        return self

    def nearest(self, bead_positions: np.ndarray):
        """Closest library frame of every CG frame.

        Parameters
        ----------
        bead_positions : ndarray (F, M, 3), Å

        Returns
        -------
        indices : ndarray (F,) int
            Library frame indices.
        rmsd : ndarray (F,), Å
            CG RMSD after superposition.
        rotations : ndarray (F, 3, 3)
            ``(library beads - centre) @ rotation`` superposes onto the query.
        """
        bead_positions = np.asarray(bead_positions, dtype=float)
        if bead_positions.ndim == 2:
            bead_positions = bead_positions[None]
        if bead_positions.shape[1:] != tuple(self.beads_.shape[1:]):
            raise ValueError(
                f"CG frames of shape {bead_positions.shape} for a library of "
                f"{self.beads_.shape[1]} beads"
            )
        queries = torch.as_tensor(
            bead_positions - bead_positions.mean(axis=1, keepdims=True), dtype=torch.float64
        )
        indices = np.empty(len(queries), dtype=np.int64)
        rmsd = np.empty(len(queries))
        rotations = np.empty((len(queries), 3, 3))
        for f, query in enumerate(queries):
            best = (np.inf, -1, None)
            for start in range(0, len(self.beads_), self.chunk):
                lib = self.beads_[start : start + self.chunk]
                rot = kabsch_rotation(lib, query[None])
                msd = ((lib @ rot - query) ** 2).sum(-1).mean(-1)
                k = int(torch.argmin(msd))
                if float(msd[k]) < best[0]:
                    best = (float(msd[k]), start + k, rot[k])
            rmsd[f] = np.sqrt(max(best[0], 0.0))
            indices[f] = best[1]
            rotations[f] = best[2].numpy()
        return indices, rmsd, rotations

    def backmap(self, bead_positions: np.ndarray) -> np.ndarray:
        """All-atom frames (F, N, 3) Å: nearest library frames superposed on the beads."""
        bead_positions = np.asarray(bead_positions, dtype=float)
        single = bead_positions.ndim == 2
        if single:
            bead_positions = bead_positions[None]
        indices, _, rotations = self.nearest(bead_positions)
        lib = self.positions_[indices] - self.bead_centres_[indices][:, None]
        out = lib @ rotations + bead_positions.mean(axis=1)[:, None]
        return out[0] if single else out
