"""CG-only density of states from a CG trajectory and an ECG-like model."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms

from cgkit.ibi import cg_only_dos, trajectory_bead_positions


class LinearModel:
    """Stand-in ECG model: mean = -8 + 0.5 (r01 - 2), std = 0.1 eV."""

    def predict(self, bead_positions, return_std=False):
        r = np.linalg.norm(bead_positions[:, 1] - bead_positions[:, 0], axis=-1)
        mean = -8.0 + 0.5 * (r - 2.0)
        return (mean, np.full_like(mean, 0.1)) if return_std else mean


def _trajectory(rng, n=400):
    frames = np.zeros((n, 2, 3))
    frames[:, 1, 0] = 2.0 + rng.normal(scale=0.2, size=n)
    return frames


def test_dos_is_the_average_of_predicted_gaussians(rng):
    frames = _trajectory(rng)
    grid = np.linspace(-9.5, -6.5, 601)
    density = cg_only_dos(LinearModel(), frames, grid)
    dx = grid[1] - grid[0]
    assert density.sum() * dx == pytest.approx(1.0, abs=1e-3)
    mean = (grid * density).sum() * dx
    predicted = LinearModel().predict(frames)
    assert mean == pytest.approx(predicted.mean(), abs=1e-3)
    # variance = spread of means + predicted noise variance (law of total variance)
    variance = ((grid - mean) ** 2 * density).sum() * dx
    assert variance == pytest.approx(predicted.var() + 0.1**2, rel=0.02)
    mean_only = cg_only_dos(LinearModel(), frames, grid, mean_only=True)
    assert ((grid - mean) ** 2 * mean_only).sum() * dx < 0.5 * variance


def test_trajectory_inputs_agree(tmp_path, rng):
    import ase.io

    frames = _trajectory(rng, 5)
    atoms = [Atoms("X2", positions=f) for f in frames]
    ase.io.write(tmp_path / "cg.traj", atoms)
    np.testing.assert_allclose(trajectory_bead_positions(atoms), frames)
    np.testing.assert_allclose(trajectory_bead_positions(tmp_path / "cg.traj"), frames)
    with pytest.raises(FileNotFoundError, match="missing.traj"):
        trajectory_bead_positions(tmp_path / "missing.traj")
    frames[3, 1, 2] = np.nan
    with pytest.raises(ValueError, match="frame 3, bead 1"):
        trajectory_bead_positions(frames)
    with pytest.raises(ValueError, match="different bead counts"):
        trajectory_bead_positions([Atoms("X2"), Atoms("X3")])
