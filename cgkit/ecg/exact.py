"""``ExactGPRegressor``: homoscedastic exact GP on standardised distance features (baseline).

Same interface as :class:`~cgkit.ecg.regressor.ECGRegressor`. A constant mean and a
scaled ARD RBF kernel on the standardised upper triangle of the bead distance matrix,
hyperparameters fitted by maximising the exact marginal likelihood (Adam, float64,
Cholesky). Its predictive std ``sqrt(var_f + s^2)`` shrinks near data but carries one
noise level for every input, which is what ECG improves on. Cost grows as ``F^3``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import gpytorch
import numpy as np
import torch

from cgkit.ecg._io import (
    check_bead_positions,
    check_targets,
    load_model,
    load_state_strict,
    save_model,
)
from cgkit.features import Standardizer, distance_features


@dataclass
class ExactGPConfig:
    """Hyperparameters of :class:`ExactGPRegressor`.

    Attributes
    ----------
    n_iterations : int
        Adam steps on the exact marginal likelihood.
    learning_rate : float
    squared_distances : bool
    seed : int
    """

    n_iterations: int = 100
    learning_rate: float = 0.1
    squared_distances: bool = False
    seed: int = 0


class _ExactModel(gpytorch.models.ExactGP):
    def __init__(self, train_x, train_y, likelihood):
        super().__init__(train_x, train_y, likelihood)
        self.mean_module = gpytorch.means.ConstantMean()
        self.covar_module = gpytorch.kernels.ScaleKernel(
            gpytorch.kernels.RBFKernel(ard_num_dims=train_x.shape[-1])
        )

    def forward(self, x):
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


class ExactGPRegressor:
    """Exact homoscedastic GP regressor (baseline for ECG).

    Parameters
    ----------
    n_iterations, learning_rate, squared_distances, seed
        See :class:`ExactGPConfig`.
    device : str

    Attributes
    ----------
    model_ : gpytorch.models.ExactGP (float64)
    standardizer_ : Standardizer
    target_mean_, target_scale_ : float
    n_beads_ : int
    history_ : list of float
        Negative marginal log likelihood per iteration.
    """

    def __init__(
        self, n_iterations=100, learning_rate=0.1, squared_distances=False, seed=0, device="cpu"
    ):
        self.n_iterations = n_iterations
        self.learning_rate = learning_rate
        self.squared_distances = squared_distances
        self.seed = seed
        self.device = device

    @property
    def config(self) -> ExactGPConfig:
        """Hyperparameters as a typed :class:`ExactGPConfig`."""
        return ExactGPConfig(**{f.name: getattr(self, f.name) for f in fields(ExactGPConfig)})

    def _features(self, positions):
        return distance_features(positions, squared=self.squared_distances)

    def _make_model(self, x: torch.Tensor, t: torch.Tensor) -> _ExactModel:
        likelihood = gpytorch.likelihoods.GaussianLikelihood()
        return _ExactModel(x, t, likelihood).double().to(self.device)

    def fit(self, bead_positions, y) -> ExactGPRegressor:
        """Fit hyperparameters and cache the posterior.

        Parameters
        ----------
        bead_positions : array_like, shape (F, M, 3), Å
        y : array_like, shape (F,), eV
        """
        positions = check_bead_positions(bead_positions)
        targets = check_targets(y, len(positions))
        features = self._features(positions)
        self.standardizer_ = Standardizer().fit(features)
        self.target_mean_ = float(targets.mean())
        self.target_scale_ = float(targets.std()) or 1.0
        self.n_beads_ = positions.shape[1]
        x = torch.as_tensor(self.standardizer_.transform(features), dtype=torch.float64)
        t = torch.as_tensor((targets - self.target_mean_) / self.target_scale_, dtype=torch.float64)
        x, t = x.to(self.device), t.to(self.device)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = self._make_model(x, t)
            mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
            optimizer = torch.optim.Adam(model.parameters(), lr=self.learning_rate)
            model.train()
            self.history_ = []
            with gpytorch.settings.max_cholesky_size(10**7):
                for _ in range(self.n_iterations):
                    optimizer.zero_grad()
                    loss = -mll(model(x), t)
                    loss.backward()
                    optimizer.step()
                    self.history_.append(float(loss.detach()))
        self.model_ = model.eval()
        self._cache()
        return self

    @torch.no_grad()
    def _cache(self) -> None:
        model = self.model_
        x, t = model.train_inputs[0], model.train_targets
        kernel = model.covar_module
        k = kernel(x).to_dense()
        noise = model.likelihood.noise.reshape(())
        chol = torch.linalg.cholesky(k + noise * torch.eye(len(x), dtype=x.dtype, device=x.device))
        constant = model.mean_module.constant.reshape(())
        self._chol = chol
        self._alpha = torch.cholesky_solve((t - constant)[:, None], chol)[:, 0]
        self._constant, self._noise = constant, noise
        self._outputscale = kernel.outputscale.reshape(())

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise RuntimeError("ExactGPRegressor is not fitted; call fit() or load() first")

    @torch.no_grad()
    def _terms(self, bead_positions, batch_size: int = 4096):
        self._check_fitted()
        positions = check_bead_positions(bead_positions, self.n_beads_)
        features = self.standardizer_.transform(self._features(positions))
        x = torch.as_tensor(features, dtype=torch.float64, device=self.device)
        train_x = self.model_.train_inputs[0]
        means, var_f = [], []
        for start in range(0, len(x), batch_size):
            k = self.model_.covar_module(x[start : start + batch_size], train_x).to_dense()
            means.append(self._constant + k @ self._alpha)
            v = torch.linalg.solve_triangular(self._chol, k.T, upper=False)
            var_f.append(self._outputscale - (v * v).sum(0))
        empty = torch.zeros(0, dtype=torch.float64)
        mean = torch.cat(means) if means else empty
        var = torch.cat(var_f).clamp_min(0.0) if var_f else empty
        return mean.cpu().numpy(), var.cpu().numpy(), float(self._noise)

    def predict(self, bead_positions, return_std: bool = False):
        """Predictive mean (F,) eV and, if ``return_std``, std (F,) eV including the noise."""
        mean, var_f, noise = self._terms(bead_positions)
        mean = mean * self.target_scale_ + self.target_mean_
        if not return_std:
            return mean
        return mean, np.sqrt(var_f + noise) * self.target_scale_

    def predict_components(self, bead_positions) -> dict[str, np.ndarray]:
        """``mean`` (eV); ``var_f`` (latent posterior), ``var_noise``, ``var_total`` (eV^2)."""
        mean, var_f, noise = self._terms(bead_positions)
        scale2 = self.target_scale_**2
        return {
            "mean": mean * self.target_scale_ + self.target_mean_,
            "var_f": var_f * scale2,
            "var_noise": np.full_like(var_f, noise * scale2),
            "var_total": (var_f + noise) * scale2,
        }

    def to(self, device) -> ExactGPRegressor:
        """Move the fitted model to ``device`` (in place); returns self."""
        self._check_fitted()
        self.device = device
        self.model_ = self.model_.to(device).eval()
        self._cache()
        return self

    def save(self, path) -> None:
        """Save the hyperparameters, training set and state_dict (JSON + tensors)."""
        self._check_fitted()
        state = {f"model.{k}": v for k, v in self.model_.state_dict().items()}
        state["train_features"] = self.model_.train_inputs[0]
        state["train_targets"] = self.model_.train_targets
        metadata = {
            "config": asdict(self.config),
            "standardizer": self.standardizer_.to_dict(),
            "target_mean": self.target_mean_,
            "target_scale": self.target_scale_,
            "n_beads": self.n_beads_,
        }
        save_model(path, "ExactGPRegressor", metadata, state)

    @classmethod
    def load(cls, path, device="cpu") -> ExactGPRegressor:
        """Load a model written by :meth:`save`."""
        metadata, state = load_model(path, "ExactGPRegressor")
        try:
            obj = cls(**metadata["config"], device=device)
            obj.standardizer_ = Standardizer.from_dict(metadata["standardizer"])
            obj.target_mean_ = float(metadata["target_mean"])
            obj.target_scale_ = float(metadata["target_scale"])
            obj.n_beads_ = int(metadata["n_beads"])
            x = state.pop("train_features").to(torch.float64)
            t = state.pop("train_targets").to(torch.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: invalid exact GP model metadata ({exc})") from None
        if x.ndim != 2 or x.shape[1] != len(obj.standardizer_.mean_) or len(t) != len(x):
            raise ValueError(f"{path}: training tensors do not match the standardizer")
        model = obj._make_model(x.to(device), t.to(device))
        load_state_strict(model, {k.removeprefix("model."): v for k, v in state.items()}, path)
        obj.model_ = model.eval()
        obj._cache()
        return obj
