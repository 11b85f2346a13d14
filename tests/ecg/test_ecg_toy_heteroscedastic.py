"""Appendix-A toy of Maier & Jackson (2022): sinusoidal mean, strongly x-dependent noise.

ECG's predictive std must follow sigma(x); the exact (homoscedastic) GP cannot.
"""

import numpy as np
import pytest
import torch

from cgkit.ecg import ECGRegressor, ExactGPRegressor

torch.set_num_threads(1)


def sigma(x):
    return 0.05 + 0.45 * (1 + np.sin(np.pi * x)) / 2


def as_beads(x):
    """Embed a scalar as two beads at distance 3 + x Å (the only distance feature)."""
    pos = np.zeros((len(x), 2, 3))
    pos[:, 1, 0] = 3.0 + x
    return pos


@pytest.mark.slow
def test_ecg_recovers_input_dependent_noise_exact_gp_does_not():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 4000)
    y = np.sin(np.pi * x) + sigma(x) * rng.normal(size=len(x))
    grid = np.linspace(-0.95, 0.95, 39)

    ecg = ECGRegressor(
        latent_dim=2, n_inducing=200, n_epochs=80, batch_size=500, learning_rate=0.01, seed=0
    ).fit(as_beads(x), y)
    mean, std = ecg.predict(as_beads(grid), return_std=True)
    np.testing.assert_allclose(std, sigma(grid), rtol=0.2)
    assert np.max(np.abs(mean - np.sin(np.pi * grid))) < 0.1

    exact = ExactGPRegressor(n_iterations=60).fit(as_beads(x[:800]), y[:800])
    exact_mean, exact_std = exact.predict(as_beads(grid), return_std=True)
    assert exact_std.max() / exact_std.min() < 1.3  # near-constant width
    assert std.max() / std.min() > 5.0
    assert np.max(np.abs(exact_mean - np.sin(np.pi * grid))) < 0.15
