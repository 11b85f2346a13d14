"""Weight matrices from lists of atom groups (one group per bead)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def positive_masses(masses, n_atoms: int) -> np.ndarray:
    """``masses`` as floats of shape (N,); raises naming the first non-positive atom."""
    masses = np.asarray(masses, dtype=float)
    if masses.shape != (n_atoms,):
        raise ValueError(f"masses must have shape ({n_atoms},), got {masses.shape}")
    bad = ~np.isfinite(masses) | (masses <= 0)
    if bad.any():
        atom = int(np.flatnonzero(bad)[0])
        raise ValueError(f"mass of atom {atom} must be positive and finite, got {masses[atom]}")
    return masses


def weights_from_groups(
    groups: Sequence[Sequence[int]],
    weights="mass",
    masses=None,
    n_atoms: int | None = None,
    symbols: Sequence[str] | None = None,
) -> np.ndarray:
    """Raw (unnormalised) weight matrix (M, N) of beads given by groups of 0-based atoms.

    See :meth:`cgkit.mapping.CGMap.from_groups` for the meaning of ``weights``. Raises
    naming the bead/atom at fault: empty bead, index out of range or repeated, an atom in
    two groups under a named scheme, explicit weights outside a group.
    """
    groups = [np.asarray(group, dtype=int).ravel() for group in groups]
    if not groups:
        raise ValueError("groups is empty: a map needs at least one bead")
    if n_atoms is None:
        if masses is not None:
            n_atoms = len(masses)
        elif symbols is not None:
            n_atoms = len(symbols)
        else:
            n_atoms = 1 + max((int(g.max()) for g in groups if g.size), default=-1)
    for bead, group in enumerate(groups):
        if group.size == 0:
            raise ValueError(f"bead {bead} has no atoms")
        bad = (group < 0) | (group >= n_atoms)
        if bad.any():
            raise ValueError(f"bead {bead} lists atom {group[bad][0]}, outside 0..{n_atoms - 1}")
        values, counts = np.unique(group, return_counts=True)
        if np.any(counts > 1):
            raise ValueError(f"bead {bead} lists atom {values[counts > 1][0]} twice")
    matrix = np.zeros((len(groups), n_atoms))
    if isinstance(weights, str):
        if weights not in ("mass", "center"):
            raise ValueError(f"weights must be 'mass', 'center' or an array, got {weights!r}")
        if weights == "mass" and masses is None:
            raise ValueError("weights='mass' needs masses")
        owner = np.full(n_atoms, -1)
        for bead, group in enumerate(groups):
            taken = group[owner[group] >= 0]
            if taken.size:
                raise ValueError(
                    f"atom {taken[0]} is in bead {owner[taken[0]]} and in bead {bead}; "
                    "pass explicit weights to share atoms between beads"
                )
            owner[group] = bead
        atom_weights = positive_masses(masses, n_atoms) if weights == "mass" else np.ones(n_atoms)
        for bead, group in enumerate(groups):
            matrix[bead, group] = atom_weights[group]
    else:
        array = weights if isinstance(weights, np.ndarray) else None
        if array is not None and array.ndim == 2:
            if array.shape != matrix.shape:
                raise ValueError(f"weights must have shape {matrix.shape}, got {array.shape}")
            for bead, group in enumerate(groups):
                outside = np.setdiff1d(np.flatnonzero(array[bead]), group)
                if outside.size:
                    raise ValueError(
                        f"weights give atom {outside[0]} to bead {bead} but its group "
                        "does not list it"
                    )
                matrix[bead, group] = array[bead, group]
        else:
            if len(weights) != len(groups):
                raise ValueError(
                    f"weights has {len(weights)} entries but there are {len(groups)} groups"
                )
            for bead, (group, values) in enumerate(zip(groups, weights, strict=True)):
                values = np.asarray(values, dtype=float).ravel()
                if values.shape != group.shape:
                    raise ValueError(f"bead {bead}: {values.size} weights for {group.size} atoms")
                matrix[bead, group] = values
    return matrix
