"""Which bead tuples get a tabulated potential, and the grids they are tabulated on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import shortest_path

from cgkit.ibi.coordinates import TUPLE_SIZE, coordinate_gradients, internal_coordinates


@dataclass(frozen=True)
class InteractionSet:
    """Bead tuples of one kind that share one table.

    Attributes
    ----------
    name : str
        e.g. ``"bond 0-1"`` (one tuple) or ``"angle A-B-A"`` (grouped by bead types).
    kind : str
    tuples : ndarray of int, shape (K, 2|3|4)
    """

    name: str
    kind: str
    tuples: np.ndarray


def _canonical(types: tuple[str, ...]) -> tuple[str, ...]:
    return min(types, types[::-1])


def cg_interactions(
    n_beads: int,
    bonds,
    angles=None,
    dihedrals=None,
    bead_types=None,
    group: str = "tuple",
    pairs: bool = False,
    min_separation: int = 4,
) -> list[InteractionSet]:
    """Build the interaction sets of a CG topology.

    Parameters
    ----------
    n_beads : int
    bonds, angles, dihedrals : array-like of int, shapes (B, 2), (A, 3), (D, 4)
        Bonded tuples (e.g. ``cgmap.bead_bonds``, ``cgmap.bead_angles``,
        ``cgmap.bead_dihedrals``). Angles/dihedrals may be None to leave them out.
    bead_types : sequence of str, optional
        Needed for ``group="type"``.
    group : {"tuple", "type"}
        One table per tuple (single molecules) or per bead-type sequence (polymers).
    pairs : bool
        Add a non-bonded pair table for beads at least ``min_separation`` bonds apart
        (i.e. more than 3 bonds apart by default).
    """
    if group not in ("tuple", "type"):
        raise ValueError(f"group must be 'tuple' or 'type', got {group!r}")
    if group == "type" and bead_types is None:
        raise ValueError("group='type' needs bead_types")
    sets: list[InteractionSet] = []
    kinds = [("bond", bonds), ("angle", angles), ("dihedral", dihedrals)]
    if pairs:
        bonds_array = np.asarray(bonds, int).reshape(-1, 2)
        adjacency = np.zeros((n_beads, n_beads))
        adjacency[bonds_array[:, 0], bonds_array[:, 1]] = 1
        adjacency[bonds_array[:, 1], bonds_array[:, 0]] = 1
        hops = shortest_path(adjacency, unweighted=True)
        i, j = np.triu_indices(n_beads, k=1)
        far = hops[i, j] >= min_separation
        kinds.append(("pair", np.stack([i[far], j[far]], axis=1)))
    for kind, tuples in kinds:
        if tuples is None:
            continue
        tuples = np.asarray(tuples, dtype=int).reshape(-1, TUPLE_SIZE[kind])
        if group == "tuple":
            for t in tuples:
                sets.append(InteractionSet(f"{kind} {'-'.join(map(str, t))}", kind, t[None]))
        else:
            keys: dict[tuple[str, ...], list[np.ndarray]] = {}
            for t in tuples:
                keys.setdefault(_canonical(tuple(bead_types[k] for k in t)), []).append(t)
            for key, members in keys.items():
                sets.append(InteractionSet(f"{kind} {'-'.join(key)}", kind, np.array(members)))
    return sets


def default_grid(kind: str, values: np.ndarray, bins: int | None = None) -> np.ndarray:
    """Bin centres covering the observed values with margins, Å or rad.

    Bonds/pairs/angles: the observed range widened by 40% on each side (angles clipped
    to [0, pi]); dihedrals: the full circle.
    """
    if kind == "dihedral":
        n = bins or 72
        width = 2 * np.pi / n
        return -np.pi + width * (np.arange(n) + 0.5)
    n = bins or 80
    lo, hi = float(np.min(values)), float(np.max(values))
    margin = 0.4 * max(hi - lo, 1e-3)
    lo, hi = lo - margin, hi + margin
    if kind == "angle":
        lo, hi = max(lo, 0.0), min(hi, np.pi)
    else:
        lo = max(lo, 1e-3)
    width = (hi - lo) / n
    return lo + width * (np.arange(n) + 0.5)


def sample_values(bead_positions: np.ndarray, interaction: InteractionSet) -> np.ndarray:
    """All values of the interaction's coordinate over frames and tuples, shape (F * K,)."""
    return internal_coordinates(bead_positions, interaction.kind, interaction.tuples).ravel()


