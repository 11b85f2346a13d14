"""Electronic coarse-graining (ECG) with deep-kernel heteroscedastic Gaussian processes.

Implements DKL-ECG of Maier & Jackson (J. Chem. Phys. 157, 174102, 2022):

* :class:`ECGRegressor` / :class:`ECGConfig` -- distance features -> MLP -> variational
  encoding -> sparse variational GP trained with the predictive log likelihood, with the
  batch-distribution KL regulariser; ``predict(..., return_std=True)``,
  ``predict_components`` (variance decomposition), ``save``/``load``.
* :class:`ExactGPRegressor` -- homoscedastic exact GP baseline, same interface.
* :func:`density_of_states` -- average of predicted Gaussians (eq. 20).
* :mod:`cgkit.ecg.validation` -- calibration, GMM local noise, Shapiro-Wilk normality.
* :mod:`cgkit.ecg.scan` -- one model per CG map and the noise-vs-resolution table.

Submodules import torch and gpytorch; names here are imported lazily.
"""

from __future__ import annotations

_LAZY = {
    "ECGRegressor": "cgkit.ecg.regressor",
    "ECGConfig": "cgkit.ecg.regressor",
    "ExactGPRegressor": "cgkit.ecg.exact",
    "ExactGPConfig": "cgkit.ecg.exact",
    "BatchKL": "cgkit.ecg.kl",
    "PredictiveCache": "cgkit.ecg.fast_predict",
    "density_of_states": "cgkit.ecg.dos",
    "calibration_report": "cgkit.ecg.validation",
    "gmm_local_noise": "cgkit.ecg.validation",
    "shapiro_fraction": "cgkit.ecg.validation",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cgkit.ecg' has no attribute {name!r}")
