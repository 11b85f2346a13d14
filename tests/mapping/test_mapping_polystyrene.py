"""Fritz et al.'s sPS map reproduces the shipped CG frames (all 14 AA/CG pairs)."""

from __future__ import annotations

import numpy as np
import pytest

from cgkit.mapping import minimum_image, polystyrene_fritz_map

N_CHAINS = 36


@pytest.fixture(scope="module")
def fritz_map(sps_dir):
    return polystyrene_fritz_map(
        sps_dir / "aa_top" / "PS1.itp", sps_dir / "mapping" / "PS1.map", n_chains=N_CHAINS
    )


def test_all_shipped_snapshots_are_reproduced(sps_dir, fritz_map):
    from ase.io import read

    aa_paths = sorted((sps_dir / "reference_snapshots").glob("*/aa/*.gro"))
    assert len(aa_paths) == 14
    for aa_path in aa_paths:
        atoms = read(aa_path)
        reference = read(aa_path.parent.parent / "cg" / aa_path.name)
        assert len(atoms) == 5832 and len(reference) == 720
        beads = fritz_map(atoms)
        gap = minimum_image((beads.positions - reference.positions)[None], atoms.cell.array)[0]
        worst = np.linalg.norm(gap, axis=1).max()
        assert worst < 0.02, f"{aa_path}: bead off by {worst / 10:.4f} nm"
        # bead names follow the CG .gro (B1 S1 B2 S2 ... per chain)
        assert list(fritz_map.bead_names[:4]) == list(reference.arrays["atomtypes"][:4])


def test_bead_definitions(fritz_map):
    masses = fritz_map.masses
    first_chain = fritz_map.weights[:20, :162]
    # chain-end backbone bead: the terminal carbon (1-based C2) alone
    assert fritz_map.atoms_of_bead(0).tolist() == [1]
    # side-chain bead: phenyl ring C6..H16 (1-based), mass weighted
    phenyl = np.arange(5, 16)
    np.testing.assert_allclose(first_chain[1, phenyl], masses[phenyl] / masses[phenyl].sum())
    # B3: CH2 (H33 C34 H35) plus half of the CH groups H20 C21 and H36 C37 (1-based)
    atoms = np.array([32, 33, 34, 19, 20, 35, 36])
    shares = np.array([1, 1, 1, 0.5, 0.5, 0.5, 0.5])
    expected = shares * masses[atoms] / (shares * masses[atoms]).sum()
    assert fritz_map.atoms_of_bead(4).tolist() == sorted(atoms.tolist())
    np.testing.assert_allclose(first_chain[4, atoms], expected, rtol=1e-14)
    # per chain 8 CH groups are shared; only the methyl/end-cap hydrogens carry no weight
    assert len(fritz_map.shared_atoms) == 16 * N_CHAINS
    unmapped = np.flatnonzero(first_chain.sum(0) == 0)
    assert unmapped.tolist() == [0, 2, 160, 161]


def test_shared_map_conserves_force_and_mass(fritz_map, rng):
    forces = rng.normal(size=(2, fritz_map.n_atoms, 3))
    mapped_atoms = fritz_map.weights.sum(0) > 0
    bead_forces = fritz_map.map_forces(forces)
    np.testing.assert_allclose(
        bead_forces.sum(1), forces[:, mapped_atoms].sum(1), rtol=1e-10, atol=1e-10
    )
    assert fritz_map.bead_masses.sum() == pytest.approx(fritz_map.masses[mapped_atoms].sum())
    side_chain = np.array([t == "S" for t in fritz_map.bead_types])
    np.testing.assert_allclose(fritz_map.bead_masses[side_chain], 6 * 12.011 + 5 * 1.008)


def test_cg_topology_from_shared_atoms(fritz_map):
    bonds = {tuple(b) for b in fritz_map.bead_bonds[fritz_map.bead_bonds.max(1) < 20].tolist()}
    # side chain k hangs on the CH shared by backbone beads k and k + 1
    assert {(2, 3), (3, 4)} <= bonds
    # consecutive backbone beads share a CH group
    assert {(2, 4), (4, 6)} <= bonds
    # no bond between chains
    assert not np.any((fritz_map.bead_bonds // 20)[:, 0] != (fritz_map.bead_bonds // 20)[:, 1])
