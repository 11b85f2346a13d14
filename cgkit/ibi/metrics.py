"""Distances between distributions used to judge IBI convergence."""

from __future__ import annotations

import numpy as np

from cgkit._divergence import js_divergence as _js_divergence


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence of two histograms on the same bins, in bits (0..1).

    Inputs are normalised to unit sum first, so densities and counts both work.
    """
    return _js_divergence(p, q, base=2.0)


def l1_norm(p: np.ndarray, q: np.ndarray, dx: float) -> float:
    """Integrated absolute difference of two densities, ``int |p - q| dx`` (0..2).

    This is the per-interaction convergence norm (VOTCA's distribution-difference norm).
    """
    return float(np.sum(np.abs(np.asarray(p) - np.asarray(q))) * dx)
