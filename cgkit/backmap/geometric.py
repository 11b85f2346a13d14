"""Geometric baseline backmapper: atoms at their bead plus noise, then energy minimisation.

The minimisation is a :class:`~cgkit.backmap.relax.ForceFieldRelaxer` in stages: bonded
terms only (L-BFGS), then Lennard-Jones with a soft core that hardens step by step, then
the plain LJ (FIRE, robust to the steep repulsion), so the initial overlaps of atoms piled
onto their beads do not blow up the LJ term. Each stage runs to convergence (``fmax``) or
its step budget.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from cgkit.backmap.relax import ForceFieldCalculator, ForceFieldRelaxer, RelaxStage

__all__ = ["ForceFieldCalculator", "GeometricBackmapper"]


class GeometricBackmapper:
    """Baseline backmapping: bead centre + random displacement, then minimisation.

    Parameters
    ----------
    forcefield : ForceField
    topology : Topology               all atoms of the system
    cgmap : cgkit.mapping.CGMap
    atom_to_bead : ndarray (N,) or None
        Bead whose centre starts each atom (default: its largest-weight bead).
    displacement : float              standard deviation of the initial noise, Å
    bonded_steps, soft_steps, full_steps : int
                                      optimizer steps at most without Lennard-Jones,
                                      per soft-core stage, with the plain LJ
    soft_cores : sequence of float    soft-core ``alpha`` of the successive soft stages
    fmax : float                      force convergence of every stage, eV/Å
    bonded_optimizer, lj_optimizer : ase.optimize.Optimizer subclasses or None
                                      defaults ``LBFGS`` and ``FIRE``
    lj_cutoff : float                 Å
    restraint_k : float               strength of the bead restraint, eV/Å^2 (0: none)
    bond_stiffness : float            factor on the ff bond constants; the DBM ff.txt bonds
                                      are soft because the reference MD constrains them
    """

    def __init__(self, forcefield, topology, cgmap, atom_to_bead=None, displacement=0.5,
                 bonded_steps=600, soft_steps=60, full_steps=200,
                 soft_cores=(0.5, 0.1, 0.02), fmax=0.05, bonded_optimizer=None,
                 lj_optimizer=None, lj_cutoff=6.0, restraint_k=50.0,
                 bond_stiffness=100.0):  # fmt: skip
        self.forcefield = forcefield
        self.topology = topology
        self.cgmap = cgmap
        self.atom_to_bead = atom_to_bead
        self.displacement = displacement
        self.bonded_steps = bonded_steps
        self.soft_steps = soft_steps
        self.full_steps = full_steps
        self.soft_cores = tuple(soft_cores)
        self.fmax = fmax
        self.bonded_optimizer = bonded_optimizer
        self.lj_optimizer = lj_optimizer
        self.lj_cutoff = lj_cutoff
        self.restraint_k = restraint_k
        self.bond_stiffness = bond_stiffness

    def transform(self, cg_atoms, seed=None) -> Atoms:
        """Backmap one CG configuration (M beads, Å) to a new ``ase.Atoms`` of N atoms."""
        from cgkit.backmap.dbm import atom_to_bead_from_map

        owner = self.atom_to_bead
        if owner is None:
            owner = atom_to_bead_from_map(self.cgmap, self.topology.bonds)
        beads = np.asarray(cg_atoms.positions, dtype=float)
        if len(beads) != self.cgmap.n_beads:
            raise ValueError(f"CG configuration has {len(beads)} beads, "
                             f"the map has {self.cgmap.n_beads}")  # fmt: skip
        rng = np.random.default_rng(seed)
        positions = beads[np.asarray(owner)] + rng.normal(
            scale=self.displacement, size=(self.topology.n_atoms, 3)
        )
        types = self.topology.atom_types
        atoms = Atoms(self.topology.symbols, positions, cell=cg_atoms.cell.copy(),
                      pbc=cg_atoms.pbc.copy())  # fmt: skip
        atoms.set_masses([self.forcefield.atom_types[t].mass for t in types])
        atoms.set_array("atomtypes", np.array(types))
        return self.relaxer().relax(atoms, beads)

    def relaxer(self) -> ForceFieldRelaxer:
        """The staged minimisation: bonded terms (L-BFGS), soft-core LJ stages, plain LJ."""
        from ase.optimize import FIRE, LBFGS

        bonded = LBFGS if self.bonded_optimizer is None else self.bonded_optimizer
        with_lj = FIRE if self.lj_optimizer is None else self.lj_optimizer
        stages = [RelaxStage(bonded, self.bonded_steps, lj=False)]
        stages += [RelaxStage(with_lj, self.soft_steps, True, alpha) for alpha in self.soft_cores]
        stages += [RelaxStage(with_lj, self.full_steps, True, 0.0)]
        return ForceFieldRelaxer(self.forcefield, self.topology, self.cgmap, stages,
                                 fmax=self.fmax, restraint_k=self.restraint_k,
                                 bond_stiffness=self.bond_stiffness,
                                 lj_cutoff=self.lj_cutoff)  # fmt: skip

    __call__ = transform
