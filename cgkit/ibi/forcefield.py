"""Sum of tabulated potentials with analytic forces, vectorised per interaction kind.

All tuples of one kind (over every table) are evaluated in one batch: coordinates and
their gradients (:func:`cgkit.ibi.coordinates.coordinate_gradients`), spline values and
derivatives (:class:`cgkit.ibi.splines.StackedSplines`), and one scatter of the chain-rule
forces onto the beads. No autograd, no per-table Python loop at MD time.
"""

from __future__ import annotations

import numpy as np

from cgkit.ibi.coordinates import TUPLE_SIZE, coordinate_gradients
from cgkit.ibi.potentials import TabulatedPotential
from cgkit.ibi.splines import StackedSplines


class _KindBlock:
    """Every tuple of one kind, with the table each uses."""

    def __init__(self, kind: str, potentials: list[TabulatedPotential]):
        self.kind = kind
        self.tuples = np.concatenate([p.tuples for p in potentials]).reshape(-1, TUPLE_SIZE[kind])
        self.table = np.concatenate(
            [np.full(len(p.tuples), t, dtype=np.intp) for t, p in enumerate(potentials)]
        )
        self.splines = StackedSplines(
            [p.grid for p in potentials], [p.values for p in potentials], kind == "dihedral"
        )
        self.n_tables = len(potentials)
        # flat (bead * 3 + component) index of every gradient entry, for one bincount
        self.flat_index = (self.tuples[:, :, None] * 3 + np.arange(3)).ravel()

    def energies(self, bead_positions: np.ndarray):
        values, gradients = coordinate_gradients(bead_positions, self.kind, self.tuples)
        energy, derivative = self.splines(self.table, values)
        return energy, derivative[:, None, None] * gradients


class TabulatedForceField:
    """Energy and forces of a bead configuration from a list of tabulated potentials.

    Parameters
    ----------
    potentials : list of TabulatedPotential
    """

    def __init__(self, potentials):
        self.potentials = list(potentials)
        self._blocks = []
        self._names = []
        for kind in TUPLE_SIZE:
            members = [p for p in self.potentials if p.kind == kind and len(p.tuples)]
            if members:
                self._blocks.append(_KindBlock(kind, members))
                self._names.append([p.name for p in members])
        self.max_bead = max(
            (int(p.tuples.max()) for p in self.potentials if p.tuples.size), default=-1
        )

    def energy_and_forces(self, bead_positions: np.ndarray) -> tuple[float, np.ndarray]:
        """Total energy and forces of one configuration.

        Parameters
        ----------
        bead_positions : ndarray, shape (M, 3), Å

        Returns
        -------
        energy : float, eV
        forces : ndarray, shape (M, 3), eV/Å
        """
        bead_positions = np.asarray(bead_positions, float)
        n_beads = len(bead_positions)
        if self.max_bead >= n_beads:
            raise ValueError(
                f"the potentials refer to bead {self.max_bead} but the configuration has "
                f"{n_beads} beads"
            )
        energy = 0.0
        gradient = np.zeros(3 * n_beads)
        for block in self._blocks:
            tuple_energy, tuple_gradient = block.energies(bead_positions)
            energy += float(tuple_energy.sum())
            gradient += np.bincount(
                block.flat_index, weights=tuple_gradient.ravel(), minlength=3 * n_beads
            )
        return energy, -gradient.reshape(n_beads, 3)

    def interaction_energies(self, bead_positions: np.ndarray) -> dict[str, float]:
        """Energy of each named potential (summed over its tuples), eV."""
        bead_positions = np.asarray(bead_positions, float)
        result = {}
        for block, names in zip(self._blocks, self._names, strict=True):
            tuple_energy, _ = block.energies(bead_positions)
            per_table = np.bincount(block.table, weights=tuple_energy, minlength=block.n_tables)
            result.update({name: float(e) for name, e in zip(names, per_table, strict=True)})
        return result
