"""Core behaviour of CGMap: mass/COM identities, equivariance, forces, decimation, Atoms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from cgkit.mapping import CGMap

torch.set_num_threads(1)

# ethanol (ase.build.molecule order C C O H H H H H H): CH3 = C0 + H6-8, CH2OH = C1 O2 H3-5
ETHANOL_GROUPS = [[0, 6, 7, 8], [1, 2, 3, 4, 5]]


@pytest.fixture
def ethanol_map(ethanol_atoms):
    return CGMap.from_groups(ETHANOL_GROUPS, weights="mass", masses=ethanol_atoms.get_masses())


def test_bead_masses_conserve_total_mass(ethanol_atoms, ethanol_map):
    masses = ethanol_atoms.get_masses()
    assert ethanol_map.bead_masses.sum() == pytest.approx(masses.sum(), rel=1e-14)
    expected = [masses[group].sum() for group in ETHANOL_GROUPS]
    np.testing.assert_allclose(ethanol_map.bead_masses, expected, rtol=1e-14)


def test_mass_weighted_bead_mean_is_molecule_com(ethanol_atoms, ethanol_map, rng):
    frames = ethanol_atoms.positions + rng.normal(scale=0.3, size=(5, 9, 3))
    beads = ethanol_map.map_positions(frames)
    bead_com = (
        np.einsum("m,fmk->fk", ethanol_map.bead_masses, beads) / ethanol_map.bead_masses.sum()
    )
    masses = ethanol_atoms.get_masses()
    atom_com = np.einsum("n,fnk->fk", masses, frames) / masses.sum()
    np.testing.assert_allclose(bead_com, atom_com, atol=1e-12)


def test_center_weights_give_geometric_centres(ethanol_atoms):
    cgmap = CGMap.from_groups(ETHANOL_GROUPS, weights="center")
    beads = cgmap.map_positions(ethanol_atoms.positions)
    for bead, group in enumerate(ETHANOL_GROUPS):
        np.testing.assert_allclose(beads[bead], ethanol_atoms.positions[group].mean(0), atol=1e-13)
    assert cgmap.bead_masses is None


def test_rotation_translation_equivariance(ethanol_atoms, ethanol_map, rng):
    frames = ethanol_atoms.positions + rng.normal(scale=0.2, size=(4, 9, 3))
    rotation = Rotation.random(random_state=3).as_matrix()
    shift = np.array([3.0, -7.5, 1.25])
    moved = frames @ rotation.T + shift
    expected = ethanol_map.map_positions(frames) @ rotation.T + shift
    np.testing.assert_allclose(ethanol_map.map_positions(moved), expected, atol=1e-12)


def test_single_frame_and_batched_agree(ethanol_atoms, ethanol_map):
    single = ethanol_map.map_positions(ethanol_atoms.positions)
    batched = ethanol_map.map_positions(ethanol_atoms.positions[None])
    assert single.shape == (2, 3) and batched.shape == (1, 2, 3)
    np.testing.assert_array_equal(single, batched[0])


def test_large_map_sparse_path_matches_dense(rng):
    n_beads, per_bead = 400, 8
    groups = np.arange(n_beads * per_bead).reshape(n_beads, per_bead)
    masses = rng.uniform(1.0, 30.0, size=n_beads * per_bead)
    cgmap = CGMap.from_groups(groups, masses=masses)
    frames = rng.normal(size=(3, n_beads * per_bead, 3))
    expected = np.einsum("mn,fnk->fmk", cgmap.weights, frames)
    np.testing.assert_allclose(cgmap.map_positions(frames), expected, atol=1e-12)


def _pair_energy_gradient(bead_positions):
    """Harmonic pair energy U = sum_{I<J} (|R_I - R_J| - 1.5)^2 / 2 and dU/dR, (M, 3)."""
    diff = bead_positions[:, None] - bead_positions[None]
    dist = np.linalg.norm(diff, axis=-1)
    np.fill_diagonal(dist, 1.0)
    factor = (dist - 1.5) / dist
    np.fill_diagonal(factor, 0.0)
    return np.einsum("ij,ijk->ik", factor, diff)


def test_mapped_forces_equal_cg_forces_for_cg_potential(ethanol_atoms, ethanol_map):
    # atoms feel U(W r): f = -W^T dU/dR; the force map must return -dU/dR exactly
    gradient = _pair_energy_gradient(ethanol_map.map_positions(ethanol_atoms.positions))
    atom_forces = -ethanol_map.weights.T @ gradient
    np.testing.assert_allclose(ethanol_map.map_forces(atom_forces), -gradient, atol=1e-12)


def test_shared_atom_forces_conserve_total_force(rng):
    # atom 2 has weight 1/2 in bead 0 and 3/5 in bead 1 -> force shares 5/11 and 6/11
    raw = np.array([[1.0, 0, 1.0, 0, 0], [0, 0, 3.0, 1.0, 1.0], [0, 1.0, 0, 0, 0]])
    cgmap = CGMap.from_groups([[0, 2], [2, 3, 4], [1]], weights=[[1, 1], [3, 1, 1], [1]])
    np.testing.assert_allclose(cgmap.weights, raw / raw.sum(1, keepdims=True))
    forces = rng.normal(size=(6, 5, 3))
    bead_forces = cgmap.map_forces(forces)
    np.testing.assert_allclose(bead_forces.sum(1), forces.sum(1), atol=1e-12)
    np.testing.assert_allclose(bead_forces[:, 0], forces[:, 0] + 5 / 11 * forces[:, 2], atol=1e-12)
    np.testing.assert_allclose(cgmap.shares.toarray()[:, 2], [5 / 11, 6 / 11, 0.0])
    assert cgmap.shared_atoms.tolist() == [2]


def test_explicit_matrix_weights_must_stay_inside_groups():
    matrix = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    cgmap = CGMap.from_groups([[0, 1], [1, 2]], weights=matrix)
    np.testing.assert_allclose(cgmap.weights, matrix / 2)
    with pytest.raises(ValueError, match="atom 2 to bead 0"):
        CGMap.from_groups([[0, 1], [1, 2]], weights=np.array([[1.0, 1, 1], [0, 1, 1]]))


def test_decimation_keeps_atoms_and_drops_the_rest(ethanol_atoms, rng):
    cgmap = CGMap.decimation([2, 0, 1], n_atoms=9, masses=ethanol_atoms.get_masses())
    np.testing.assert_array_equal(
        cgmap.map_positions(ethanol_atoms.positions), ethanol_atoms.positions[[2, 0, 1]]
    )
    forces = rng.normal(size=(9, 3))
    np.testing.assert_array_equal(cgmap.map_forces(forces), forces[[2, 0, 1]])
    np.testing.assert_allclose(cgmap.bead_masses, ethanol_atoms.get_masses()[[2, 0, 1]])
    with pytest.raises(ValueError, match="atom 0 is kept twice"):
        CGMap.decimation([0, 0], n_atoms=9)
    with pytest.raises(ValueError, match="atom index 9 is outside 0..8"):
        CGMap.decimation([9], n_atoms=9)


def test_call_returns_bead_atoms(ethanol_atoms, ethanol_map):
    ethanol_atoms.cell = [20.0, 21.0, 22.0]
    ethanol_atoms.pbc = [True, False, True]
    beads = ethanol_map(ethanol_atoms)
    assert len(beads) == 2
    np.testing.assert_allclose(beads.get_masses(), ethanol_map.bead_masses)
    assert beads.arrays["bead_types"].tolist() == ["B", "B"]
    assert beads.arrays["bead_names"].tolist() == ["B0", "B1"]
    np.testing.assert_array_equal(beads.cell.array, ethanol_atoms.cell.array)
    assert beads.pbc.tolist() == [True, False, True]
    expected = ethanol_map.map_positions(ethanol_atoms.positions)
    expected[:, [0, 2]] %= [20.0, 22.0]  # wrapped along the periodic axes only
    np.testing.assert_allclose(beads.positions, expected, atol=1e-12)


def test_call_takes_masses_from_atoms_when_map_has_none(ethanol_atoms):
    cgmap = CGMap.from_groups(ETHANOL_GROUPS, weights="center")
    beads = cgmap(ethanol_atoms)
    masses = ethanol_atoms.get_masses()
    np.testing.assert_allclose(beads.get_masses(), [masses[g].sum() for g in ETHANOL_GROUPS])


def test_torch_positions_are_mapped_differentiably(ethanol_atoms, ethanol_map):
    positions = torch.tensor(ethanol_atoms.positions, requires_grad=True)
    beads = ethanol_map.map_positions(positions)
    np.testing.assert_allclose(
        beads.detach().numpy(), ethanol_map.map_positions(ethanol_atoms.positions), atol=1e-12
    )
    beads[1, 2].backward()
    expected = np.zeros((9, 3))
    expected[:, 2] = ethanol_map.weights[1]
    np.testing.assert_allclose(positions.grad.numpy(), expected, atol=1e-14)


def test_repeat_builds_block_diagonal_map(ethanol_atoms, ethanol_map):
    bonded = CGMap.from_groups(
        ETHANOL_GROUPS, masses=ethanol_atoms.get_masses(), atom_bonds=[[0, 1], [1, 2], [2, 3]]
    )
    tripled = bonded.repeat(3)
    assert (tripled.n_atoms, tripled.n_beads) == (27, 6)
    frames = np.concatenate([ethanol_atoms.positions + 10.0 * k for k in range(3)])
    single = ethanol_map.map_positions(ethanol_atoms.positions)
    expected = np.concatenate([single + 10.0 * k for k in range(3)])
    np.testing.assert_allclose(tripled.map_positions(frames), expected, atol=1e-12)
    assert tripled.bead_bonds.tolist() == [[0, 1], [2, 3], [4, 5]]
    assert tripled.atom_bonds.max() == 9 * 2 + 3
