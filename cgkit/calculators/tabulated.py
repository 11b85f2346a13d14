"""ASE calculator for tabulated CG potentials (the result of IBI)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from cgkit._version import __version__
from cgkit.ibi.forcefield import TabulatedForceField
from cgkit.ibi.potentials import TabulatedPotential

FILE_SCHEMA = "cgkit.tabulated/1"


class TabulatedCGCalculator(Calculator):
    """Energy and forces of CG Atoms from smooth splines of tabulated potentials.

    Adapts only: Atoms positions (Å) -> :class:`cgkit.ibi.TabulatedForceField` (analytic,
    vectorised) -> energy (eV) and forces (eV/Å). Molecules in vacuum: periodic cells are
    refused (the tables have no minimum image convention).

    Parameters
    ----------
    potentials : list of TabulatedPotential
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, potentials, **kwargs):
        super().__init__(**kwargs)
        self.potentials = list(potentials)
        self.force_field = TabulatedForceField(self.potentials)

    def energy_and_forces(self, bead_positions: np.ndarray) -> tuple[float, np.ndarray]:
        """Total energy (eV) and forces (M, 3) eV/Å for one bead configuration (M, 3) Å."""
        return self.force_field.energy_and_forces(bead_positions)

    def interaction_energies(self, bead_positions: np.ndarray) -> dict[str, float]:
        """Energy of each named potential, eV."""
        return self.force_field.interaction_energies(bead_positions)

    def check_state(self, atoms, tol=1e-15):
        """Changed properties; exact array comparisons (ASE's generic check dominates MD time)."""
        if self.atoms is None:
            return list(all_changes)
        if len(atoms) != len(self.atoms):
            return list(all_changes)
        changes = []
        if not np.array_equal(atoms.positions, self.atoms.positions):
            changes.append("positions")
        if not np.array_equal(atoms.numbers, self.atoms.numbers):
            changes.append("numbers")
        if not np.array_equal(atoms.cell.array, self.atoms.cell.array):
            changes.append("cell")
        if not np.array_equal(atoms.pbc, self.atoms.pbc):
            changes.append("pbc")
        return changes

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if np.any(self.atoms.pbc):
            raise ValueError("TabulatedCGCalculator handles isolated molecules only (pbc=False)")
        n_beads = len(self.atoms)
        if self.force_field.max_bead >= n_beads:
            raise ValueError(
                f"the potentials refer to bead {self.force_field.max_bead} but the Atoms have "
                f"{n_beads} beads"
            )
        energy, forces = self.energy_and_forces(self.atoms.positions)
        self.results["energy"] = energy
        self.results["free_energy"] = energy
        self.results["forces"] = forces

    # ------------------------------------------------------------------ io
    def write(self, path) -> None:
        """Save the tables as JSON (schema, cgkit version, units)."""
        document = {
            "schema": FILE_SCHEMA,
            "cgkit_version": __version__,
            "potentials": [p.to_dict() for p in self.potentials],
        }
        Path(path).write_text(json.dumps(document, indent=1))

    @classmethod
    def read(cls, path) -> TabulatedCGCalculator:
        """Load tables written by :meth:`write`."""
        path = Path(path)
        try:
            document = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not a JSON potential file ({exc})") from None
        if not isinstance(document, dict) or document.get("schema") != FILE_SCHEMA:
            schema = document.get("schema") if isinstance(document, dict) else None
            raise ValueError(f"{path}: unknown schema {schema!r}, expected {FILE_SCHEMA!r}")
        try:
            potentials = [TabulatedPotential.from_dict(d) for d in document["potentials"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: invalid potential table ({exc})") from None
        return cls(potentials)
