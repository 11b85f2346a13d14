"""Validation of predictive uncertainty: calibration, GMM local noise, Shapiro-Wilk normality.

* Calibration of Gaussian predictions ``N(mean, std^2)`` against true values: mean negative
  log likelihood, coverage of central intervals (68 %, 95 %), PIT histogram.
* Local noise (Maier & Jackson 2022, sec. II.D): cluster the latent vectors of held-out
  configurations with Gaussian mixtures of ``k = 20..100`` components, subtract the mean
  prediction from each true value, and in every cluster with at least ``min_members``
  members compare the residual std (the local noise of the property at fixed CG
  configuration) with the RMS predicted std.
* Normality (Fig. 2): the fraction of local residual distributions that pass a
  Shapiro-Wilk test, as a function of the number of samples drawn from each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


def _arrays(y_true, mean, std=None):
    y_true = np.asarray(y_true, dtype=float).reshape(-1)
    mean = np.asarray(mean, dtype=float).reshape(-1)
    if y_true.shape != mean.shape:
        raise ValueError(f"y_true has {len(y_true)} values but mean has {len(mean)}")
    if std is None:
        return y_true, mean
    std = np.asarray(std, dtype=float).reshape(-1)
    if std.shape != mean.shape:
        raise ValueError(f"std has {len(std)} values but mean has {len(mean)}")
    if np.any(std <= 0):
        raise ValueError(f"non-positive predicted std at frame {int(np.flatnonzero(std <= 0)[0])}")
    return y_true, mean, std


def gaussian_nll(y_true, mean, std) -> float:
    """Mean negative log likelihood of ``y_true`` under ``N(mean, std^2)`` (per frame, nats)."""
    y, mu, sd = _arrays(y_true, mean, std)
    return float(np.mean(0.5 * np.log(2 * np.pi * sd**2) + 0.5 * ((y - mu) / sd) ** 2))


def coverage(y_true, mean, std, level: float = 0.68) -> float:
    """Fraction of ``y_true`` inside the central ``level`` interval of ``N(mean, std^2)``."""
    y, mu, sd = _arrays(y_true, mean, std)
    half_width = stats.norm.ppf(0.5 + level / 2.0)
    return float(np.mean(np.abs(y - mu) <= half_width * sd))


def pit_histogram(y_true, mean, std, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of the probability integral transform ``Phi((y - mean) / std)``.

    Calibrated predictions give a flat histogram. Returns ``(density (bins,), edges (bins+1,))``.
    """
    y, mu, sd = _arrays(y_true, mean, std)
    pit = stats.norm.cdf((y - mu) / sd)
    return np.histogram(pit, bins=bins, range=(0.0, 1.0), density=True)


def calibration_report(y_true, mean, std) -> dict[str, float]:
    """RMSE, mean std, their ratio, NLL, 68 %/95 % coverage (fractions), max PIT deviation."""
    y, mu, sd = _arrays(y_true, mean, std)
    rmse = float(np.sqrt(np.mean((y - mu) ** 2)))
    pit, _ = pit_histogram(y, mu, sd)
    return {
        "rmse": rmse,
        "mean_std": float(np.mean(sd)),
        "rmse_over_std": rmse / float(np.mean(sd)),
        "nll": gaussian_nll(y, mu, sd),
        "coverage_68": coverage(y, mu, sd, 0.68),
        "coverage_95": coverage(y, mu, sd, 0.95),
        "pit_max_deviation": float(np.max(np.abs(pit - 1.0))),
    }


