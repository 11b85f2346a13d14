"""Geometry and basis of CGMP: radius graph, reference angles, ComENet bases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from cgkit.cgmp.basis import AngleBasis, TorsionBasis, real_spherical_harmonics
from cgkit.cgmp.geometry import edge_angles, radius_graph, score_aware_distance_sq


def _frames(rng, n_frames=3, n_atoms=7):
    return torch.tensor(rng.normal(scale=1.5, size=(n_frames, n_atoms, 3)), dtype=torch.float64)


def test_radius_graph_is_symmetric_and_respects_cutoff(rng):
    positions = _frames(rng)
    gates = torch.ones(7, dtype=torch.float64)
    edge_index, distance = radius_graph(positions, gates, cutoff=2.5)
    flat = positions.reshape(-1, 3)
    true = (flat[edge_index[1]] - flat[edge_index[0]]).norm(dim=-1)
    np.testing.assert_allclose(distance.numpy(), true.numpy(), atol=1e-12)
    assert (distance < 2.5).all()
    # every pair within the cutoff of the same frame is present, in both directions
    dist = torch.cdist(positions, positions)
    expected = int(((dist < 2.5).sum() - dist.shape[0] * dist.shape[1]).item())
    assert edge_index.shape[1] == expected
    pairs = set(map(tuple, edge_index.T.tolist()))
    assert all((j, i) in pairs for i, j in pairs)
    assert (edge_index[0] // 7 == edge_index[1] // 7).all()  # never across frames


def test_score_aware_distance_removes_switched_off_atom(rng):
    positions = _frames(rng, n_frames=1, n_atoms=5) * 0.3  # all atoms within 1.5 Å
    gates = torch.ones(5, dtype=torch.float64)
    gates[2] = 0.0
    d_sq = score_aware_distance_sq(positions, gates, cutoff=4.0)
    bare = torch.cdist(positions, positions) ** 2
    np.testing.assert_allclose((d_sq - bare)[0, 2, [0, 1, 3, 4]].numpy(), 2 * 4.0**2)
    np.testing.assert_allclose((d_sq - bare)[0, 0, 1].item(), 0.0, atol=1e-12)
    edge_index, _ = radius_graph(positions, gates, cutoff=4.0)
    assert not (edge_index == 2).any()
    assert edge_index.shape[1] == 4 * 3


def test_edge_angles_invariant_to_rotation_and_translation(rng):
    positions = _frames(rng)
    gates = torch.tensor([1.0, 0.95, 0.9, 1.0, 0.8, 1.0, 0.99], dtype=torch.float64)
    edge_index, _ = radius_graph(positions, gates, cutoff=6.0)
    ref = edge_angles(positions.reshape(-1, 3), gates.repeat(3), edge_index)
    rotation = torch.tensor(Rotation.random(random_state=3).as_matrix())
    moved = positions @ rotation.T + torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    new = edge_angles(moved.reshape(-1, 3), gates.repeat(3), edge_index)
    for a, b in zip(ref, new, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-9)
    theta, phi, tau = ref
    assert (theta >= 0).all() and (theta <= math.pi + 1e-9).all()
    assert (phi.abs() > 1e-3).any() and (tau.abs() > 1e-3).any()


def test_isolated_and_single_neighbour_atoms_have_zero_angles_and_finite_gradients():
    # atom 0-1 is a dimer; atom 2 is far away (no neighbours)
    positions = torch.tensor(
        [[[0.0, 0.0, 0.0], [1.2, 0.1, 0.0], [30.0, 0.0, 0.0]]], requires_grad=True
    )
    gates = torch.ones(3, requires_grad=True)
    edge_index, _ = radius_graph(positions, gates, cutoff=5.0)
    theta, phi, tau = edge_angles(positions.reshape(-1, 3), gates, edge_index)
    assert edge_index.shape[1] == 2
    # degree 1: the only neighbour defines the reference, so theta = 0; phi/tau are undefined
    np.testing.assert_allclose(theta.detach().numpy(), 0.0, atol=1e-3)
    np.testing.assert_allclose(phi.detach().numpy(), 0.0)
    np.testing.assert_allclose(tau.detach().numpy(), 0.0)
    (theta.sum() + phi.sum() + tau.sum()).backward()
    assert torch.isfinite(positions.grad).all() and torch.isfinite(gates.grad).all()


def test_reference_weight_fades_angles_continuously():
    """A neighbour whose reference weight 2 ReLU(g_i g_j - 1/2) vanishes stops shaping angles."""
    positions = torch.tensor(
        [[[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.3, 0.0], [0.3, 0.4, 1.1]]],
        dtype=torch.float64,
    )
    base = torch.ones(4, dtype=torch.float64)
    edge_index, _ = radius_graph(positions, base, cutoff=5.0)
    centre0 = edge_index[0] == 0
    thetas = []
    for g3 in (0.5, 0.5 + 1e-6, 0.6, 1.0):
        gates = base.clone()
        gates[3] = g3
        theta, _, _ = edge_angles(positions.reshape(-1, 3), gates, edge_index)
        thetas.append(theta[centre0].numpy())
    np.testing.assert_allclose(thetas[0], thetas[1], atol=1e-5)  # continuous at the threshold
    assert np.abs(thetas[3] - thetas[0]).max() > 1e-3  # and it matters once switched on


def test_radial_basis_vanishes_at_cutoff_and_is_normalised():
    basis = TorsionBasis(n_radial=3, n_spherical=3, cutoff=5.0)
    radial = basis.radial(torch.tensor([5.0], dtype=torch.float32))
    np.testing.assert_allclose(radial.numpy(), 0.0, atol=1e-5)
    # orthonormality of the normalised Bessel functions on [0, 1] with weight x^2
    x = torch.linspace(1e-4, 1.0, 20001, dtype=torch.float64)
    values = basis.radial(x.float() * 5.0).double()  # (X, L, K)
    for degree in range(3):
        f = values[:, degree, :]
        gram = torch.trapezoid(f[:, :, None] * f[:, None, :] * x[:, None, None] ** 2, x, dim=0)
        np.testing.assert_allclose(gram.numpy(), np.eye(3), atol=2e-3)


def test_spherical_harmonics_addition_theorem(rng):
    theta = torch.tensor(rng.uniform(0, math.pi, 50))
    phi = torch.tensor(rng.uniform(-math.pi, math.pi, 50))
    harmonics = real_spherical_harmonics(4, theta, phi)
    start = 0
    for degree in range(4):
        block = harmonics[:, start : start + 2 * degree + 1]
        np.testing.assert_allclose(
            (block**2).sum(-1).numpy(), (2 * degree + 1) / (4 * math.pi), rtol=1e-10
        )
        start += 2 * degree + 1


def test_basis_shapes_and_degree_limit():
    torsion = TorsionBasis(n_radial=4, n_spherical=2, cutoff=5.0)
    angle = AngleBasis(n_radial=4, n_spherical=2, cutoff=5.0)
    d = torch.tensor([1.0, 2.0, 3.0])
    t = torch.tensor([0.1, 0.2, 0.3])
    assert torsion(d, t, t).shape == (3, 16)
    assert angle(d, t).shape == (3, 8)
    with pytest.raises(ValueError, match="n_spherical"):
        TorsionBasis(n_radial=3, n_spherical=5, cutoff=5.0)
