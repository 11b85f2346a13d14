"""Geometric baseline backmapper: atoms at their bead plus noise, then energy minimisation.

The torch force field of :mod:`cgkit.backmap.energy` is wrapped in an ASE calculator;
minimisation runs in stages: bonded terms only (L-BFGS), then Lennard-Jones with a soft
core that hardens step by step, then the plain LJ (FIRE, robust to the steep repulsion),
so the initial overlaps of atoms piled onto their beads do not blow up the LJ term. Each
stage runs to convergence (``fmax``) or its step budget.
"""

from __future__ import annotations

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from cgkit.backmap.energy import ForceFieldEnergy, minimum_image
from cgkit.backmap.projection import project_to_beads


class ForceFieldCalculator(Calculator):
    """ASE calculator for a :class:`ForceFieldEnergy` (eV, eV/Å).

    Parameters
    ----------
    energy : ForceFieldEnergy
    lj : bool
        Include Lennard-Jones (False: bonded terms only).
    soft_core : float
        Soft-core ``alpha`` of the LJ term (0: plain LJ; see
        :func:`~cgkit.backmap.energy.lj_pair_energies`).
    skin : float
        Verlet skin in Å: the LJ pair list is built at ``cutoff + skin`` and rebuilt when
        an atom has moved more than ``skin / 2``.
    restraint : (cgmap, bead_positions (M, 3) Å, k eV/Å^2) or None
        Adds ``k/2 sum_I |sum_i W_Ii mic(r_i - R_I)|^2`` pulling the mapped atoms onto the
        beads (minimum image, so atoms may sit at any periodic image).
    """

    implemented_properties = ["energy", "forces"]

    def __init__(self, energy: ForceFieldEnergy, lj: bool = True, skin: float = 2.0,
                 restraint=None, soft_core: float = 0.0, **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.energy_model, self.lj, self.skin = energy, lj, skin
        self.soft_core = float(soft_core)
        self._pairs, self._anchor = None, None
        self.restraint = None
        if restraint is not None:
            cgmap, beads, k = restraint
            coo = cgmap.sparse_weights.tocoo()
            self.restraint = (
                torch.as_tensor(coo.row, dtype=torch.long),
                torch.as_tensor(coo.col, dtype=torch.long),
                torch.as_tensor(coo.data),
                torch.as_tensor(np.asarray(beads, dtype=float)),
                float(k),
            )

    def _restraint_energy(self, positions, cell):
        rows, cols, weights, beads, k = self.restraint
        steps = minimum_image(positions[cols] - beads[rows].to(positions.dtype), cell)
        residual = torch.zeros_like(beads, dtype=positions.dtype)
        residual = residual.index_add(0, rows, weights.to(positions.dtype)[:, None] * steps)
        return 0.5 * k * (residual**2).sum()

    def _pair_list(self, atoms):
        if not self.lj:
            return torch.zeros((0, 2), dtype=torch.long)
        moved = np.inf if self._anchor is None else np.abs(atoms.positions - self._anchor).max()
        if moved > 0.5 * self.skin:
            from cgkit.backmap.energy import lj_pairs

            cell = atoms.cell.array if atoms.pbc.any() else None
            cutoff = self.energy_model.cutoff + self.skin
            pairs = lj_pairs(atoms.positions, self.energy_model.excluded, cutoff, cell, atoms.pbc)
            self._pairs, self._anchor = torch.as_tensor(pairs), atoms.positions.copy()
        return self._pairs

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        dtype = self.energy_model.terms.b0.dtype
        positions = torch.tensor(self.atoms.positions, dtype=dtype, requires_grad=True)
        cell = self.atoms.cell.array if self.atoms.pbc.any() else None
        energy = self.energy_model(positions, cell=cell, pairs=self._pair_list(self.atoms),
                                   soft_core=self.soft_core)  # fmt: skip
        if self.restraint is not None:
            cell_t = None if cell is None else torch.as_tensor(cell, dtype=dtype)
            energy = energy + self._restraint_energy(positions, cell_t)
        (grad,) = torch.autograd.grad(energy.sum(), positions)
        self.results = {"energy": float(energy.detach()), "forces": -grad.numpy().astype(float)}


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
        from ase.optimize import FIRE, LBFGS

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
        energy = ForceFieldEnergy.from_topology(self.topology, self.forcefield, self.lj_cutoff,
                                                dtype=torch.float64)  # fmt: skip
        energy.terms.kb = energy.terms.kb * self.bond_stiffness
        restraint = (self.cgmap, beads, self.restraint_k) if self.restraint_k > 0 else None
        bonded = LBFGS if self.bonded_optimizer is None else self.bonded_optimizer
        with_lj = FIRE if self.lj_optimizer is None else self.lj_optimizer
        stages = [(bonded, False, 0.0, self.bonded_steps)]
        stages += [(with_lj, True, alpha, self.soft_steps) for alpha in self.soft_cores]
        stages += [(with_lj, True, 0.0, self.full_steps)]
        for optimizer, lj, soft_core, steps in stages:
            if steps > 0:
                atoms.calc = ForceFieldCalculator(energy, lj=lj, restraint=restraint,
                                                  soft_core=soft_core)  # fmt: skip
                optimizer(atoms, logfile=None).run(fmax=self.fmax, steps=steps)
        cell = cg_atoms.cell.array if cg_atoms.pbc.any() else None
        atoms.calc = None
        atoms.positions = project_to_beads(atoms.positions, self.cgmap, beads, cell)
        atoms.set_array("atomtypes", np.array(types))
        return atoms

    __call__ = transform
