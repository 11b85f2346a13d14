"""Gaussian voxel densities and the density -> coordinate collapse."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cgkit.backmap.voxel import channel_density, density_to_coordinate, gaussian_density, make_grid


def test_grid_is_centred_with_the_dbm_spacing():
    grid = make_grid(8, 12.0)
    assert grid.shape == (8, 8, 8, 3)
    assert torch.allclose(grid.mean(dim=(0, 1, 2)), torch.zeros(3), atol=1e-6)
    assert float(grid[1, 0, 0, 0] - grid[0, 0, 0, 0]) == pytest.approx(1.5)
    assert float(grid[0, 0, 0, 0]) == pytest.approx(-5.25)
    with pytest.raises(ValueError):
        make_grid(0, 12.0)


def test_density_matches_direct_gaussian_and_round_trips(rng):
    grid = make_grid(8, 12.0, dtype=torch.float64)
    points = torch.tensor(rng.uniform(-2.0, 2.0, size=(50, 3)))
    density = gaussian_density(points, grid, sigma_sq=2.0)
    direct = torch.exp(-((grid - points[:, None, None, None]) ** 2).sum(-1) / 2.0)
    assert torch.allclose(density, direct)
    back = density_to_coordinate(density, grid)
    # inside the central +-2 Å the truncation bias stays below a tenth of a voxel (1.5 Å)
    assert float((back - points).abs().max()) < 0.15
    # the centre of the grid is a fixed point by symmetry
    zero = density_to_coordinate(gaussian_density(torch.zeros(1, 3, dtype=torch.float64),
                                                  grid), grid)  # fmt: skip
    assert torch.allclose(zero, torch.zeros(1, 3, dtype=torch.float64), atol=1e-12)


def test_collapse_is_differentiable_and_channels_sum(rng):
    grid = make_grid(8, 12.0)
    points = torch.tensor(rng.uniform(-1, 1, size=(2, 4, 3)), dtype=torch.float32)
    points.requires_grad_(True)
    blobs = gaussian_density(points, grid)
    membership = torch.zeros(2, 4, 3)
    membership[:, :2, 0] = 1.0  # points 0, 1 -> channel 0
    membership[:, 2, 1] = 1.0  # point 2 -> channel 1; point 3 hidden
    channels = channel_density(blobs, membership)
    assert channels.shape == (2, 3, 8, 8, 8)
    assert torch.allclose(channels[:, 0], blobs[:, 0] + blobs[:, 1])
    assert torch.allclose(channels[:, 2], torch.zeros_like(channels[:, 2]))
    back = density_to_coordinate(blobs, grid)
    back.sum().backward()
    assert points.grad is not None and np.isfinite(points.grad.numpy()).all()
    # d(collapsed)/d(point) is close to the identity near the centre
    assert float(points.grad.mean()) == pytest.approx(1.0, abs=0.1)
