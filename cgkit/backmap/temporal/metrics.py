"""Trajectory-level comparison of backmapped and reference all-atom trajectories.

Displacement distributions per element (temporal coherence), backbone dihedrals
(Ramachandran), bond lengths, energy distributions and CG consistency.
"""

from __future__ import annotations

import numpy as np
import torch

from cgkit.backmap.energy import dihedral_angles
from cgkit.backmap.metrics import js_divergence


def displacements(positions: np.ndarray, lag: int = 1, segment_ids=None) -> np.ndarray:
    """``|r_i(t) - r_i(t - lag)|`` (P, N) Å of a trajectory (F, N, 3) Å; with
    ``segment_ids`` (F,) no pair spans two segments."""
    positions = np.asarray(positions, dtype=float)
    t = np.arange(lag, len(positions))
    if segment_ids is not None:
        segment_ids = np.asarray(segment_ids)
        t = t[segment_ids[t] == segment_ids[t - lag]]
    return np.linalg.norm(positions[t] - positions[t - lag], axis=-1)


def dihedrals(positions: np.ndarray, quadruples: np.ndarray) -> np.ndarray:
    """Dihedral angles (F, K) in degrees, in (-180, 180], of atom quadruples (K, 4)."""
    pos = torch.as_tensor(np.asarray(positions, dtype=float))
    idx = torch.as_tensor(np.asarray(quadruples), dtype=torch.long)
    return np.degrees(dihedral_angles(pos, idx).numpy())


def bond_lengths(positions: np.ndarray, bonds: np.ndarray) -> np.ndarray:
    """Bond lengths (F, K) Å of atom pairs (K, 2)."""
    positions = np.asarray(positions, dtype=float)
    bonds = np.asarray(bonds)
    return np.linalg.norm(positions[:, bonds[:, 0]] - positions[:, bonds[:, 1]], axis=-1)


def cg_consistency_rmsd(positions: np.ndarray, weights: np.ndarray, bead_positions) -> float:
    """RMSD (Å) between the beads and the map of the all-atom frames (F, N, 3)."""
    mapped = np.einsum("mn,fnd->fmd", np.asarray(weights), np.asarray(positions, dtype=float))
    return float(np.sqrt(np.mean(np.sum((mapped - bead_positions) ** 2, axis=-1))))


def histogram_js(reference, sample, bins) -> float:
    """Jensen-Shannon divergence (nats) of two 1-D sample sets histogrammed on ``bins``."""
    p, _ = np.histogram(np.ravel(reference), bins=bins)
    q, _ = np.histogram(np.ravel(sample), bins=bins)
    return js_divergence(p + 1e-12, q + 1e-12)


def ramachandran(phi_psi: np.ndarray, bins: int = 36) -> np.ndarray:
    """Normalised 2-D histogram (bins, bins) of (F, 2) phi/psi angles in degrees."""
    hist, _, _ = np.histogram2d(
        phi_psi[:, 0], phi_psi[:, 1], bins=bins, range=[[-180, 180], [-180, 180]]
    )
    return hist / max(hist.sum(), 1)


def ramachandran_scores(reference: np.ndarray, sample: np.ndarray, bins: int = 36) -> dict:
    """Overlap (sum of bin-wise minima, 1 = identical) and JS (nats) of phi/psi histograms."""
    p, q = ramachandran(reference, bins), ramachandran(sample, bins)
    return {
        "overlap": float(np.minimum(p, q).sum()),
        "js": js_divergence(p.ravel() + 1e-12, q.ravel() + 1e-12),
    }


def displacement_js(reference: np.ndarray, sample: np.ndarray, symbols, bins=None) -> dict:
    """JS divergence (nats) of per-element displacement distributions.

    Parameters
    ----------
    reference, sample : ndarray (P, N) Å
        Displacements (:func:`displacements`).
    symbols : sequence of str, length N

    Returns
    -------
    dict element -> JS, plus ``"all"`` over all atoms.
    """
    symbols = np.asarray(symbols)
    if bins is None:
        bins = np.linspace(0.0, max(np.max(reference), 1e-6) * 1.5, 61)
    bins = np.append(bins, np.inf)
    out = {"all": histogram_js(reference, sample, bins)}
    for element in sorted(set(symbols.tolist())):
        mask = symbols == element
        out[element] = histogram_js(reference[:, mask], sample[:, mask], bins)
    return out
