"""Force-field relaxation of all-atom structures, as an Atoms -> Atoms transform.

The torch force field of :mod:`cgkit.backmap.energy` is wrapped in an ASE calculator
(:class:`ForceFieldCalculator`) and minimised in stages (:class:`RelaxStage`: optimizer,
Lennard-Jones on/off, soft core, step budget), optionally restrained to the CG beads and
projected onto them at the end so that the result still maps onto its CG frame.
:class:`ForceFieldRelaxer` is the minimisation of the
:class:`~cgkit.backmap.GeometricBackmapper` baseline, and :class:`RelaxedBackmapper` runs
it after any backmapper (e.g. a short L-BFGS refinement of DBM structures).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from threadpoolctl import threadpool_limits

from cgkit.backmap.energy import ForceFieldEnergy, lj_pairs, pair_shifts
from cgkit.backmap.projection import project_to_beads
from cgkit.mapping.pbc import make_whole, minimum_image


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
    whole : bool
        The molecules are whole (every bond joins atoms of the same image, e.g. after
        :func:`cgkit.mapping.pbc.make_whole`): the bonded terms then skip the minimum image.
    """

    implemented_properties = ["energy", "forces"]

    def __init__(self, energy: ForceFieldEnergy, lj: bool = True, skin: float = 2.0,
                 restraint=None, soft_core: float = 0.0, whole: bool = False,
                 **kwargs):  # fmt: skip
        super().__init__(**kwargs)
        self.energy_model, self.lj, self.skin = energy, lj, skin
        self.whole = whole
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

    def _restraint_energy(self, positions):
        rows, cols, weights, beads, k = self.restraint
        dtype = positions.dtype
        steps = positions.index_select(0, cols) - beads[rows].to(dtype) + self._restraint_shifts
        residual = torch.zeros_like(beads, dtype=dtype)
        residual = residual.index_add(0, rows, weights.to(dtype)[:, None] * steps)
        return 0.5 * k * (residual**2).sum()

    def _refresh(self, atoms):
        """Rebuild the Verlet list (P, 2) with the periodic image shift (P, 3) Å of each
        pair, and the image of every atom relative to its beads, once an atom has moved
        more than half the skin since the last build."""
        moved = np.inf
        if self._anchor is not None:
            moved = np.linalg.norm(atoms.positions - self._anchor, axis=1).max()
        if moved <= 0.5 * self.skin:
            return
        cell = atoms.cell.array if atoms.pbc.any() else None
        dtype = self.energy_model.terms.b0.dtype
        self._pairs = (torch.zeros((0, 2), dtype=torch.long), None)
        if self.lj:
            cutoff = self.energy_model.cutoff + self.skin
            pairs = lj_pairs(atoms.positions, self.energy_model.excluded, cutoff, cell, atoms.pbc)
            shifts = pair_shifts(atoms.positions, pairs, cell)
            self._pairs = (torch.as_tensor(pairs), torch.as_tensor(shifts, dtype=dtype))
        if self.restraint is not None:
            rows, cols, _weights, beads, _k = self.restraint
            steps = atoms.positions[cols.numpy()] - beads[rows].numpy()
            shortest = steps if cell is None else minimum_image(steps[None], cell, atoms.pbc)[0]
            self._restraint_shifts = torch.as_tensor(shortest - steps, dtype=dtype)
        self._anchor = atoms.positions.copy()

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        dtype = self.energy_model.terms.b0.dtype
        positions = torch.tensor(self.atoms.positions, dtype=dtype, requires_grad=True)
        cell = self.atoms.cell.array if self.atoms.pbc.any() else None
        self._refresh(self.atoms)
        pairs, shifts = self._pairs  # the LJ pairs carry their periodic images
        bonded_cell = None if self.whole else cell
        energy = self.energy_model(positions, cell=bonded_cell, pairs=pairs,
                                   soft_core=self.soft_core, shifts=shifts)  # fmt: skip
        if self.restraint is not None:
            energy = energy + self._restraint_energy(positions)
        (grad,) = torch.autograd.grad(energy.sum(), positions)
        self.results = {"energy": float(energy.detach()), "forces": -grad.numpy().astype(float)}


