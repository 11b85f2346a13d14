"""Molecule frames for temporal backmapping: canonical orientation and training pairs.

Every frame is expressed in a local frame fixed by its CG beads: centred on the bead
centroid and rotated onto a reference bead configuration (Kabsch). The previous
all-atom frame is expressed in the local frame of the *current* beads (optionally after
moving each bead's atoms along with their bead), so the decoder sees where the atoms
were relative to where the beads are now.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cgkit.mapping.superposition import kabsch_rotation


@dataclass(frozen=True)
class LocalFrames:
    """Centres (F, 3) Å and rotations (F, 3, 3): ``local = (x - centre) @ rotation``."""

    centres: np.ndarray
    rotations: np.ndarray

    def to_local(self, positions: np.ndarray) -> np.ndarray:
        """(F, K, 3) lab-frame Å -> local frame."""
        return (positions - self.centres[:, None]) @ self.rotations

    def to_lab(self, local: np.ndarray) -> np.ndarray:
        """(F, K, 3) local frame -> lab frame Å."""
        return local @ np.swapaxes(self.rotations, -1, -2) + self.centres[:, None]


def local_frames(bead_positions: np.ndarray, reference: np.ndarray) -> LocalFrames:
    """Local frames of CG configurations.

    Parameters
    ----------
    bead_positions : ndarray (F, M, 3), Å
    reference : ndarray (M, 3), Å
        Reference bead configuration (centred here) that fixes the orientation.
    """
    bead_positions = np.asarray(bead_positions, dtype=float)
    if bead_positions.ndim != 3 or bead_positions.shape[1:] != np.shape(reference):
        raise ValueError(
            f"bead positions of shape {bead_positions.shape} do not match the reference "
            f"bead configuration of shape {np.shape(reference)}"
        )
    centres = bead_positions.mean(axis=1)
    reference = np.asarray(reference, dtype=float) - np.mean(reference, axis=0)
    rotations = kabsch_rotation(bead_positions - centres[:, None], reference[None])
    return LocalFrames(centres, rotations)


@dataclass(frozen=True)
class TemporalPairs:
    """Training triples in the local frame of the current beads.

    Attributes
    ----------
    beads : ndarray (P, M, 3), Å -- CG configuration at t
    previous : ndarray (P, N, 3), Å -- all-atom frame at t - lag
    current : ndarray (P, N, 3), Å -- all-atom frame at t (target)
    """

    beads: np.ndarray
    previous: np.ndarray
    current: np.ndarray

    def __len__(self) -> int:
        return len(self.beads)

    def tensors(self, indices, dtype=torch.float32):
        """(beads, previous, current) tensors of the given pairs."""
        return tuple(
            torch.as_tensor(a[indices], dtype=dtype)
            for a in (self.beads, self.previous, self.current)
        )


def temporal_pairs(
    positions: np.ndarray,
    weights: np.ndarray,
    reference: np.ndarray,
    lag: int = 1,
    segment_ids: np.ndarray | None = None,
    atom_to_bead: np.ndarray | None = None,
) -> TemporalPairs:
    """Pairs (t - lag, t) of a trajectory, in the local frame of the beads at t.

    Parameters
    ----------
    positions : ndarray (F, N, 3), Å
        Consecutive frames (molecules whole).
    weights : ndarray (M, N)
        CG map weights.
    reference : ndarray (M, 3), Å
        Reference bead configuration (:func:`local_frames`).
    lag : int
        Frames between conditioning and target frame.
    segment_ids : ndarray (F,), optional
        Trajectory segment of each frame; no pair spans two segments.
    atom_to_bead : ndarray (N,) int, optional
        When given, the previous frame is first moved onto the current beads, each bead's
        atoms rigidly with it (:func:`shift_to_beads`).
    """
    positions = np.asarray(positions, dtype=float)
    if lag < 1 or len(positions) <= lag:
        raise ValueError(
            f"need 1 <= lag < number of frames, got lag={lag}, {len(positions)} frames"
        )
    t = np.arange(lag, len(positions))
    if segment_ids is not None:
        segment_ids = np.asarray(segment_ids)
        t = t[segment_ids[t] == segment_ids[t - lag]]
    beads = np.einsum("mn,fnd->fmd", weights, positions[t])
    frames = local_frames(beads, reference)
    previous = positions[t - lag]
    if atom_to_bead is not None:
        previous = shift_to_beads(previous, weights, beads, atom_to_bead)
    return TemporalPairs(
        beads=frames.to_local(beads),
        previous=frames.to_local(previous),
        current=frames.to_local(positions[t]),
    )


def assign_atoms_to_beads(weights: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Bead of every atom: the bead with its largest weight, else (atoms a decimation map
    drops) the nearest bead in ``positions`` (N, 3) Å.

    Returns
    -------
    ndarray (N,) int
    """
    weights = np.asarray(weights, dtype=float)
    positions = np.asarray(positions, dtype=float)
    beads = weights @ positions
    nearest = np.argmin(np.linalg.norm(positions[:, None] - beads[None], axis=-1), axis=1)
    return np.where(weights.max(axis=0) > 0, weights.argmax(axis=0), nearest)


def shift_to_beads(positions, weights, bead_positions, atom_to_bead) -> np.ndarray:
    """Shift every atom rigidly with its bead's residual ``R - W r``.

    Bonds inside a bead's group keep their length (a least-norm projection would move
    only the mapped atoms); for maps without shared atoms the result maps exactly onto
    the beads.

    Parameters
    ----------
    positions : ndarray (..., N, 3), Å
    weights : ndarray (M, N)
    bead_positions : ndarray (..., M, 3), Å
    atom_to_bead : ndarray (N,) int (:func:`assign_atoms_to_beads`)
    """
    positions = np.asarray(positions, dtype=float)
    mapped = np.einsum("mn,...nd->...md", np.asarray(weights, dtype=float), positions)
    residual = np.asarray(bead_positions, dtype=float) - mapped
    return positions + residual[..., atom_to_bead, :]
