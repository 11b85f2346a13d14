"""Which beads a repair sweep re-places, and how they are grouped."""

from __future__ import annotations

import itertools

import numpy as np

from cgkit.backmap.repair import conflict_free_groups, contact_beads


def test_contact_beads_finds_the_close_pair_and_skips_exclusions():
    positions = np.array([[0.0, 0, 0], [1.0, 0, 0], [5.0, 0, 0], [5.5, 0, 0], [9.0, 0, 0]])
    sigma = np.full(5, 3.0)  # contact below 0.7 x 3 = 2.1 Å
    atom_to_bead = np.array([0, 0, 1, 2, 3])
    beads, pairs = contact_beads(positions, sigma, np.array([[0, 1]]), atom_to_bead)
    assert beads.tolist() == [1, 2] and pairs.tolist() == [[1, 2]]  # 0-1 is excluded
    beads, _ = contact_beads(positions, sigma, np.zeros((0, 2)), atom_to_bead)
    assert beads.tolist() == [0, 1, 2]  # now 0-1 counts (a contact within bead 0)
    # periodic: atom 4 at 9 Å is 1 Å from atom 0 through a 10 Å cell
    beads, pairs = contact_beads(positions, sigma, np.array([[0, 1]]), atom_to_bead,
                                 cell=10.0 * np.eye(3))  # fmt: skip
    assert beads.tolist() == [0, 1, 2, 3] and [0, 3] in np.sort(pairs, axis=1).tolist()


def test_groups_cover_every_bead_once_without_conflicts(rng):
    n_beads = 40
    neighbours = [[b - 1] * (b > 0) + [b + 1] * (b < n_beads - 1) for b in range(n_beads)]
    beads = np.sort(rng.choice(n_beads, size=25, replace=False))
    contacts = rng.choice(beads, size=(30, 2))
    groups = conflict_free_groups(beads, contacts, neighbours)
    assert sorted(np.concatenate(groups).tolist()) == beads.tolist()
    conflicting = {tuple(sorted(p)) for p in contacts.tolist() if p[0] != p[1]}
    conflicting |= {(b, b + 1) for b in range(n_beads - 1)}
    for group in groups:
        for pair in itertools.combinations(group.tolist(), 2):
            assert tuple(sorted(pair)) not in conflicting
    # a path of contacts 0-1-2 needs two groups; isolated beads need one
    assert len(conflict_free_groups(np.array([0, 1, 2]), np.array([[0, 1], [1, 2]]),
                                    [[]] * 3)) == 2  # fmt: skip
    assert len(conflict_free_groups(np.array([3, 7]), np.zeros((0, 2)), [[]] * 8)) == 1
    assert conflict_free_groups(np.array([], dtype=int), np.zeros((0, 2)), []) == []