@dataclass
class LocalNoise:
    """Per-cluster local noise estimates (one row per kept cluster, over all ``k``).

    Attributes
    ----------
    n_components : ndarray of int, shape (C,)
        The ``k`` of the mixture the cluster came from.
    n_members : ndarray of int, shape (C,)
    local_noise : ndarray, shape (C,)
        Std of the residuals ``y - mean`` in the cluster (target unit).
    predicted_std : ndarray, shape (C,)
        RMS predicted std of the cluster's members.
    """

    n_components: np.ndarray
    n_members: np.ndarray
    local_noise: np.ndarray
    predicted_std: np.ndarray

    @property
    def mean_noise(self) -> float:
        """Member-weighted RMS local noise over all kept clusters."""
        w = self.n_members
        return float(np.sqrt(np.sum(w * self.local_noise**2) / np.sum(w)))

    @property
    def ratio(self) -> float:
        """Member-weighted mean of ``predicted_std / local_noise`` (1 for calibrated stds)."""
        w = self.n_members
        return float(np.sum(w * self.predicted_std / self.local_noise) / np.sum(w))


def cluster_labels(latents, n_components: int, seed: int = 0) -> np.ndarray:
    """Hard GMM (full covariance) cluster labels of ``latents`` (F, d)."""
    from sklearn.mixture import GaussianMixture

    gmm = GaussianMixture(n_components=n_components, covariance_type="full", random_state=seed)
    return gmm.fit(np.asarray(latents, dtype=float)).predict(np.asarray(latents, dtype=float))


def gmm_local_noise(
    latents,
    y_true,
    mean,
    std,
    n_components=(20, 40, 60, 80, 100),
    min_members: int = 15,
    seed: int = 0,
) -> LocalNoise:
    """Local noise of the property in latent-space clusters vs the predicted std.

    Parameters
    ----------
    latents : array_like, shape (F, d)
        Latent vectors of held-out configurations (``ECGRegressor.encode``).
    y_true, mean, std : array_like, shape (F,)
        True values, predictive means and stds.
    n_components : iterable of int
        Mixture sizes ``k``; each ``k`` larger than ``F / min_members`` is skipped.
    min_members : int
        Clusters with fewer members are dropped.
    """
    y, mu, sd = _arrays(y_true, mean, std)
    latents = np.asarray(latents, dtype=float)
    if len(latents) != len(y):
        raise ValueError(f"latents has {len(latents)} rows but y_true has {len(y)} values")
    residual = y - mu
    rows = []
    for k in n_components:
        if k * min_members > len(y):
            continue
        labels = cluster_labels(latents, int(k), seed)
        for c in np.unique(labels):
            members = labels == c
            n = int(members.sum())
            if n < min_members:
                continue
            rows.append((k, n, residual[members].std(ddof=1), np.sqrt(np.mean(sd[members] ** 2))))
    if not rows:
        raise ValueError(
            f"no cluster with >= {min_members} members: {len(y)} frames are too few "
            f"for k in {tuple(n_components)}"
        )
    arr = np.array(rows, dtype=float)
    return LocalNoise(arr[:, 0].astype(int), arr[:, 1].astype(int), arr[:, 2], arr[:, 3])


def shapiro_fraction(
    latents,
    y_true,
    mean,
    sample_sizes=(10, 20, 50, 100),
    n_components: int = 20,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict[int, float]:
    """Fraction of local residual distributions that pass a Shapiro-Wilk test at ``alpha``.

    The latents are clustered with one ``n_components`` mixture; for each sample size
    ``n`` every cluster with at least ``n`` members contributes ``n`` randomly drawn
    residuals ``y - mean`` to one test.

    Returns
    -------
    dict
        ``n -> fraction passing`` (NaN where no cluster is large enough).
    """
    y, mu = _arrays(y_true, mean)
    residual = y - mu
    labels = cluster_labels(latents, n_components, seed)
    rng = np.random.default_rng(seed)
    out = {}
    for n in sample_sizes:
        passed = []
        for c in np.unique(labels):
            members = np.flatnonzero(labels == c)
            if len(members) < max(int(n), 3):
                continue
            draw = rng.choice(members, size=int(n), replace=False)
            passed.append(stats.shapiro(residual[draw]).pvalue > alpha)
        out[int(n)] = float(np.mean(passed)) if passed else float("nan")
    return out
