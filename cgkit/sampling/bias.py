"""All-atom MD on U + B(M(r)): an ASE calculator plus a bias of the mapped bead positions.

Shared by constrained sampling at one CG configuration (:mod:`cgkit.sampling.constrained`)
and umbrella windows along a CG coordinate (:mod:`cgkit.sampling.umbrella`).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator, all_changes
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta


class BiasedCalculator(Calculator):
    """An ASE calculator U plus a bias B of the bead positions of a linear CG map.

    Subclasses implement :meth:`bias` (energy and atom forces at given positions). Results:
    ``energy`` = U + B (eV), ``forces`` (N, 3) eV/Å, and B under :attr:`bias_result`.

    Parameters
    ----------
    calculator : ase Calculator
        The AA potential U (any ASE calculator giving energy and forces).
    cgmap : cgkit.mapping.CGMap
    """

    bias_result = "bias_energy"

    def __init__(self, calculator, cgmap, **kwargs):
        super().__init__(**kwargs)
        self.implemented_properties = ["energy", "free_energy", "forces", self.bias_result]
        self.calculator = calculator
        self.cgmap = cgmap
        self._weights = np.asarray(cgmap.weights, float)

    def bias(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        """Bias energy (eV) and its forces (N, 3) eV/Å at atom ``positions`` (N, 3) Å."""
        raise NotImplementedError

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if len(self.atoms) != self.cgmap.n_atoms:
            raise ValueError(
                f"the map expects {self.cgmap.n_atoms} atoms, the Atoms have {len(self.atoms)}"
            )
        inner = self.atoms.copy()
        inner.calc = self.calculator
        energy = inner.get_potential_energy()
        bias_energy, bias_forces = self.bias(self.atoms.positions)
        self.results["energy"] = energy + bias_energy
        self.results["free_energy"] = energy + bias_energy
        self.results["forces"] = inner.get_forces() + bias_forces
        self.results[self.bias_result] = bias_energy


def thermalized_langevin(system, temperature: float, timestep: float, friction: float,
                         rng: np.random.Generator) -> Langevin:  # fmt: skip
    """Langevin dynamics of ``system`` (calculator attached) with Maxwell-Boltzmann momenta at
    ``temperature`` K, no net momentum or rotation; ``timestep`` fs, ``friction`` 1/fs.
    ``fixcm=False``: ASE's centre-of-mass fix runs small systems hot."""
    thermalize_momenta(system, temperature, rng=rng)
    Stationary(system)
    ZeroRotation(system)
    return Langevin(system, timestep * units.fs, temperature_K=temperature,
                    friction=friction / units.fs, fixcm=False, rng=rng)  # fmt: skip


def sample_frames(dynamics, system, steps: int, interval: int, equilibration: int,
                  labeler=None, labels: dict | None = None):  # fmt: skip
    """Run ``equilibration`` steps, then yield positions (N, 3) Å every ``interval`` steps
    (``steps // interval`` frames); ``labeler(atoms) -> dict`` results are appended to
    ``labels`` (name -> list) before each frame is yielded."""
    if equilibration:
        dynamics.run(equilibration)
    for _ in range(steps // interval):
        dynamics.run(interval)
        frame_positions = system.positions.copy()
        if labeler is not None:
            for key, value in labeler(Atoms(system.numbers, positions=frame_positions)).items():
                labels.setdefault(key, []).append(np.asarray(value))
        yield frame_positions
