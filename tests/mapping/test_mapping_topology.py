"""CG topology derived from atom bonds: bonds crossing beads, angles, dihedrals."""

from __future__ import annotations

import numpy as np

from cgkit.mapping import CGMap
from cgkit.mapping.topology import angles_from_bonds, dihedrals_from_bonds


def test_linear_chain_counts():
    bonds = np.array([[k, k + 1] for k in range(5)])
    assert angles_from_bonds(bonds, 6).tolist() == [[k, k + 1, k + 2] for k in range(4)]
    assert dihedrals_from_bonds(bonds, 6).tolist() == [[k, k + 1, k + 2, k + 3] for k in range(3)]


def test_branched_and_ring_topologies():
    star = np.array([[0, 1], [0, 2], [0, 3]])
    assert angles_from_bonds(star, 4).tolist() == [[1, 0, 2], [1, 0, 3], [2, 0, 3]]
    assert len(dihedrals_from_bonds(star, 4)) == 0
    triangle = np.array([[0, 1], [1, 2], [0, 2]])
    assert len(angles_from_bonds(triangle, 3)) == 3
    assert len(dihedrals_from_bonds(triangle, 3)) == 0  # a dihedral needs 4 distinct beads
    square = np.array([[0, 1], [1, 2], [2, 3], [0, 3]])
    dihedrals = dihedrals_from_bonds(square, 4)
    assert len(dihedrals) == 4  # one per central bond
    assert all(row[1] < row[2] for row in dihedrals.tolist())


def test_bead_bonds_follow_atom_bonds_across_bead_boundaries():
    # butane-like chain of 6 atoms in 3 beads of 2: only the 1-2 and 3-4 bonds cross
    atom_bonds = [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]]
    cgmap = CGMap.from_groups([[0, 1], [2, 3], [4, 5]], weights="center", atom_bonds=atom_bonds)
    assert cgmap.bead_bonds.tolist() == [[0, 1], [1, 2]]
    assert cgmap.bead_angles.tolist() == [[0, 1, 2]]
    assert cgmap.bead_dihedrals.shape == (0, 4)


def test_bithiophene_8_bead_topology_is_connected(bithiophene_dir):
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    cgmap = CGMap.read(bithiophene_dir / "maps" / "8_bead.map")
    bonds = cgmap.bead_bonds
    graph = coo_matrix((np.ones(len(bonds)), (bonds[:, 0], bonds[:, 1])), shape=(8, 8))
    assert connected_components(graph, directed=False)[0] == 1
    # every bead bond is backed by an atom bond between the two beads
    weights = cgmap.weights
    for i, j in bonds:
        atoms_i, atoms_j = np.flatnonzero(weights[i]), np.flatnonzero(weights[j])
        backed = [
            (a in atoms_i and b in atoms_j) or (a in atoms_j and b in atoms_i)
            for a, b in cgmap.atom_bonds
        ]
        assert any(backed)


def test_no_topology_without_bonds():
    cgmap = CGMap.from_groups([[0], [1]], weights="center")
    assert cgmap.bead_bonds is None and cgmap.bead_angles is None
    assert cgmap.bead_dihedrals is None
