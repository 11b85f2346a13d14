"""Featurisation of CG configurations (used by ECG and other CG-resolution models)."""

from cgkit.features.distances import (
    distance_features,
    n_pair_features,
    pair_indices,
)
from cgkit.features.standardizer import Standardizer

__all__ = ["distance_features", "n_pair_features", "pair_indices", "Standardizer"]
