"""CG consistency of backmapped atoms: the projection and the per-bead sampling constraint."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from cgkit.backmap.projection import BeadConstraint, project_to_beads
from cgkit.mapping import CGMap


def _shared_map():
    """Two beads; atom 2 is placed with bead 0 but weighs in bead 1's row (as in sPS)."""
    weights = np.array([[1.0, 1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 2.0, 2.0]])
    sequences = [np.array([0, 1, 2]), np.array([4, 3])]
    return CGMap(weights, masses=np.ones(5), bead_types=["A", "B"]), sequences


def test_constraint_shift_puts_the_bead_on_its_target(rng):
    cgmap, sequences = _shared_map()
    constraint = BeadConstraint(cgmap, sequences)
    np.testing.assert_allclose(constraint.sequence_weights[1], [0.4, 0.4])  # order of sequence
    assert constraint.other_atoms[1].tolist() == [2]
    positions = rng.normal(size=(5, 3))
    placed = np.array([True, True, True, False, False])
    centres = rng.normal(size=(1, 3))
    rotations = Rotation.random(1, random_state=1).as_matrix()
    weights, scale, offset = constraint.terms(np.array([1]), positions, placed, centres, rotations)
    local = rng.normal(size=(1, 2, 3))  # candidate positions of atoms 4, 3 in the bead frame
    shifted = (
        local - (np.einsum("bl,bld->bd", weights, local) + offset)[:, None] * scale[:, None, None]
    )
    positions[[4, 3]] = centres[0] + shifted[0] @ rotations[0]
    np.testing.assert_allclose(cgmap.map_positions(positions)[1], centres[0], atol=1e-12)
    # a sequence that does not weigh in its own row is left alone (scale 0)
    alone = BeadConstraint(
        CGMap(np.array([[0.0, 1.0]]), masses=np.ones(2), allow_unmapped=True), [np.array([0])]
    )
    assert alone.terms(np.array([0]), np.zeros((2, 3)), np.ones(2, bool), np.zeros((1, 3)),
                       np.eye(3)[None])[1][0] == 0.0  # fmt: skip


def test_projection_is_the_smallest_move_onto_the_beads(rng):
    cgmap, _ = _shared_map()
    positions = rng.normal(size=(5, 3))
    targets = cgmap.map_positions(positions) + rng.normal(scale=0.3, size=(2, 3))
    projected = project_to_beads(positions, cgmap, targets)
    np.testing.assert_allclose(cgmap.map_positions(projected), targets, atol=1e-12)
    # any other move onto the beads (here: add a null-space move) is longer
    other = projected.copy()
    other[[0, 1]] += np.array([[0.1, 0, 0], [-0.1, 0, 0]])
    np.testing.assert_allclose(cgmap.map_positions(other), targets, atol=1e-12)
    assert np.linalg.norm(other - positions) > np.linalg.norm(projected - positions)
