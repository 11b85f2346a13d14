"""Calibration metrics, GMM local noise, Shapiro-Wilk fractions and the density of states."""

import numpy as np
import pytest
from scipy import stats

from cgkit.ecg.dos import (
    density_of_states,
    gaussian_mixture_density,
    histogram_density,
    wasserstein_to_samples,
)
from cgkit.ecg.validation import (
    calibration_report,
    coverage,
    gaussian_nll,
    gmm_local_noise,
    pit_histogram,
    shapiro_fraction,
)


def test_calibrated_gaussians_give_nominal_coverage_flat_pit_and_entropy_nll(rng):
    n = 20000
    mean = rng.normal(size=n)
    std = rng.uniform(0.1, 0.5, size=n)
    y = mean + std * rng.normal(size=n)
    report = calibration_report(y, mean, std)
    assert report["coverage_68"] == pytest.approx(0.68, abs=0.01)
    assert report["coverage_95"] == pytest.approx(0.95, abs=0.006)
    assert report["rmse_over_std"] == pytest.approx(
        np.sqrt(np.mean(std**2)) / np.mean(std), rel=0.02
    )
    expected_nll = np.mean(0.5 * np.log(2 * np.pi * std**2) + 0.5)
    assert report["nll"] == pytest.approx(expected_nll, abs=0.02)
    density, edges = pit_histogram(y, mean, std)
    assert len(edges) == 11 and np.all(np.abs(density - 1) < 0.1)
    # overconfident predictions (std halved) under-cover and have worse NLL
    assert coverage(y, mean, std / 2, 0.68) < 0.45
    assert gaussian_nll(y, mean, std / 2) > report["nll"] + 0.3
    with pytest.raises(ValueError, match="frame 2"):
        gaussian_nll([0, 0, 0], [0, 0, 0], [1, 1, 0])


def test_gmm_local_noise_recovers_cluster_noise_levels(rng):
    centres = rng.normal(scale=10.0, size=(20, 3))
    noise_levels = np.linspace(0.05, 0.5, 20)
    labels = np.repeat(np.arange(20), 60)
    latents = centres[labels] + rng.normal(scale=0.3, size=(len(labels), 3))
    mean = np.sin(latents[:, 0])
    y = mean + noise_levels[labels] * rng.normal(size=len(labels))
    std = noise_levels[labels]  # a perfectly calibrated predictor
    local = gmm_local_noise(latents, y, mean, std, n_components=(20,), min_members=15)
    assert len(local.local_noise) == 20 and np.all(local.n_members >= 15)
    np.testing.assert_allclose(local.local_noise, local.predicted_std, rtol=0.3)
    assert local.ratio == pytest.approx(1.0, abs=0.06)
    # mixture sizes too large for the data (k * 15 > F) are skipped, not failed
    skipped = gmm_local_noise(latents, y, mean, std, n_components=(20, 100))
    assert set(skipped.n_components) == {20}
    with pytest.raises(ValueError, match="too few"):
        gmm_local_noise(latents[:100], y[:100], mean[:100], std[:100], n_components=(20,))


def test_shapiro_fraction_separates_gaussian_from_uniform_noise(rng):
    latents = np.repeat(rng.normal(scale=20.0, size=(10, 2)), 200, axis=0)
    latents += rng.normal(scale=0.1, size=latents.shape)
    gaussian = shapiro_fraction(
        latents, rng.normal(size=2000), np.zeros(2000), sample_sizes=(20, 150), n_components=10
    )
    uniform = shapiro_fraction(
        latents, rng.uniform(-1, 1, 2000), np.zeros(2000), sample_sizes=(20, 150), n_components=10
    )
    assert gaussian[150] >= 0.8
    assert uniform[150] <= 0.2
    assert uniform[20] > uniform[150]  # small samples cannot tell


class _FixedModel:
    def __init__(self, mean, std):
        self.mean, self.std = mean, std

    def predict(self, bead_positions, return_std=False):
        return (self.mean, self.std) if return_std else self.mean


def test_density_of_states_is_normalised_and_beats_mean_only(rng):
    grid = np.linspace(-3, 3, 601)
    single = gaussian_mixture_density([0.2], [0.4], grid)
    np.testing.assert_allclose(single, stats.norm.pdf(grid, 0.2, 0.4), rtol=1e-12)
    # true values scatter around predicted means with the predicted std
    mean = rng.normal(scale=0.3, size=4000)
    std = np.full(4000, 0.5)
    truth = mean + std * rng.normal(size=4000)
    model = _FixedModel(mean, std)
    dos = density_of_states(model, np.zeros((4000, 2, 3)), grid)
    dos_means = density_of_states(model, np.zeros((4000, 2, 3)), grid, mean_only=True)
    assert np.trapezoid(dos, grid) == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(dos_means, histogram_density(mean, grid))
    assert np.sum(dos_means * np.diff(grid)[0]) == pytest.approx(1.0, abs=1e-6)
    w_dos = wasserstein_to_samples(grid, dos, truth)
    w_means = wasserstein_to_samples(grid, dos_means, truth)
    assert w_dos < 0.5 * w_means


def test_wasserstein_of_shifted_density_equals_shift(rng):
    grid = np.linspace(-6, 6, 2401)
    samples = rng.normal(size=50000)
    assert wasserstein_to_samples(grid, stats.norm.pdf(grid), samples) < 0.02
    shifted = wasserstein_to_samples(grid, stats.norm.pdf(grid, 0.7), samples)
    assert shifted == pytest.approx(0.7, abs=0.02)
    with pytest.raises(ValueError, match="increasing"):
        wasserstein_to_samples(grid[::-1], stats.norm.pdf(grid), samples)


def test_calibrated_wasserstein_floor_shrinks_with_sample_size():
    from cgkit.ecg.dos import calibrated_wasserstein

    rng = np.random.default_rng(3)
    grid = np.linspace(-2.0, 2.0, 800)
    floors = {}
    for n in (100, 2500):
        means = rng.normal(0.0, 0.3, n)
        stds = np.full(n, 0.2)
        w_density, w_mean = calibrated_wasserstein(means, stds, grid, n_draws=40, seed=1)
        floors[n] = w_density
        # the spread lost by the means (0.36 -> 0.30 eV) dominates the mean-only distance
        assert w_mean > w_density
    # a sampling floor: ~ n^{-1/2}, so 25x the frames give ~5x less
    assert 3.0 < floors[100] / floors[2500] < 8.0


def test_calibrated_ratio_distribution_says_when_a_half_ratio_is_out_of_reach():
    from cgkit.ecg.dos import calibrated_ratio_distribution, calibrated_wasserstein

    rng = np.random.default_rng(4)
    grid = np.linspace(-3.0, 3.0, 1200)
    means = rng.normal(0.0, 0.4, 500)
    # noise large next to the spread of the means: the DOS clearly beats mean-only
    broad = calibrated_ratio_distribution(means, np.full(500, 0.4), grid, n_draws=40, seed=2)
    # noise a tenth of it: mean-only is already within the finite-sample floor
    narrow = calibrated_ratio_distribution(means, np.full(500, 0.04), grid, n_draws=40, seed=2)
    assert broad.shape == (40,) and np.all(broad > 0)
    assert np.mean(broad <= 0.5) > 0.9
    assert np.mean(narrow <= 0.5) < 0.1
    # the same bootstrap as calibrated_wasserstein
    w_density, w_mean = calibrated_wasserstein(means, np.full(500, 0.4), grid, n_draws=40, seed=2)
    assert np.median(broad) == pytest.approx(w_density / w_mean, rel=0.3)
