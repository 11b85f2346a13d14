"""Force-field relaxation as an Atoms -> Atoms transform, alone and after a backmapper."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms

from cgkit.backmap.metrics import close_contacts
from cgkit.backmap.relax import (
    ForceFieldCalculator,
    ForceFieldRelaxer,
    RelaxedBackmapper,
    RelaxStage,
)


def _structure(topology, positions, cell=None):
    atoms = Atoms(topology.symbols, positions, cell=cell, pbc=cell is not None)
    atoms.set_array("atomtypes", np.array(topology.atom_types))
    return atoms


def _energy(relaxer, atoms):
    probe = atoms.copy()
    probe.calc = ForceFieldCalculator(relaxer.energy_model())
    return probe.get_potential_energy()


class NoisyBackmapper:
    """Stand-in backmapper: the reference chain plus seeded noise."""

    def __init__(self, topology, positions, scale=0.25):
        self.topology, self.positions, self.scale = topology, positions, scale

    def transform(self, cg_atoms, seed=None):
        noise = np.random.default_rng(seed).normal(scale=self.scale, size=self.positions.shape)
        return _structure(self.topology, self.positions + noise, cg_atoms.cell.array)


def test_relax_lowers_the_energy_keeps_the_mapping_and_leaves_the_input(chain_system):
    torch.set_num_threads(1)
    topology, ff, cgmap, positions = chain_system
    cell = np.diag([30.0, 30.0, 30.0])
    beads = cgmap.map_positions(positions)
    noisy = positions + np.random.default_rng(3).normal(scale=0.25, size=positions.shape)
    start = _structure(topology, noisy, cell)
    before = start.positions.copy()
    relaxer = ForceFieldRelaxer(ff, topology, cgmap, [RelaxStage("lbfgs", 300)])
    out = relaxer(start, beads)
    assert out is not start and np.array_equal(start.positions, before)
    assert start.calc is None and out.calc is None
    assert list(out.get_array("atomtypes")) == topology.atom_types
    assert np.allclose(out.cell.array, cell) and out.pbc.all()
    assert np.allclose(cgmap.map_positions(out.positions), beads, atol=1e-8)
    assert _energy(relaxer, out) < 0.1 * _energy(relaxer, start)
    cc = [tuple(b) for b in topology.bonds if topology.atom_types[b[0]] == "C" ==
          topology.atom_types[b[1]]]  # fmt: skip
    assert np.allclose([out.get_distance(i, j) for i, j in cc], 1.53, atol=0.05)


def test_a_molecule_split_by_the_cell_relaxes_as_if_whole(chain_system):
    """Wrapping atoms into a triclinic cell changes nothing but their images: the result
    equals the relaxation of the whole chain, and comes out whole."""
    torch.set_num_threads(1)
    topology, ff, cgmap, positions = chain_system
    cell = np.array([[14.0, 0.0, 0.0], [3.0, 13.0, 0.0], [1.0, -2.0, 12.0]])
    noisy = positions + np.random.default_rng(5).normal(scale=0.2, size=positions.shape)
    whole = noisy + [12.5, 6.0, 11.5]  # straddles the faces once wrapped
    frac = whole @ np.linalg.inv(cell)
    wrapped = (frac % 1.0) @ cell
    assert np.abs(wrapped - whole).max() > 5.0
    relaxer = ForceFieldRelaxer(ff, topology, cgmap, [RelaxStage("lbfgs", 100)])
    beads = cgmap.map_positions(whole)
    from_whole = relaxer(_structure(topology, whole, cell), beads)
    from_wrapped = relaxer(_structure(topology, wrapped, cell), beads)
    assert np.allclose(from_wrapped.positions, from_whole.positions, atol=1e-6)
    bonds = np.asarray(topology.bonds)
    lengths = np.linalg.norm(np.diff(from_wrapped.positions[bonds], axis=1)[:, 0], axis=1)
    assert lengths.max() < 2.0  # no bond spans the cell


def test_stages_run_in_order_and_empty_stages_change_nothing(chain_system):
    topology, ff, cgmap, positions = chain_system
    start = _structure(topology, positions + 0.1)
    idle = ForceFieldRelaxer(ff, topology, stages=[RelaxStage("fire", 0)])
    assert np.array_equal(idle(start).positions, start.positions)
    from ase.optimize import FIRE

    staged = ForceFieldRelaxer(ff, topology, stages=[("lbfgs", 50, False), (FIRE, 50, True, 0.5)])
    assert [s.optimizer for s in staged.stages] == ["lbfgs", FIRE]
    assert staged.stages[0].lj is False and staged.stages[1].soft_core == 0.5
    assert _energy(staged, staged(start)) < _energy(staged, start)


def test_relaxed_backmapper_relaxes_every_frame_onto_its_beads(chain_system):
    torch.set_num_threads(1)
    topology, ff, cgmap, positions = chain_system
    cell = np.diag([30.0, 30.0, 30.0])
    beads = cgmap.map_positions(positions)
    frames = [Atoms("X3", beads + shift, cell=cell, pbc=True) for shift in (0.0, 0.5)]
    raw = NoisyBackmapper(topology, positions)
    relaxer = ForceFieldRelaxer(ff, topology, cgmap, [RelaxStage("lbfgs", 200)])
    pipeline = RelaxedBackmapper(raw, relaxer)
    out = pipeline.backmap_trajectory(frames, seed=7)
    assert len(out) == 2
    for frame, atoms in zip(frames, out, strict=True):
        assert np.allclose(cgmap.map_positions(atoms.positions), frame.positions, atol=1e-8)
        assert close_contacts(atoms, topology, ff) == 0
    # frame i gets seed 7 + i, as the backmapper alone would
    first = pipeline(frames[0], seed=7)
    assert np.allclose(first.positions, out[0].positions)
    unrelaxed = raw.transform(frames[0], seed=7)
    assert _energy(relaxer, out[0]) < _energy(relaxer, unrelaxed)


def test_bad_input_is_refused_with_the_reason(chain_system):
    topology, ff, cgmap, positions = chain_system
    relaxer = ForceFieldRelaxer(ff, topology, cgmap)
    with pytest.raises(ValueError, match="3 atoms, the topology 20"):
        relaxer(Atoms("H3", positions[:3]))
    with pytest.raises(ValueError, match=r"shape \(2, 3\), the map needs \(3, 3\)"):
        relaxer(_structure(topology, positions), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="no cgmap"):
        ForceFieldRelaxer(ff, topology)(_structure(topology, positions), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="unknown optimizer 'newton'"):
        ForceFieldRelaxer(ff, topology, stages=[("newton", 5)])(_structure(topology, positions))
