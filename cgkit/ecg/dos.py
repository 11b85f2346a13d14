"""Density of states (distribution of an electronic property) from ECG predictions.

DKL-ECG predicts for every CG configuration ``R_i`` a Gaussian ``N(mu_i, sigma_i^2)`` of the
property; the density over an ensemble is their average (Maier & Jackson 2022, eq. 20)::

    rho(E) = (1/F) sum_i N(E; mu_i, sigma_i^2)

The ``mean_only`` alternative is the histogram of the predicted means ``mu_i`` on the
same grid (each mean counted in the grid cell of its nearest grid point, normalised to
unit area), i.e. what a deterministic predictor gives; it has no free bandwidth.
"""

from __future__ import annotations

import numpy as np


def _check_grid(energy_grid) -> np.ndarray:
    grid = np.asarray(energy_grid, dtype=float).reshape(-1)
    if len(grid) < 2 or not np.all(np.diff(grid) > 0):
        raise ValueError("energy_grid must be a strictly increasing 1-D array of >= 2 energies")
    return grid


def gaussian_mixture_density(means, stds, energy_grid, batch_size: int = 4096) -> np.ndarray:
    """Average of Gaussians ``N(E; means_i, stds_i^2)`` evaluated on ``energy_grid``.

    Parameters
    ----------
    means, stds : array_like, shape (F,), eV
    energy_grid : array_like, shape (G,), eV

    Returns
    -------
    density : ndarray, shape (G,), 1/eV
    """
    grid = _check_grid(energy_grid)
    means = np.asarray(means, dtype=float).reshape(-1)
    stds = np.asarray(stds, dtype=float).reshape(-1)
    if means.shape != stds.shape or len(means) == 0:
        raise ValueError("means and stds must be non-empty and of equal length")
    if np.any(stds <= 0):
        raise ValueError(f"non-positive std at frame {int(np.flatnonzero(stds <= 0)[0])}")
    density = np.zeros_like(grid)
    for start in range(0, len(means), batch_size):
        mu = means[start : start + batch_size, None]
        sd = stds[start : start + batch_size, None]
        density += (np.exp(-0.5 * ((grid[None] - mu) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))).sum(0)
    return density / len(means)


def histogram_density(values, energy_grid) -> np.ndarray:
    """Unit-area histogram of ``values`` on ``energy_grid`` (cells centred on grid points).

    Values outside the grid's cells are dropped (the area is then below 1).

    Returns
    -------
    density : ndarray, shape (G,), 1/eV
    """
    grid = _check_grid(energy_grid)
    values = np.asarray(values, dtype=float).reshape(-1)
    mids = 0.5 * (grid[1:] + grid[:-1])
    first, last = 2 * grid[0] - mids[0], 2 * grid[-1] - mids[-1]
    edges = np.concatenate([[first], mids, [last]])
    counts, _ = np.histogram(values, bins=edges)
    return counts / (len(values) * np.diff(edges))


def density_of_states(model, bead_positions, energy_grid, mean_only: bool = False) -> np.ndarray:
    """Predicted density of a property over an ensemble of CG configurations.

    Parameters
    ----------
    model
        A fitted regressor with ``predict(bead_positions, return_std=True)``.
    bead_positions : array_like, shape (F, M, 3), Å
    energy_grid : array_like, shape (G,), eV
    mean_only : bool
        Histogram of the predicted means instead of the average of predicted Gaussians.

    Returns
    -------
    density : ndarray, shape (G,), 1/eV
    """
    mean, std = model.predict(bead_positions, return_std=True)
    if mean_only:
        return histogram_density(mean, energy_grid)
    return gaussian_mixture_density(mean, std, energy_grid)


def wasserstein_to_samples(energy_grid, density, samples) -> float:
    """1-Wasserstein distance (eV) between a density on ``energy_grid`` and samples.

    ``W1 = int |CDF_density(E) - CDF_samples(E)| dE`` on the grid; the density's CDF is the
    trapezoid integral, renormalised to 1.
    """
    grid = _check_grid(energy_grid)
    density = np.asarray(density, dtype=float)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(grid))])
    if cdf[-1] <= 0:
        raise ValueError("density has zero area on the grid")
    cdf /= cdf[-1]
    samples = np.sort(np.asarray(samples, dtype=float).reshape(-1))
    empirical = np.searchsorted(samples, grid, side="right") / len(samples)
    gap = np.abs(cdf - empirical)
    return float(np.sum(0.5 * (gap[1:] + gap[:-1]) * np.diff(grid)))


def _calibrated_draws(means, stds, energy_grid, n_draws: int, seed: int) -> np.ndarray:
    """W1 of the density and of the mean-only histogram to ``n_draws`` reference sets
    redrawn from the model, ``y_i ~ N(means_i, stds_i^2)``: array (n_draws, 2), eV."""
    means = np.asarray(means, dtype=float).reshape(-1)
    stds = np.asarray(stds, dtype=float).reshape(-1)
    density = gaussian_mixture_density(means, stds, energy_grid)
    mean_only = histogram_density(means, energy_grid)
    rng = np.random.default_rng(seed)
    draws = np.empty((n_draws, 2))
    for k in range(n_draws):
        reference = rng.normal(means, stds)
        draws[k] = (wasserstein_to_samples(energy_grid, density, reference),
                    wasserstein_to_samples(energy_grid, mean_only, reference))  # fmt: skip
    return draws


def calibrated_wasserstein(means, stds, energy_grid, n_draws: int = 200, seed: int = 0):
    """W1 distances a perfectly calibrated model would show on a test set of this size.

    The held-out reference is a finite sample, so even a model whose Gaussians are exactly
    right has ``W1 > 0`` to it. Here the reference values are redrawn from the model itself,
    ``y_i ~ N(means_i, stds_i^2)``, and the W1 of the sum-of-Gaussians density and of the
    mean-only histogram to each draw are averaged: the floor of the first and the
    expected value of the second when the model is right (a parametric bootstrap).

    Parameters
    ----------
    means, stds : array_like, shape (F,), eV
    energy_grid : array_like, shape (G,), eV
    n_draws : int
    seed : int

    Returns
    -------
    w1_density, w1_mean_only : float, eV
    """
    draws = _calibrated_draws(means, stds, energy_grid, n_draws, seed)
    return float(draws[:, 0].mean()), float(draws[:, 1].mean())


def calibrated_ratio_distribution(means, stds, energy_grid, n_draws: int = 200,
                                  seed: int = 0) -> np.ndarray:  # fmt: skip
    """Ratios ``W1(DOS) / W1(mean-only)`` a perfectly calibrated model would show.

    Same parametric bootstrap as :func:`calibrated_wasserstein`, one ratio per redrawn
    reference set: its quantiles say which observed ratios are consistent with a right
    model on a test set of this size (e.g. the fraction of draws at or below 0.5 is the
    chance that even a perfect model meets a "ratio <= 0.5" goal).

    Returns
    -------
    ratios : ndarray, shape (n_draws,)
    """
    draws = _calibrated_draws(means, stds, energy_grid, n_draws, seed)
    return draws[:, 0] / draws[:, 1]
