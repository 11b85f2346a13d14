"""ASE calculator predicting a CGMP-learned property from the atoms kept at a resolution."""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes


class CGMPCalculator(Calculator):
    """Adapter: ``Atoms -> positions -> CGMPRanker snapshot at resolution M -> eV``.

    Results: ``results[<target>]`` (eV, e.g. ``"homo"``) and ``results["atom_contributions"]``
    (N,) eV. The calculator also writes them to the atoms: ``atoms.info["cgmp_<target>"]``
    and ``atoms.arrays["cgmp_<target>_contributions"]`` (0 for atoms not kept).

    Parameters
    ----------
    ranker : CGMPRanker
        A fitted (or loaded) ranker for this molecule.
    resolution : int, optional
        Number of kept atoms ``M`` (default: full resolution).
    """

    def __init__(self, ranker, resolution: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.ranker = ranker
        self.resolution = ranker._resolution(resolution)
        self.target = ranker.target_
        self.implemented_properties = [self.target, "atom_contributions"]

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        expected = self.ranker.numbers_
        numbers = self.atoms.numbers
        if len(numbers) != len(expected):
            raise ValueError(
                f"CGMPCalculator: atoms have {len(numbers)} atoms, the ranker was trained on "
                f"{len(expected)}"
            )
        mismatch = np.flatnonzero(numbers != expected)
        if mismatch.size:
            index = int(mismatch[0])
            raise ValueError(
                f"CGMPCalculator: atom {index} has atomic number {numbers[index]}, "
                f"the ranker expects {expected[index]}"
            )
        value, contributions = self.ranker.contributions(self.atoms.positions, self.resolution)
        self.results[self.target] = float(value)
        self.results["atom_contributions"] = contributions
        if atoms is not None:
            atoms.info[f"cgmp_{self.target}"] = float(value)
            atoms.arrays[f"cgmp_{self.target}_contributions"] = contributions.copy()
