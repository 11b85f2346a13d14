"""ASE calculator for ECG property predictions (adapter: Atoms -> bead positions -> model).

>>> calc = ECGCalculator(model, property="homo", cgmap=cgmap)  # doctest: +SKIP
>>> calc.get_property("homo", atoms), calc.get_property("homo_std", atoms)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes


class ECGCalculator(Calculator):
    """Predict an electronic property (and its predictive std) of CG or all-atom Atoms.

    Parameters
    ----------
    model
        A fitted :class:`~cgkit.ecg.ECGRegressor` (or any regressor with
        ``predict(bead_positions, return_std=True)`` and ``n_beads_``).
    property : str
        Name of the predicted property; ``implemented_properties`` is
        ``[property, property + "_std"]`` (unit of the training labels, eV).
    cgmap : cgkit.mapping.CGMap, optional
        If given, Atoms are all-atom and are mapped to beads first (molecules split by
        periodic boundaries are made whole along the map's atom bonds); otherwise the
        Atoms' positions are the bead positions.
    device : str, optional
        Move the model to this torch device (in place).

    Notes
    -----
    Results are cached until ASE's ``check_state`` reports a change of the Atoms. They are
    also copied into ``atoms.info`` (ASE writers drop custom results).
    """

    def __init__(self, model, property: str = "homo", cgmap=None, device=None, **kwargs):
        self.implemented_properties = [property, property + "_std"]
        super().__init__(**kwargs)
        if device is not None:
            model.to(device)
        self.model = model
        self.property = property
        self.cgmap = cgmap

    def bead_positions(self, atoms) -> np.ndarray:
        """Bead positions (M, 3) Å of ``atoms`` (mapped if a ``cgmap`` was given)."""
        positions = atoms.get_positions()
        if self.cgmap is not None:
            if len(atoms) != self.cgmap.n_atoms:
                raise ValueError(
                    f"CG map expects {self.cgmap.n_atoms} atoms, got Atoms with {len(atoms)}"
                )
            if atoms.pbc.any() and self.cgmap.atom_bonds is not None:
                from cgkit.mapping import make_whole

                positions = make_whole(
                    positions, atoms.cell.array, self.cgmap.atom_bonds, atoms.pbc
                )
            positions = self.cgmap.map_positions(positions)
        n_beads = getattr(self.model, "n_beads_", None)
        if n_beads is not None and len(positions) != n_beads:
            hint = "" if self.cgmap is not None else " (pass cgmap=... for all-atom Atoms)"
            raise ValueError(
                f"model expects {n_beads} beads, got Atoms with {len(positions)}{hint}"
            )
        return np.asarray(positions, dtype=float)

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        mean, std = self.model.predict(self.bead_positions(self.atoms)[None], return_std=True)
        self.results = {self.property: float(mean[0]), self.property + "_std": float(std[0])}
        if atoms is not None:
            atoms.info.update(self.results)

    def predict(self, images) -> tuple[np.ndarray, np.ndarray]:
        """Batch prediction for a list of Atoms (one model call); also fills ``info``.

        Returns
        -------
        mean, std : ndarray, shape (len(images),)
        """
        images = list(images)
        if not images:
            return np.zeros(0), np.zeros(0)
        bead_positions = np.stack([self.bead_positions(atoms) for atoms in images])
        mean, std = self.model.predict(bead_positions, return_std=True)
        for atoms, m, s in zip(images, mean, std, strict=True):
            atoms.info[self.property] = float(m)
            atoms.info[self.property + "_std"] = float(s)
        return mean, std
