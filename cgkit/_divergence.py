"""Jensen-Shannon divergence of two histograms: one implementation for every package."""

from __future__ import annotations

import numpy as np


def js_divergence(p, q, base: float = np.e) -> float:
    """Jensen-Shannon divergence of two histograms on the same bins.

    Parameters
    ----------
    p, q : array_like, shape (B,)
        Counts or densities; each is normalised to unit sum first.
    base : float
        Logarithm base: ``e`` gives nats (0..ln 2), ``2`` gives bits (0..1).
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    p = p / p.sum()
    q = q / q.sum()
    m = 0.5 * (p + q)

    def kl(a):
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / m[mask])))

    return (0.5 * kl(p) + 0.5 * kl(q)) / np.log(base)