def without_ring_angles(angles, bonds) -> np.ndarray:
    """Angles I-J-K whose end beads I and K are not bonded to each other.

    In a bead triangle (three mutually bonded beads, e.g. a ring mapped to three beads) the
    three angles are fixed by the three bond lengths; tabulating both double-counts the
    same degrees of freedom and makes IBI overshoot. Keep the bonds, drop these angles.

    Parameters
    ----------
    angles : array-like of int, shape (A, 3)
    bonds : array-like of int, shape (B, 2)

    Returns
    -------
    ndarray of int, shape (A', 3)
    """
    angles = np.asarray(angles, dtype=int).reshape(-1, 3)
    bonded = {frozenset(map(int, b)) for b in np.asarray(bonds, dtype=int).reshape(-1, 2)}
    keep = [frozenset((int(a[0]), int(a[2]))) not in bonded for a in angles]
    return angles[np.asarray(keep, dtype=bool)]


def _wilson_rows(bead_positions: np.ndarray, interaction: InteractionSet) -> np.ndarray:
    """d coordinate / d bead positions of every tuple of the set, shape (K, 3M)."""
    n_beads = len(bead_positions)
    _, gradients = coordinate_gradients(bead_positions, interaction.kind, interaction.tuples)
    rows = np.zeros((len(interaction.tuples), n_beads, 3))
    for row, (tuple_, gradient) in enumerate(zip(interaction.tuples, gradients, strict=True)):
        np.add.at(rows[row], tuple_, gradient)
    return rows.reshape(len(interaction.tuples), -1)


def independent_interactions(
    bead_positions: np.ndarray,
    interactions: list[InteractionSet],
    threshold: float = 0.2,
) -> tuple[list[InteractionSet], list[InteractionSet]]:
    """Split interactions into a non-redundant set (to tabulate) and redundant ones.

    Greedy in the given order (bonds, then angles, then dihedrals, as
    :func:`cg_interactions` lists them): an interaction is kept when its Wilson B-matrix
    rows (gradients with respect to the bead positions) have a part outside the span of
    the rows kept so far, i.e. when it moves the beads in a way the kept coordinates do
    not. In bead triangles this drops the angles (fixed by the three bonds); around a
    rotatable bond it keeps one of the equivalent torsions. Tabulating redundant
    coordinates double-counts their free energy (e.g. four copies of the inter-ring
    torsion barrier) and makes IBI overshoot.

    Parameters
    ----------
    bead_positions : ndarray, shape (F, M, 3), Å
        A few representative configurations; the median over frames decides.
    interactions : list of InteractionSet
    threshold : float
        Minimum relative norm (0..1) of the new part of an interaction's gradient.

    Returns
    -------
    kept, redundant : two lists of InteractionSet
    """
    frames = np.asarray(bead_positions, float)
    if frames.ndim == 2:
        frames = frames[None]
    if frames.ndim != 3 or frames.shape[-1] != 3:
        raise ValueError(f"bead_positions must be (F, M, 3), got {frames.shape}")
    bases = [np.zeros((0, 3 * frames.shape[1])) for _ in frames]
    kept, redundant = [], []
    for interaction in interactions:
        residuals, candidates = [], []
        for f, frame in enumerate(frames):
            rows = _wilson_rows(frame, interaction)
            basis = bases[f]
            projected = rows - (rows @ basis.T) @ basis if len(basis) else rows
            norms = np.maximum(np.linalg.norm(rows, axis=1), 1e-12)
            residuals.append(np.max(np.linalg.norm(projected, axis=1) / norms))
            candidates.append(projected)
        if np.median(residuals) > threshold:
            kept.append(interaction)
            for f, projected in enumerate(candidates):
                # orthonormal basis of the new directions (Gram-Schmidt via SVD)
                u, s, vt = np.linalg.svd(projected, full_matrices=False)
                new = vt[s > 1e-8 * max(s.max(initial=0.0), 1e-300)]
                bases[f] = np.vstack([bases[f], new])
        else:
            redundant.append(interaction)
    return kept, redundant


def coordinate_spread(bead_positions: np.ndarray, interaction: InteractionSet) -> float:
    """Spread of an interaction's coordinate over frames: std (Å or rad), circular for dihedrals.

    The circular std of a dihedral is ``sqrt(-2 ln R)`` with R the mean resultant length.
    """
    values = sample_values(bead_positions, interaction)
    if interaction.kind == "dihedral":
        resultant = np.abs(np.mean(np.exp(1j * values)))
        return float(np.sqrt(-2.0 * np.log(max(resultant, 1e-12))))
    return float(np.std(values))


def stiffest_first(bead_positions: np.ndarray, interactions: list[InteractionSet]):
    """Bonds first, then angles and dihedrals together from the narrowest distribution up.

    The order for :func:`independent_interactions`: when coordinates are redundant, the
    sharply distributed ones carry the correlations of the AA ensemble, so they are the
    ones to tabulate.
    """
    bonds = [i for i in interactions if i.kind == "bond"]
    others = [i for i in interactions if i.kind in ("angle", "dihedral")]
    others.sort(key=lambda i: coordinate_spread(bead_positions, i))
    rest = [i for i in interactions if i.kind not in ("bond", "angle", "dihedral")]
    return bonds + others + rest
