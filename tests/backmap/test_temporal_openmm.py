"""OpenMM side of temporal backmapping: peptide builder, MD into a store, energy term."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("openmm")
pytest.importorskip("rdkit")

from cgkit.backmap.temporal.openmm_energy import OpenMMEnergy  # noqa: E402
from cgkit.sampling.openmm_md import (  # noqa: E402
    backbone_map,
    capped_peptide,
    create_openmm_system,
    simulate_peptide,
)


@pytest.fixture(scope="module")
def dipeptide():
    return capped_peptide("A")


@pytest.fixture(scope="module")
def energy(dipeptide):
    return OpenMMEnergy(create_openmm_system(dipeptide.topology))


def test_dipeptide_topology(dipeptide):
    residues = [r.name for r in dipeptide.topology.residues()]
    assert residues == ["ACE", "ALA", "NME"]
    assert len(dipeptide.symbols) == 22
    assert sorted(set(dipeptide.symbols)) == ["C", "H", "N", "O"]
    # backbone: ACE C, N, CA, C, NME N; CA carries CB, HA and N
    names = [a.name for a in dipeptide.topology.atoms()]
    assert [names[i] for i in dipeptide.backbone] == ["C", "N", "CA", "C", "N"]
    lengths = np.linalg.norm(
        dipeptide.positions[dipeptide.bonds[:, 0]] - dipeptide.positions[dipeptide.bonds[:, 1]],
        axis=1,
    )
    assert len(dipeptide.bonds) == 21 and np.all((lengths > 0.9) & (lengths < 1.6))


def test_energy_gradient_is_minus_openmm_forces(dipeptide, energy, rng):
    positions = dipeptide.positions[None] + 0.05 * rng.standard_normal((2, 22, 3))
    x = torch.tensor(positions, requires_grad=True)
    e = energy(x)
    e.sum().backward()
    _, forces = energy.energies_and_forces(positions)
    np.testing.assert_allclose(x.grad.numpy(), -forces, rtol=1e-6, atol=1e-8)
    # and the forces are the derivative of the energy (central finite differences)
    h = 1e-4
    for atom, dim in [(0, 0), (7, 1), (15, 2)]:
        plus, minus = positions[:1].copy(), positions[:1].copy()
        plus[0, atom, dim] += h
        minus[0, atom, dim] -= h
        ep, _ = energy.energies_and_forces(plus)
        em, _ = energy.energies_and_forces(minus)
        assert abs((ep[0] - em[0]) / (2 * h) + forces[0, atom, dim]) < 1e-4


def test_energy_is_rigid_motion_invariant(dipeptide, energy, rng):
    from scipy.spatial.transform import Rotation

    rot = Rotation.random(random_state=1).as_matrix()
    moved = dipeptide.positions @ rot.T + np.array([3.0, -2.0, 10.0])
    e0, f0 = energy.energies_and_forces(dipeptide.positions[None])
    e1, f1 = energy.energies_and_forces(moved[None])
    assert abs(e0[0] - e1[0]) < 1e-6
    np.testing.assert_allclose(f1[0], f0[0] @ rot.T, atol=1e-5)


def test_md_store_frames_match_forcefield(tmp_path, energy):
    import cgkit.data

    path = simulate_peptide(
        tmp_path / "adp.h5", "A", n_frames=4, interval_fs=20.0, equilibration_fs=0.0, seed=3
    )
    with cgkit.data.open(path) as store:
        system = store["alanine-dipeptide"]
        assert system.n_frames == 4
        np.testing.assert_allclose(system.read_time(), [20.0, 40.0, 60.0, 80.0])
        positions = system.read_positions()
        stored_energy = system.read_labels("energy")
        forces = system.read_forces()
        cgmap = system.maps["backbone"]
    e, f = energy.energies_and_forces(positions)
    np.testing.assert_allclose(stored_energy, e, atol=1e-5)
    np.testing.assert_allclose(forces, f, atol=1e-4)
    # decimation map: beads are the backbone atoms
    np.testing.assert_allclose(cgmap.map_positions(positions), positions[:, [0, 6, 7, 8, 16]])


def test_backbone_map_with_cb(dipeptide):
    cgmap = backbone_map(dipeptide, with_cb=True)
    assert cgmap.n_beads == 6 and cgmap.bead_names[-1] == "CB"


def test_other_peptides_build_and_parameterise():
    structure = capped_peptide("GA", seed=2)
    assert [r.name for r in structure.topology.residues()] == ["ACE", "GLY", "ALA", "NME"]
    assert len(structure.symbols) == 29 and structure.phi_psi.shape == (2, 2, 4)
    energy = OpenMMEnergy(create_openmm_system(structure.topology))
    e, f = energy.energies_and_forces(structure.positions[None])
    # MMFF-relaxed start: moderate amber energy and forces
    assert np.isfinite(e).all() and abs(e[0]) < 5.0 and np.abs(f).max() < 10.0
    assert backbone_map(structure).n_beads == 8
    with pytest.raises(ValueError, match="unknown residue"):
        capped_peptide("AZ")


def test_hbond_constraints_from_openmm_fix_hydrogens_only(dipeptide, energy, rng):
    from openmm import app

    from cgkit.backmap.temporal import BondConstraints

    system = create_openmm_system(dipeptide.topology, constraints=app.HBonds)
    constraints = BondConstraints.from_openmm(system)
    symbols = np.asarray(dipeptide.symbols)
    assert len(constraints.pairs) == 12  # every hydrogen, each moved along its own bond
    assert set(symbols[constraints.pairs[:, 1]]) == {"H"}
    assert set(symbols[constraints.pairs[:, 0]]) == {"C", "N"}
    np.testing.assert_allclose(np.sort(np.unique(constraints.lengths.round(3))), [1.01, 1.09])
    noisy = dipeptide.positions + rng.normal(scale=0.05, size=dipeptide.positions.shape)
    fixed = constraints.apply(noisy[None])[0]
    anchor, moved = constraints.pairs.T
    np.testing.assert_allclose(
        np.linalg.norm(fixed[moved] - fixed[anchor], axis=1), constraints.lengths, atol=1e-12
    )
    heavy = symbols != "H"
    np.testing.assert_array_equal(fixed[heavy], noisy[heavy])
    # directions kept: each hydrogen only slides along its bond
    before = noisy[moved] - noisy[anchor]
    after = fixed[moved] - fixed[anchor]
    cosine = (before * after).sum(1) / np.linalg.norm(before, axis=1) / constraints.lengths
    np.testing.assert_allclose(cosine, 1.0, atol=1e-12)
    # the force field prices the bond-length noise; the constraints take most of it away
    e_noisy, e_fixed = energy.energies_and_forces(np.stack([noisy, fixed]))[0]
    assert e_fixed < e_noisy
    with pytest.raises(ValueError, match="moved by two constraints"):
        BondConstraints(np.array([[0, 3], [1, 3]]), np.array([1.0, 1.0]))
