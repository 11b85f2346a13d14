"""Structural metrics and the geometric baseline backmapper."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms

from cgkit.backmap.energy import ForceFieldEnergy
from cgkit.backmap.forcefield import Topology
from cgkit.backmap.geometric import ForceFieldCalculator, GeometricBackmapper
from cgkit.backmap.metrics import (
    close_contact_pairs,
    close_contacts,
    js_divergence,
    nonbonded_rdf,
    per_molecule_lj,
    select_terms,
    term_values,
)


def test_js_divergence_bounds():
    p = np.array([1.0, 2.0, 3.0, 0.0])
    assert js_divergence(p, 2 * p) == pytest.approx(0.0, abs=1e-12)
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(np.log(2))
    q = np.array([0.5, 1.0, 1.0, 2.0])
    assert js_divergence(p, q) == pytest.approx(js_divergence(q, p))


def test_angles_are_rigid_motion_and_wrap_invariant(chain_system, rng):
    topology, _ff, _cgmap, positions = chain_system
    index = select_terms(topology, "angle", ("C", "C", "C"))
    assert len(index) == 4
    atoms = Atoms(topology.symbols, positions)
    ref = term_values(atoms, index)
    a, b = positions[0] - positions[4], positions[7] - positions[4]
    assert ref[0] == pytest.approx(np.degrees(np.arccos(a @ b / np.linalg.norm(a) /
                                                        np.linalg.norm(b))))  # fmt: skip
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    cell = np.array([[8.0, 0, 0], [1.5, 7.0, 0], [0, 0.5, 9.0]])
    moved = Atoms(topology.symbols, positions @ q.T + [5.0, 3.0, 4.0], cell=cell, pbc=True)
    moved.wrap()
    assert np.allclose(term_values(moved, index), ref)


def test_close_contacts_and_per_molecule_lj(chain_system):
    topology, ff, _cgmap, positions = chain_system
    atoms = Atoms(topology.symbols, positions)
    assert close_contacts(atoms, topology, ff) == 0
    clash = positions.copy()
    clash[19] = clash[0] + [0.3, 0.0, 0.0]  # end H onto the other end's carbon (1-19 apart)
    excluded = {tuple(p) for p in topology.excluded_pairs().tolist()}
    sigma = [ff.atom_types[t].sigma for t in topology.atom_types]
    brute = sum(
        np.linalg.norm(clash[i] - clash[j]) < 0.7 * 0.5 * (sigma[i] + sigma[j])
        for i in range(len(clash))
        for j in range(i + 1, len(clash))
        if (i, j) not in excluded
    )
    assert brute >= 1
    assert close_contacts(Atoms(topology.symbols, clash), topology, ff) == brute
    two = topology.replicate(2)
    both = Atoms(two.symbols, np.concatenate([positions, positions + [0.0, 0.0, 4.5]]))
    per_chain = per_molecule_lj(both, two, ff, cutoff=20.0)
    total = ForceFieldEnergy.from_topology(two, ff, cutoff=20.0, dtype=torch.float64)
    lj = float(total.components(torch.tensor(both.positions))["lj"])
    assert per_chain.sum() == pytest.approx(lj) and per_chain[0] == pytest.approx(per_chain[1])


def test_close_contacts_use_the_shortest_image_in_a_skewed_cell():
    """Rounding fractional coordinates gives a 7.3 Å image here; the shortest is 1.52 Å."""
    cell = np.array([[10.0, 0.0, 0.0], [7.0, 3.0, 0.0], [0.0, 0.0, 10.0]])
    first = np.array([1.0, 0.5, 5.0])
    positions = np.stack([first, first + [-3.128, 4.518, 0.0]])
    sigma = np.array([3.0, 3.0])
    pairs = close_contact_pairs(positions, sigma, np.zeros((0, 2), int), 0.7, cell)
    assert pairs.tolist() == [[0, 1]]
    # not periodic along b: the atoms are 5.5 Å apart
    flat = close_contact_pairs(positions, sigma, np.zeros((0, 2), int), 0.7, cell,
                               (True, False, True))  # fmt: skip
    assert len(flat) == 0


def test_rdf_of_uncorrelated_points_is_one(rng):
    n = 1500
    cell = np.eye(3) * 30.0
    empty = np.zeros((0, 2), int)
    topology = Topology(
        ["C"] * n,
        ["C"] * n,
        empty,
        np.zeros((0, 3), int),
        np.zeros((0, 4), int),
        np.zeros(0, int),
        empty,
        0,
    )
    atoms = Atoms(f"C{n}", rng.uniform(0, 30.0, size=(n, 3)), cell=cell, pbc=True)
    r, g = nonbonded_rdf(atoms, topology, types=("C",), r_max=8.0, n_bins=16)
    assert np.mean(g[r > 3.0]) == pytest.approx(1.0, abs=0.05)


def test_baseline_minimises_and_keeps_the_mapping(chain_system):
    torch.set_num_threads(1)
    topology, ff, cgmap, positions = chain_system
    beads = cgmap.map_positions(positions)
    baseline = GeometricBackmapper(ff, topology, cgmap, bonded_steps=300, full_steps=300)
    aa = baseline(Atoms("X3", beads), seed=1)
    assert np.allclose(cgmap.map_positions(aa.positions), beads, atol=1e-8)
    assert close_contacts(aa, topology, ff) == 0
    energy = ForceFieldEnergy.from_topology(topology, ff, cutoff=8.0, dtype=torch.float64)
    calc = ForceFieldCalculator(energy)
    start = Atoms(topology.symbols, beads[np.asarray(cgmap.weights).argmax(0)] +
                  np.random.default_rng(1).normal(scale=0.5, size=positions.shape))  # fmt: skip
    start.calc = calc
    aa.calc = ForceFieldCalculator(energy)
    assert aa.get_potential_energy() < start.get_potential_energy()
    # C-C bonds end near b0 = 1.53 Å
    cc = [tuple(b) for b in topology.bonds if topology.atom_types[b[0]] == "C" ==
          topology.atom_types[b[1]]]  # fmt: skip
    lengths = [aa.get_distance(i, j) for i, j in cc]
    assert np.allclose(lengths, 1.53, atol=0.15)


def test_baseline_separates_interpenetrating_chains(chain_system):
    """Two chains whose beads lie 4 Å apart: the minimised structure has no clashes,
    so the Lennard-Jones term is in the minimiser's energy and the stages converge."""
    torch.set_num_threads(1)
    topology, ff, cgmap, positions = chain_system
    two = topology.replicate(2)
    both_map = cgmap.repeat(2)
    beads = cgmap.map_positions(positions)
    both_beads = np.concatenate([beads, beads + [0.0, 0.0, 4.0]])
    baseline = GeometricBackmapper(ff, two, both_map, displacement=0.3)
    aa = baseline(Atoms("X6", both_beads), seed=0)
    assert close_contacts(aa, two, ff) == 0
    assert np.allclose(both_map.map_positions(aa.positions), both_beads, atol=1e-8)
    inter = per_molecule_lj(aa, two, ff, cutoff=8.0)
    assert np.all(inter < 0.0)  # attractive, not overlapping
