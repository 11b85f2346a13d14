"""Repair sweeps of DBM inference: which beads to re-place, and in which groups.

After the Gibbs sweeps a few beads are usually left with an atom in close contact (a
non-excluded pair nearer than a fraction of its LJ sigma). A repair sweep re-places just
those beads, with more candidates. Beads in one group are placed simultaneously (one
batch), so no two beads of a group may be bonded or in contact with each other: each then
sees the other's current position when its candidates are compared.
"""

from __future__ import annotations

import numpy as np

from cgkit.backmap.metrics import close_contact_pairs


def contact_beads(positions, sigma, excluded, atom_to_bead, factor: float = 0.7, cell=None):
    """Beads owning an atom in close contact, and the bead pairs of the contacts.

    Parameters
    ----------
    positions : ndarray (N, 3), Å
    sigma : ndarray (N,), Å                LJ sigma per atom
    excluded : ndarray (E, 2)              non-bonded exclusions
    atom_to_bead : ndarray of int (N,)     placement bead of every atom
    factor : float                         contact below ``factor`` x the pair's sigma
    cell : ndarray (3, 3) or None

    Returns
    -------
    beads : ndarray of int (B,), sorted
    bead_pairs : ndarray of int (P, 2)     the two beads of every contact
    """
    pairs = close_contact_pairs(positions, sigma, excluded, factor, cell)
    bead_pairs = np.asarray(atom_to_bead)[pairs].reshape(-1, 2)
    return np.unique(bead_pairs), bead_pairs


def conflict_free_groups(beads, bead_pairs, neighbours) -> list[np.ndarray]:
    """Split ``beads`` into groups with no two members bonded or in contact (greedy colouring).

    Parameters
    ----------
    beads : ndarray of int (B,)
    bead_pairs : ndarray of int (P, 2)     contacts between beads
    neighbours : list of array-like        bonded beads of every bead

    Returns
    -------
    list of ndarray of int, sorted, together holding every bead once
    """
    members = {int(b) for b in beads}
    conflicts = {b: {int(n) for n in neighbours[b]} & members for b in members}
    for i, j in np.asarray(bead_pairs, dtype=int).reshape(-1, 2):
        if i != j and i in members and j in members:
            conflicts[int(i)].add(int(j))
            conflicts[int(j)].add(int(i))
    colour: dict[int, int] = {}
    for bead in sorted(members, key=lambda b: (-len(conflicts[b]), b)):  # largest first
        used = {colour[n] for n in conflicts[bead] if n in colour}
        colour[bead] = next(c for c in range(len(used) + 1) if c not in used)
    n_colours = max(colour.values(), default=-1) + 1
    return [np.array(sorted(b for b, c in colour.items() if c == k), dtype=int)
            for k in range(n_colours)]  # fmt: skip
