"""Temporally coherent trajectory backmapping (Shmilovich et al. 2022; thesis ch. 8).

* :class:`TemporalVAEBackmapper`, :class:`TemporalVAEConfig` -- conditional VAE that
  backmaps a CG trajectory frame by frame, conditioned on the previous all-atom frame.
* :class:`LibraryBackmapper` -- frame-based baseline (nearest CG frame of a library).
* :class:`BondConstraints` -- rigid bonds of the reference MD imposed on generated frames.
* :class:`OpenMMEnergy` -- OpenMM potential energy as a differentiable torch module
  (imports OpenMM lazily).
* :mod:`~cgkit.backmap.temporal.metrics` -- displacement, dihedral, bond and
  CG-consistency comparisons of trajectories.
* :mod:`~cgkit.backmap.temporal.cg_trajectory` -- CG MD input that never was all-atom
  (perturbed Boltzmann-inverted bonded potentials).
"""

from cgkit.backmap.temporal.config import TemporalVAEConfig
from cgkit.backmap.temporal.constraints import BondConstraints
from cgkit.backmap.temporal.library import LibraryBackmapper
from cgkit.backmap.temporal.openmm_energy import OpenMMEnergy
from cgkit.backmap.temporal.vae import TemporalVAEBackmapper

__all__ = [
    "BondConstraints",
    "LibraryBackmapper",
    "OpenMMEnergy",
    "TemporalVAEBackmapper",
    "TemporalVAEConfig",
]
