"""Per-feature standardisation with a serialisable state (saved with models)."""

from __future__ import annotations

import numpy as np


class Standardizer:
    """Shift and scale each feature column to zero mean and unit variance.

    Follows scikit-learn conventions: learned state ends in ``_`` and is set by
    :meth:`fit`, which returns ``self``. Columns with zero variance are left unscaled.

    Parameters
    ----------
    eps : float
        Standard deviations below ``eps`` are replaced by 1.
    """

    def __init__(self, eps: float = 1e-12):
        self.eps = eps

    def fit(self, features) -> Standardizer:
        """Learn ``mean_`` and ``scale_`` from ``features`` of shape (F, D)."""
        features = np.asarray(features, dtype=float)
        if features.ndim != 2:
            raise ValueError(f"features must be 2-D (F, D), got shape {features.shape}")
        if not np.all(np.isfinite(features)):
            bad = np.argwhere(~np.isfinite(features))[0]
            raise ValueError(f"non-finite feature at frame {bad[0]}, column {bad[1]}")
        self.mean_ = features.mean(axis=0)
        scale = features.std(axis=0)
        scale[scale < self.eps] = 1.0
        self.scale_ = scale
        return self

    def _check(self):
        if not hasattr(self, "mean_"):
            raise RuntimeError("Standardizer is not fitted; call fit() first")

    def transform(self, features):
        """Return ``(features - mean_) / scale_``; torch tensors stay tensors."""
        self._check()
        if hasattr(features, "detach"):  # torch tensor
            import torch

            mean = torch.as_tensor(self.mean_, dtype=features.dtype, device=features.device)
            scale = torch.as_tensor(self.scale_, dtype=features.dtype, device=features.device)
            return (features - mean) / scale
        return (np.asarray(features, dtype=float) - self.mean_) / self.scale_

    def fit_transform(self, features):
        """Fit, then transform the same features."""
        return self.fit(features).transform(features)

    def inverse_transform(self, standardized):
        """Undo :meth:`transform`."""
        self._check()
        if hasattr(standardized, "detach"):
            import torch

            mean = torch.as_tensor(self.mean_, dtype=standardized.dtype, device=standardized.device)
            scale = torch.as_tensor(
                self.scale_, dtype=standardized.dtype, device=standardized.device
            )
            return standardized * scale + mean
        return np.asarray(standardized, dtype=float) * self.scale_ + self.mean_

    def to_dict(self) -> dict:
        """JSON-serialisable state."""
        self._check()
        return {"eps": self.eps, "mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    @classmethod
    def from_dict(cls, state: dict) -> Standardizer:
        """Rebuild from :meth:`to_dict` output."""
        obj = cls(eps=float(state.get("eps", 1e-12)))
        obj.mean_ = np.asarray(state["mean"], dtype=float)
        obj.scale_ = np.asarray(state["scale"], dtype=float)
        return obj
