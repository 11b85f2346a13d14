"""Distance-matrix features: invariances, permutation behaviour, torch/numpy agreement."""

import numpy as np
import pytest
import torch
from scipy.spatial.distance import pdist
from scipy.spatial.transform import Rotation

from cgkit.features import Standardizer, distance_features, n_pair_features, pair_indices


@pytest.fixture
def bead_positions(rng):
    return rng.normal(scale=3.0, size=(5, 7, 3))


def test_matches_scipy_pdist(bead_positions):
    features = distance_features(bead_positions)
    assert features.shape == (5, n_pair_features(7))
    for frame, row in zip(bead_positions, features, strict=True):
        np.testing.assert_allclose(row, pdist(frame), rtol=1e-12)
    np.testing.assert_allclose(distance_features(bead_positions, squared=True), features**2)


def test_rotation_translation_invariance(bead_positions, rng):
    rotation = Rotation.random(random_state=3).as_matrix()
    moved = bead_positions @ rotation.T + rng.normal(size=3) * 10
    np.testing.assert_allclose(
        distance_features(moved), distance_features(bead_positions), atol=1e-10
    )


def test_permutation_permutes_features(bead_positions):
    permutation = np.array([3, 0, 6, 1, 5, 2, 4])
    permuted = distance_features(bead_positions[:, permutation])
    full = np.zeros((5, 7, 7))
    rows, cols = pair_indices(7)
    full[:, rows, cols] = distance_features(bead_positions)
    full = full + full.transpose(0, 2, 1)
    expected = full[:, permutation][:, :, permutation][:, rows, cols]
    np.testing.assert_allclose(permuted, expected)


def test_torch_matches_numpy_and_is_differentiable(bead_positions):
    tensor = torch.tensor(bead_positions, requires_grad=True)
    features = distance_features(tensor)
    np.testing.assert_allclose(features.detach().numpy(), distance_features(bead_positions))
    features.sum().backward()
    assert torch.isfinite(tensor.grad).all()
    # sum of all pair distances is translation invariant: gradients sum to zero per frame
    np.testing.assert_allclose(tensor.grad.sum(dim=1).numpy(), 0.0, atol=1e-10)


def test_single_frame_and_bad_shapes(bead_positions):
    assert distance_features(bead_positions[0]).shape == (21,)
    with pytest.raises(ValueError, match="shape"):
        distance_features(np.zeros((4, 3, 2)))
    with pytest.raises(ValueError, match="at least 2 beads"):
        distance_features(np.zeros((4, 1, 3)))


def test_standardizer_roundtrip(bead_positions, rng):
    features = distance_features(rng.normal(size=(200, 6, 3)))
    scaler = Standardizer().fit(features)
    standardized = scaler.transform(features)
    np.testing.assert_allclose(standardized.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(standardized.std(0), 1.0, atol=1e-12)
    np.testing.assert_allclose(scaler.inverse_transform(standardized), features)
    restored = Standardizer.from_dict(scaler.to_dict())
    np.testing.assert_allclose(restored.transform(features), standardized)
    as_tensor = scaler.transform(torch.tensor(features))
    np.testing.assert_allclose(as_tensor.numpy(), standardized)


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardizer().transform(np.zeros((2, 2)))
    bad = np.ones((3, 2))
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="frame 1, column 1"):
        Standardizer().fit(bad)
    constant = Standardizer().fit(np.ones((4, 2)))
    np.testing.assert_allclose(constant.scale_, 1.0)
