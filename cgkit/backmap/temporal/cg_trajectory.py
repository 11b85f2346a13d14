"""CG trajectories that were never all-atom: Langevin MD of the beads with perturbed
Boltzmann-inverted bonded potentials.

A backmapper trained on mapped all-atom frames meets, in use, CG trajectories from a CG
force field, whose structures and dynamics differ from the mapped ones. This module
makes such input for tests and benchmarks: bond, angle and dihedral tables are the
direct Boltzmann inversion of a mapped ensemble (:mod:`cgkit.ibi`), the dihedral tables
are scaled by ``dihedral_scale`` (a perturbation of the backbone torsions), and the
beads are propagated with :func:`cgkit.ibi.run_cg_md` (ASE Langevin, bead masses).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from cgkit.ibi.iterate import run_cg_md
from cgkit.ibi.potentials import TabulatedPotential, boltzmann_inversion, histogram_density
from cgkit.ibi.topology import cg_interactions, default_grid, sample_values
from cgkit.units import KB_EV


def bonded_potentials(bead_positions, cgmap, temperature: float = 300.0,
                      dihedral_scale: float = 1.0) -> list[TabulatedPotential]:  # fmt: skip
    """Direct Boltzmann inversion of a map's bead bonds, angles and dihedrals.

    Parameters
    ----------
    bead_positions : ndarray (F, M, 3), Å
        The ensemble to invert (e.g. mapped all-atom frames).
    cgmap : cgkit.mapping.CGMap
        Gives the bonded bead tuples (``bead_bonds``, ``bead_angles``, ``bead_dihedrals``).
    temperature : float, K
    dihedral_scale : float
        Factor on every dihedral table (1: unperturbed).

    Returns
    -------
    list of TabulatedPotential (eV)
    """
    bead_positions = np.asarray(bead_positions, dtype=float)
    if bead_positions.ndim != 3 or bead_positions.shape[1] != cgmap.n_beads:
        raise ValueError(
            f"bead positions of shape {bead_positions.shape} for a map of {cgmap.n_beads} beads"
        )
    if cgmap.bead_bonds is None or len(cgmap.bead_bonds) == 0:
        raise ValueError("the map has no bead bonds (give the CGMap atom_bonds)")
    kt = KB_EV * temperature
    interactions = cg_interactions(
        cgmap.n_beads, cgmap.bead_bonds, cgmap.bead_angles, cgmap.bead_dihedrals
    )
    potentials = []
    for interaction in interactions:
        values = sample_values(bead_positions, interaction)
        grid = default_grid(interaction.kind, values)
        density = histogram_density(values, grid, interaction.kind)
        table = boltzmann_inversion(density, grid, interaction.kind, kt)
        if interaction.kind == "dihedral":
            table = dihedral_scale * table
        potentials.append(
            TabulatedPotential(interaction.kind, interaction.tuples, grid, table, interaction.name)
        )
    return potentials


def perturbed_cg_trajectory(
    bead_positions,
    cgmap,
    bead_masses,
    n_frames: int,
    interval_fs: float,
    timestep_fs: float = 1.0,
    temperature: float = 300.0,
    dihedral_scale: float = 0.5,
    friction_per_fs: float = 0.01,
    equilibration_fs: float = 2000.0,
    seed: int = 0,
) -> np.ndarray:
    """CG MD with the perturbed Boltzmann-inverted potentials of a mapped ensemble.

    Parameters
    ----------
    bead_positions : ndarray (F, M, 3), Å
        Mapped ensemble; the tables are inverted from it and MD starts from its frame 0.
    cgmap : cgkit.mapping.CGMap
    bead_masses : ndarray (M,), amu
    n_frames : int
    interval_fs, timestep_fs, equilibration_fs : float
        Frame interval (a multiple of the time step), time step and discarded
        equilibration, fs.
    temperature : float, K
    dihedral_scale : float
        Factor on the dihedral tables (:func:`bonded_potentials`).
    friction_per_fs : float
        Langevin friction, 1/fs.
    seed : int

    Returns
    -------
    ndarray (n_frames, M, 3), Å
    """
    from cgkit.calculators.tabulated import TabulatedCGCalculator

    bead_positions = np.asarray(bead_positions, dtype=float)
    bead_masses = np.asarray(bead_masses, dtype=float)
    if bead_masses.shape != (cgmap.n_beads,) or np.any(bead_masses <= 0):
        raise ValueError(f"need {cgmap.n_beads} positive bead masses, got {bead_masses}")
    interval = int(round(interval_fs / timestep_fs))
    if interval < 1 or n_frames < 1:
        raise ValueError(f"need n_frames >= 1 and interval >= timestep, got {n_frames}, {interval}")
    potentials = bonded_potentials(bead_positions, cgmap, temperature, dihedral_scale)
    start = Atoms(f"X{cgmap.n_beads}", positions=bead_positions[0], masses=bead_masses)
    return run_cg_md(
        start,
        TabulatedCGCalculator(potentials),
        temperature,
        steps=n_frames * interval,
        timestep=timestep_fs,
        friction=friction_per_fs,
        interval=interval,
        equilibration=int(round(equilibration_fs / timestep_fs)),
        seed=seed,
    )
