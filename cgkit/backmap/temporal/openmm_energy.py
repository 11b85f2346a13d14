"""All-atom potential energy from OpenMM as a differentiable torch function.

``OpenMMEnergy(system)(positions)`` returns energies in eV of a batch of structures in
Å; the backward pass uses the OpenMM forces (``dE/dr = -F``), so the energy term of
the temporal VAE loss (thesis eq. 8.5) is trained with the exact force field.
"""

from __future__ import annotations

import numpy as np
import torch

from cgkit._optional import require
from cgkit.units import KJMOL_EV, NM_TO_ANGSTROM

#: forces larger than this (eV/Å) are clipped in the backward pass (overlapping atoms)
MAX_FORCE = 1.0e4


class _EnergyFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, positions, evaluator):
        energies, forces = evaluator.energies_and_forces(positions.detach().cpu().numpy())
        ctx.save_for_backward(torch.as_tensor(forces, dtype=positions.dtype))
        return torch.as_tensor(energies, dtype=positions.dtype, device=positions.device)

    @staticmethod
    def backward(ctx, grad_energy):
        (forces,) = ctx.saved_tensors
        forces = forces.to(grad_energy.device)
        return -forces * grad_energy[:, None, None], None


class OpenMMEnergy(torch.nn.Module):
    """Potential energy of an OpenMM system for batches of positions.

    Parameters
    ----------
    system : openmm.System
        The all-atom system (vacuum; constraints are irrelevant for energies).
    platform : str
        OpenMM platform name (``"Reference"`` is deterministic).
    """

    def __init__(self, system, platform: str = "Reference"):
        super().__init__()
        mm = require("openmm")
        self.n_atoms = system.getNumParticles()
        integrator = mm.VerletIntegrator(0.001)
        self._context = mm.Context(system, integrator, mm.Platform.getPlatformByName(platform))
        self._integrator = integrator

    def energies_and_forces(self, positions: np.ndarray):
        """Energies (B,) eV and forces (B, N, 3) eV/Å of positions (B, N, 3) Å."""
        unit = require("openmm.unit")
        positions = np.asarray(positions, dtype=float)
        if positions.ndim != 3 or positions.shape[1:] != (self.n_atoms, 3):
            raise ValueError(
                f"positions of shape {positions.shape} for an OpenMM system of {self.n_atoms} atoms"
            )
        energies = np.empty(len(positions))
        forces = np.empty(positions.shape)
        per_nm = unit.kilojoule_per_mole / unit.nanometer
        for b, frame in enumerate(positions):
            self._context.setPositions(frame / NM_TO_ANGSTROM)
            state = self._context.getState(getEnergy=True, getForces=True)
            energies[b] = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
            forces[b] = state.getForces(asNumpy=True).value_in_unit(per_nm)
        energies *= KJMOL_EV
        forces *= KJMOL_EV / NM_TO_ANGSTROM
        forces = np.clip(np.nan_to_num(forces, nan=0.0), -MAX_FORCE, MAX_FORCE)
        return energies, forces

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        """Energies (B,) eV of positions (B, N, 3) Å; differentiable (gradient = -forces)."""
        return _EnergyFunction.apply(positions, self)


def peptide_force_field(topology):
    """Energy term and rigid bonds of a capped peptide's reference MD (extra ``md``).

    Parameters
    ----------
    topology : openmm.app.Topology
        E.g. ``cgkit.sampling.openmm_md.capped_peptide(sequence).topology``.

    Returns
    -------
    energy : OpenMMEnergy
        The vacuum amber14 system without constraints.
    constraints : cgkit.backmap.temporal.BondConstraints
        Its bonds to hydrogen, which :mod:`cgkit.sampling.openmm_md` keeps rigid (HBonds).
    """
    from cgkit.backmap.temporal.constraints import BondConstraints
    from cgkit.sampling.openmm_md import create_openmm_system

    hbonds = create_openmm_system(topology, constraints=require("openmm.app").HBonds)
    return OpenMMEnergy(create_openmm_system(topology)), BondConstraints.from_openmm(hbonds)
