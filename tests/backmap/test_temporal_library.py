"""Library baseline, superposition, loss terms and trajectory metrics of temporal backmapping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from cgkit.backmap.temporal import LibraryBackmapper, losses
from cgkit.backmap.temporal import metrics as tm
from cgkit.mapping.superposition import kabsch_rotation


@pytest.fixture
def library_frames(rng):
    """30 random 8-atom 'molecules' and a 3-bead centre-of-group map."""
    frames = rng.normal(scale=1.5, size=(30, 8, 3))
    weights = np.zeros((3, 8))
    for bead, group in enumerate([[0, 1, 2], [3, 4], [5, 6, 7]]):
        weights[bead, group] = 1.0 / len(group)
    return frames, weights


def test_kabsch_recovers_rotation(rng):
    points = rng.normal(size=(6, 3))
    points -= points.mean(0)
    rot = Rotation.random(random_state=2).as_matrix()
    found = kabsch_rotation(points, points @ rot)
    np.testing.assert_allclose(found, rot, atol=1e-10)
    assert abs(np.linalg.det(found) - 1.0) < 1e-10
    # mirror images get a proper rotation, never a reflection
    mirrored = kabsch_rotation(points, points * np.array([1.0, 1.0, -1.0]))
    assert abs(np.linalg.det(mirrored) - 1.0) < 1e-10


def test_weighted_kabsch_ignores_zero_weight_points(rng):
    points = rng.normal(size=(7, 3))
    rot = Rotation.random(random_state=5).as_matrix()
    target = points @ rot
    target[5:] += rng.normal(scale=3.0, size=(2, 3))  # outliers the weights switch off
    weights = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 0.0, 0.0])
    centre_p = weights @ points / weights.sum()
    centre_t = weights @ target / weights.sum()
    found = kabsch_rotation(points - centre_p, target - centre_t, weights)
    np.testing.assert_allclose(found, rot, atol=1e-10)
    # unweighted, the outliers pull the fit away from the true rotation
    plain = kabsch_rotation(points - points.mean(0), target - target.mean(0))
    assert np.abs(plain - rot).max() > 1e-3


def test_library_recovers_rotated_library_frame(library_frames):
    frames, weights = library_frames
    library = LibraryBackmapper().fit(frames, weights)
    rot = Rotation.random(random_state=4).as_matrix()
    target = frames[[17, 3]] @ rot.T + np.array([10.0, -4.0, 2.0])
    index, rmsd, _ = library.nearest(np.einsum("mn,fnd->fmd", weights, target))
    assert list(index) == [17, 3] and np.all(rmsd < 1e-8)
    np.testing.assert_allclose(
        library.backmap(np.einsum("mn,fnd->fmd", weights, target)), target, atol=1e-8
    )
    # chunked search gives the same answer; max_frames strides the library
    assert list(LibraryBackmapper(chunk=4).fit(frames, weights).nearest(
        np.einsum("mn,fnd->fmd", weights, target))[0]) == [17, 3]  # fmt: skip
    assert len(LibraryBackmapper(max_frames=10).fit(frames, weights).positions_) == 10
    with pytest.raises(ValueError, match="3 beads"):
        library.nearest(np.zeros((2, 4, 3)))


def test_kl_and_schedules():
    mean, log_var = torch.zeros(4, 3), torch.zeros(4, 3)
    assert float(losses.kl_divergence(mean, log_var)) == 0.0
    # KL of N(1, 1) to N(0, 1) is 1/2 per dimension
    assert math.isclose(float(losses.kl_divergence(mean + 1, log_var)), 1.5, rel_tol=1e-6)
    assert losses.exponential_ramp(0, 100) == 0.0
    assert math.isclose(losses.exponential_ramp(100, 100, end=0.5), 0.5)
    mid = losses.exponential_ramp(50, 100)
    assert 0.0 < mid < 0.5  # exponential: slow start
    assert losses.cyclic_beta(0, 10, 2.0) == 0.0
    assert losses.cyclic_beta(5, 10, 2.0) == 2.0 and losses.cyclic_beta(12, 10, 2.0) == 0.8
    assert losses.cyclic_beta(3, 0, 2.0) == 2.0


def test_geometric_losses_are_invariant_and_zero_at_target(rng):
    x = torch.tensor(rng.normal(size=(2, 5, 3)))
    rot = torch.tensor(Rotation.random(random_state=5).as_matrix())
    moved = x @ rot.T + 3.0
    assert float(losses.distance_matrix_loss(moved, x)) < 1e-12
    assert float(losses.coordinate_loss(x, x)) == 0.0
    assert math.isclose(float(losses.coordinate_loss(x + 0.5, x)), 0.75, rel_tol=1e-9)
    weights = torch.full((1, 5), 0.2, dtype=torch.float64)
    centroid = x.mean(1, keepdim=True)
    assert float(losses.cg_consistency_loss(x, weights, centroid)) < 1e-20
    # the energy cap keeps large energies finite but monotonic
    e = torch.tensor([1.0, 50.0, 1e6])
    soft = [float(losses.energy_loss(v[None], cap=100.0)) for v in e]
    assert soft[0] == 1.0 and soft[1] == 50.0
    assert math.isclose(soft[2], 100.0 * (1 + math.log(1e4)), rel_tol=1e-5)  # log growth


def test_trajectory_metrics(rng):
    positions = np.cumsum(rng.normal(scale=0.1, size=(50, 4, 3)), axis=0)
    d = tm.displacements(positions, lag=2)
    np.testing.assert_allclose(d[0], np.linalg.norm(positions[2] - positions[0], axis=1))
    assert tm.displacements(positions, 1, np.repeat([0, 1], 25)).shape == (48, 4)
    # a square: dihedral 0, and bond lengths 1
    square = np.array([[[0, 1, 0], [0, 0, 0], [1, 0, 0], [1, 1, 0]]], dtype=float)
    assert abs(tm.dihedrals(square, [[0, 1, 2, 3]])[0, 0]) < 1e-9
    np.testing.assert_allclose(tm.bond_lengths(square, [[0, 1], [1, 2]]), [[1.0, 1.0]])
    symbols = ["C", "H", "H", "O"]
    js = tm.displacement_js(d, d, symbols)
    assert set(js) == {"all", "C", "H", "O"} and max(js.values()) < 1e-9
    assert tm.displacement_js(d, 3 * d, symbols)["all"] > 0.1
    phi_psi = rng.uniform(-180, 180, size=(2000, 2))
    same = tm.ramachandran_scores(phi_psi, phi_psi)
    assert same["overlap"] > 0.999 and same["js"] < 1e-9
    shifted = tm.ramachandran_scores(phi_psi, np.clip(phi_psi / 4 + 90, -180, 180))
    assert shifted["overlap"] < 0.2
    weights = np.full((1, 4), 0.25)
    assert tm.cg_consistency_rmsd(positions, weights, positions.mean(1, keepdims=True)) < 1e-12
