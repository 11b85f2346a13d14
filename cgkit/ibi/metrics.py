"""Distances between distributions used to judge IBI convergence."""

from __future__ import annotations

import numpy as np


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence of two histograms on the same bins, in bits (0..1).

    Inputs are normalised to unit sum first, so densities and counts both work.
    """
    p = np.asarray(p, float)
    q = np.asarray(q, float)
    p = p / p.sum()
    q = q / q.sum()
    m = 0.5 * (p + q)

    def kl(a, b):
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / b[mask])))

    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def l1_norm(p: np.ndarray, q: np.ndarray, dx: float) -> float:
    """Integrated absolute difference of two densities, ``int |p - q| dx`` (0..2).

    This is the per-interaction convergence norm (VOTCA's distribution-difference norm).
    """
    return float(np.sum(np.abs(np.asarray(p) - np.asarray(q))) * dx)
