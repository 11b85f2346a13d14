"""ECG prediction for an ensemble (cluster) of CG configurations: the cluster-spread term.

DKL-ECG predicts ``N(mu_i, sigma_i^2)`` of a property for each CG configuration ``R_i``.
A reference that samples several nearby CG configurations at once (a cluster of
configurations, or the frames of restrained AA sampling whose bead centres fluctuate
around ``R*``) sees the mixture ``sum_i w_i N(mu_i, sigma_i^2)``. Its variance is the
weighted mean predicted variance plus the spread of the predicted means over the
ensemble (law of total variance; the cluster-spread term of Maier & Jackson 2022, eq. 18,
as cgkit reads it)::

    mean = sum_i w_i mu_i
    var  = sum_i w_i sigma_i^2  +  sum_i w_i (mu_i - mean)^2
"""

from __future__ import annotations

import numpy as np


def ensemble_moments(means, stds, weights=None) -> tuple[float, float, float]:
    """Mean and std of the mixture of per-configuration Gaussian predictions.

    Parameters
    ----------
    means, stds : array_like, shape (F,)
        Predicted mean and std of each configuration (property unit, e.g. eV).
    weights : array_like, shape (F,), optional
        Non-negative configuration weights (e.g. eq. 17 unbiasing weights of restrained
        frames, :func:`cgkit.sampling.constrained.unbias_weights`); normalised here.
        Default: equal weights.

    Returns
    -------
    mean : float
        Weighted mean of ``means``.
    std : float
        ``sqrt(<sigma^2> + spread^2)``, the std of the mixture.
    spread : float
        ``sqrt(sum_i w_i (mu_i - mean)^2)``, the cluster-spread term alone.
    """
    means = np.asarray(means, dtype=float).reshape(-1)
    stds = np.asarray(stds, dtype=float).reshape(-1)
    if means.shape != stds.shape or means.size == 0:
        raise ValueError(
            f"means ({means.size}) and stds ({stds.size}) must be non-empty and of equal length"
        )
    if np.any(stds < 0) or not np.all(np.isfinite(means + stds)):
        bad = int(np.flatnonzero((stds < 0) | ~np.isfinite(means + stds))[0])
        raise ValueError(f"configuration {bad}: negative or non-finite mean/std")
    if weights is None:
        weights = np.full(means.size, 1.0 / means.size)
    else:
        weights = np.asarray(weights, dtype=float).reshape(-1)
        if weights.shape != means.shape:
            raise ValueError(f"weights has {weights.size} entries but means has {means.size}")
        if np.any(weights < 0) or not np.all(np.isfinite(weights)) or weights.sum() <= 0:
            raise ValueError("weights must be finite, non-negative and not all zero")
        weights = weights / weights.sum()
    mean = float(weights @ means)
    spread_sq = float(weights @ (means - mean) ** 2)
    variance = float(weights @ stds**2) + spread_sq
    return mean, float(np.sqrt(variance)), float(np.sqrt(spread_sq))