class RelaxStage(NamedTuple):
    """One minimisation stage of a :class:`ForceFieldRelaxer`.

    Parameters
    ----------
    optimizer : ase.optimize.Optimizer subclass or str
        ``"lbfgs"``, ``"fire"``, ``"bfgs"`` or a class taking ``(atoms, logfile=None)``.
    steps : int
        Step budget (the stage also stops at the relaxer's ``fmax``).
    lj : bool
        Include Lennard-Jones.
    soft_core : float
        Soft-core ``alpha`` of the LJ term (0: plain LJ).
    """

    optimizer: object = "lbfgs"
    steps: int = 200
    lj: bool = True
    soft_core: float = 0.0


#: one L-BFGS stage of 200 steps with the plain LJ: a refinement of a backmapped structure
REFINE = (RelaxStage("lbfgs", 200, True, 0.0),)


def _optimizer_class(optimizer):
    from ase.optimize import BFGS, FIRE, LBFGS

    if not isinstance(optimizer, str):
        return optimizer
    known = {"lbfgs": LBFGS, "fire": FIRE, "bfgs": BFGS}
    if optimizer.lower() not in known:
        raise ValueError(f"unknown optimizer {optimizer!r}; use one of {sorted(known)}")
    return known[optimizer.lower()]


class ForceFieldRelaxer:
    """Minimise an all-atom structure with the force field, stage by stage.

    Parameters
    ----------
    forcefield : ForceField
    topology : Topology                all atoms of the system
    cgmap : cgkit.mapping.CGMap or None
        With ``bead_positions`` given to :meth:`relax`: restrain the mapped atoms to the
        beads during minimisation and project the result onto them exactly at the end.
    stages : sequence of RelaxStage    run in order (default :data:`REFINE`)
    fmax : float                       force convergence of every stage, eV/Å
    restraint_k : float                strength of the bead restraint, eV/Å^2 (0: none)
    bond_stiffness : float             factor on the ff bond constants (the DBM ff.txt bonds
                                       are soft because the reference MD constrains them)
    lj_cutoff : float                  Å
    dtype : torch.dtype                precision of the energy and forces
    blas_threads : int or None         numpy BLAS threads while minimising (None: unchanged);
                                       the optimizers' BLAS threads spin between calls and
                                       take the cores from torch's, so 1 halves the time of
                                       a relaxation on 2 cores
    """

    def __init__(self, forcefield, topology, cgmap=None, stages=REFINE, fmax=0.05,
                 restraint_k=50.0, bond_stiffness=100.0, lj_cutoff=6.0,
                 dtype=torch.float64, blas_threads=1):  # fmt: skip
        self.forcefield = forcefield
        self.topology = topology
        self.cgmap = cgmap
        self.stages = tuple(RelaxStage(*s) for s in stages)
        self.fmax = fmax
        self.restraint_k = restraint_k
        self.bond_stiffness = bond_stiffness
        self.lj_cutoff = lj_cutoff
        self.dtype = dtype
        self.blas_threads = blas_threads

    def energy_model(self) -> ForceFieldEnergy:
        """The force field of :meth:`relax`, bond constants scaled by ``bond_stiffness``."""
        energy = ForceFieldEnergy.from_topology(self.topology, self.forcefield, self.lj_cutoff,
                                                dtype=self.dtype)  # fmt: skip
        energy.terms.kb = energy.terms.kb * self.bond_stiffness
        return energy

    def relax(self, atoms: Atoms, bead_positions=None) -> Atoms:
        """Minimised copy of ``atoms`` (N atoms, Å); the input is not modified.

        Parameters
        ----------
        atoms : ase.Atoms
            N atoms in topology order; cell and pbc are used when periodic.
        bead_positions : ndarray (M, 3) Å or None
            CG frame to restrain to and project onto (needs ``cgmap``).

        Returns
        -------
        ase.Atoms
            New object with the same symbols, masses, arrays (e.g. ``atomtypes``), cell
            and pbc, and no calculator; periodic molecules come out whole (each atom at
            the image of its bonded neighbours).
        """
        if len(atoms) != self.topology.n_atoms:
            raise ValueError(f"structure has {len(atoms)} atoms, the topology "
                             f"{self.topology.n_atoms}")  # fmt: skip
        restraint = None
        if bead_positions is not None:
            if self.cgmap is None:
                raise ValueError("bead_positions given but the relaxer has no cgmap")
            bead_positions = np.asarray(bead_positions, dtype=float)
            if bead_positions.shape != (self.cgmap.n_beads, 3):
                raise ValueError(f"bead_positions has shape {bead_positions.shape}, the map "
                                 f"needs ({self.cgmap.n_beads}, 3)")  # fmt: skip
            if self.restraint_k > 0:
                restraint = (self.cgmap, bead_positions, self.restraint_k)
        out = atoms.copy()
        if out.pbc.any():  # whole molecules: the bonded terms need no minimum image
            out.positions = make_whole(out.positions, out.cell.array, self.topology.bonds,
                                       out.pbc)  # fmt: skip
        energy = self.energy_model()
        with threadpool_limits(limits=self.blas_threads, user_api="blas"):
            for stage in self.stages:
                if stage.steps > 0:
                    out.calc = ForceFieldCalculator(energy, lj=stage.lj, restraint=restraint,
                                                    soft_core=stage.soft_core,
                                                    whole=True)  # fmt: skip
                    optimizer = _optimizer_class(stage.optimizer)
                    optimizer(out, logfile=None).run(fmax=self.fmax, steps=stage.steps)
        out.calc = None
        if bead_positions is not None:
            cell = out.cell.array if out.pbc.any() else None
            out.positions = project_to_beads(out.positions, self.cgmap, bead_positions, cell)
        return out

    __call__ = relax


class RelaxedBackmapper:
    """A backmapper followed by a :class:`ForceFieldRelaxer` (an Atoms -> Atoms transform).

    Parameters
    ----------
    backmapper : object with ``transform(cg_atoms, seed=None) -> Atoms``
    relaxer : ForceFieldRelaxer
        Its ``cgmap`` restrains the relaxation to the input beads.
    """

    def __init__(self, backmapper, relaxer: ForceFieldRelaxer):
        self.backmapper = backmapper
        self.relaxer = relaxer

    def transform(self, cg_atoms, seed=None) -> Atoms:
        """Backmap one CG configuration (M beads, Å), then relax the result."""
        atoms = self.backmapper.transform(cg_atoms, seed=seed)
        beads = cg_atoms.positions if self.relaxer.cgmap is not None else None
        return self.relaxer.relax(atoms, beads)

    __call__ = transform

    def backmap_trajectory(self, cg_frames, store=None, seed=0) -> list[Atoms]:
        """Backmap and relax every CG frame (frame ``i`` with seed ``seed + i``); see
        :func:`backmap_frames`."""
        return backmap_frames(self.transform, cg_frames, store, seed)


def backmap_frames(transform, cg_frames, store=None, seed=0) -> list[Atoms]:
    """Apply ``transform(cg_atoms, seed=seed + i)`` to every CG frame.

    Parameters
    ----------
    transform : callable
    cg_frames : iterable of ase.Atoms
    store : cgkit.data System or None
        Receives the backmapped positions (and cells) via ``append_frames``.
    seed : int
    """
    out = []
    for i, frame in enumerate(cg_frames):
        atoms = transform(frame, seed=seed + i)
        out.append(atoms)
        if store is not None:
            periodic = atoms.pbc.any()
            store.append_frames(atoms.positions[None],
                                cell=atoms.cell.array[None] if periodic else None,
                                pbc=atoms.pbc[None] if periodic else None)  # fmt: skip
    return out
