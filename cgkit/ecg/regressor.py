"""``ECGRegressor``: deep-kernel heteroscedastic GP predictor of an electronic property.

Pipeline (Maier & Jackson, J. Chem. Phys. 157, 174102, 2022): bead positions (F, M, 3) Å
-> upper triangle of the distance matrix -> standardisation -> MLP ``g`` -> variational
encoding ``p(z|R) = N(e1, exp(e2) I)`` -> sparse variational GP -> Gaussian likelihood.
Trained with Adam on ``-PLL + kl_weight * KL(p_b || p_0)``; targets are standardised
internally and predictions come back in the target's unit (eV).
"""

from __future__ import annotations

import math
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
from cgkit.ecg.encoder import LatentEncoder
from cgkit.ecg.fast_predict import PredictiveCache
from cgkit.ecg.gp import DEFAULT_JITTER, DeepKernelGP, LatentGP
from cgkit.ecg.kl import BatchKL
from cgkit.features import Standardizer, distance_features

#: frames per prediction block (features -> latents -> GP), sized to stay in cache
_CHUNK = 8192


@dataclass
class ECGConfig:
    """Hyperparameters of :class:`ECGRegressor` (defaults follow the authors' code).

    Attributes
    ----------
    hidden_sizes : tuple of int
        Widths of the extractor's hidden layers (Linear-BatchNorm-ELU).
    latent_dim : int
        Latent size ``N_f``.
    n_inducing : int
        Number of inducing points (capped at the number of training frames).
    kl_weight : float
        ``lambda_KL`` of the batch-distribution KL regulariser (0 switches it off).
    init_log_variance : float
        Initial log-variance ``e2`` of the encoded Gaussians.
    init_noise : float
        Initial likelihood noise variance ``s^2`` in units of the target variance; starting
        low lets the input-dependent terms carry the noise.
    learning_rate : float
        Adam learning rate (cosine-annealed to 5 % of it over training).
    n_epochs : int
        Passes over the training frames.
    batch_size : int
        Frames per Adam step.
    squared_distances : bool
        Use squared bead distances as features.
    jitter : float
        Diagonal jitter of the inducing covariance.
    seed : int
        Seed of weight initialisation, shuffling and reparameterisation noise.
    """

    hidden_sizes: tuple[int, ...] = (80, 40, 20, 10)
    latent_dim: int = 6
    n_inducing: int = 1000
    kl_weight: float = 1e-4
    init_log_variance: float = 0.0
    init_noise: float = 0.01
    learning_rate: float = 5e-3
    n_epochs: int = 200
    batch_size: int = 500
    squared_distances: bool = False
    jitter: float = DEFAULT_JITTER
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict) -> ECGConfig:
        """Build from :func:`dataclasses.asdict` output, refusing unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown ECG config keys: {sorted(unknown)}")
        data = dict(data)
        if "hidden_sizes" in data:
            data["hidden_sizes"] = tuple(int(h) for h in data["hidden_sizes"])
        return cls(**data)


class ECGRegressor:
    """Deep-kernel GP regressor with heteroscedastic predictive std (DKL-ECG).

    Parameters
    ----------
    hidden_sizes, latent_dim, n_inducing, kl_weight, init_log_variance, init_noise, learning_rate,
    n_epochs, batch_size, squared_distances, jitter, seed
        See :class:`ECGConfig`.
    kl_prior : callable or None
        ``z (S, N_f) -> log p_0(z) (S,)`` for the KL regulariser; default ``N(0, I)``.
        Only used in training (not saved).
    device : str
        Torch device for training and prediction.
    verbose : bool
        Print the loss every few epochs.

    Attributes
    ----------
    module_ : DeepKernelGP
    cache_ : PredictiveCache
    standardizer_ : Standardizer
    target_mean_, target_scale_ : float
        Target standardisation (target unit, eV).
    n_beads_ : int
    history_ : list of float
        Mean training loss per epoch.
    """

    def __init__(
        self,
        hidden_sizes=(80, 40, 20, 10),
        latent_dim=6,
        n_inducing=1000,
        kl_weight=1e-4,
        init_log_variance=0.0,
        init_noise=0.01,
        learning_rate=5e-3,
        n_epochs=200,
        batch_size=500,
        squared_distances=False,
        jitter=DEFAULT_JITTER,
        seed=0,
        kl_prior=None,
        device="cpu",
        verbose=False,
    ):
        self.hidden_sizes = hidden_sizes
        self.latent_dim = latent_dim
        self.n_inducing = n_inducing
        self.kl_weight = kl_weight
        self.init_log_variance = init_log_variance
        self.init_noise = init_noise
        self.learning_rate = learning_rate
        self.n_epochs = n_epochs
        self.batch_size = batch_size
        self.squared_distances = squared_distances
        self.jitter = jitter
        self.seed = seed
        self.kl_prior = kl_prior
        self.device = device
        self.verbose = verbose

    @property
    def config(self) -> ECGConfig:
        """The hyperparameters as a typed :class:`ECGConfig`."""
        return ECGConfig.from_dict({f.name: getattr(self, f.name) for f in fields(ECGConfig)})

    @classmethod
    def from_config(cls, config: ECGConfig, **kwargs) -> ECGRegressor:
        """Build from an :class:`ECGConfig` (plus ``kl_prior``/``device``/``verbose``)."""
        return cls(**asdict(config), **kwargs)

    # ----------------------------------------------------------------- building
    def _build(self, n_features: int, n_inducing: int) -> DeepKernelGP:
        cfg = self.config
        encoder = LatentEncoder(n_features, cfg.hidden_sizes, cfg.latent_dim, cfg.init_log_variance)
        inducing = torch.zeros(n_inducing, cfg.latent_dim)
        gp = LatentGP(inducing, jitter=cfg.jitter)
        likelihood = gpytorch.likelihoods.GaussianLikelihood()
        likelihood.noise = cfg.init_noise
        return DeepKernelGP(encoder, gp, likelihood)

    def _features(self, bead_positions) -> np.ndarray:
        return distance_features(bead_positions, squared=self.config.squared_distances)

    def _check_fitted(self):
        if not hasattr(self, "cache_"):
            raise RuntimeError("ECGRegressor is not fitted; call fit() or load() first")

    # ----------------------------------------------------------------- training
    def fit(self, bead_positions, y) -> ECGRegressor:
        """Train on CG configurations and their property values.

        Parameters
        ----------
        bead_positions : array_like, shape (F, M, 3), Å
        y : array_like, shape (F,), eV (or the property's unit)

        Returns
        -------
        self
        """
        positions = check_bead_positions(bead_positions)
        targets = check_targets(y, len(positions))
        if len(positions) < 2:
            raise ValueError("need at least 2 training frames")
        cfg = self.config
        features = self._features(positions)
        self.standardizer_ = Standardizer().fit(features)
        self.target_mean_ = float(targets.mean())
        self.target_scale_ = float(targets.std()) or 1.0
        self.n_beads_ = positions.shape[1]
        x = torch.as_tensor(self.standardizer_.transform(features), dtype=torch.float32)
        t = torch.as_tensor((targets - self.target_mean_) / self.target_scale_, dtype=torch.float32)
        x, t = x.to(self.device), t.to(self.device)
        n_frames = len(x)
        batch_size = max(2, min(int(cfg.batch_size), n_frames))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            module = self._build(x.shape[1], min(int(cfg.n_inducing), n_frames)).to(self.device)
            self._init_inducing(module, x)
            self.module_ = module
            self.history_ = self._train(module, x, t, batch_size)
        module.eval()
        self.cache_ = PredictiveCache.from_gp(module.gp, module.likelihood, device=self.device)
        return self

    @torch.no_grad()
    def _init_inducing(self, module: DeepKernelGP, x: torch.Tensor) -> None:
        """Start the inducing points at encoded latent means of random training frames."""
        n_inducing = module.gp.variational_strategy.inducing_points.shape[0]
        pick = torch.randperm(len(x), device=x.device)[:n_inducing]
        module.encoder.train()
        _, mean, _ = module.encoder(x[pick])
        module.gp.variational_strategy.inducing_points.copy_(mean)

    def _train(self, module: DeepKernelGP, x, t, batch_size: int) -> list[float]:
        cfg = self.config
        mll = gpytorch.mlls.PredictiveLogLikelihood(module.likelihood, module.gp, num_data=len(x))
        kl = BatchKL(self.kl_prior)
        optimizer = torch.optim.Adam(module.parameters(), lr=cfg.learning_rate)
        steps_per_epoch = max(1, len(x) // batch_size)
        total = max(1, cfg.n_epochs * steps_per_epoch)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * step / total))
        )
        module.train()
        history = []
        for epoch in range(cfg.n_epochs):
            order = torch.randperm(len(x), device=x.device)
            losses = []
            for step in range(steps_per_epoch):
                index = order[step * batch_size : (step + 1) * batch_size]
                optimizer.zero_grad()
                f_dist, z, mean, log_variance = module(x[index])
                loss = -mll(f_dist, t[index])
                if cfg.kl_weight:
                    loss = loss + cfg.kl_weight * kl(z, mean, log_variance)
                loss.backward()
                optimizer.step()
                schedule.step()
                losses.append(float(loss.detach()))
            history.append(float(np.mean(losses)))
            if self.verbose and (epoch % 10 == 0 or epoch == cfg.n_epochs - 1):
                noise = float(module.likelihood.noise.detach()) ** 0.5 * self.target_scale_
                print(
                    f"epoch {epoch + 1}/{cfg.n_epochs}  loss {history[-1]:.4f}  noise {noise:.4f}"
                )
        return history

    # --------------------------------------------------------------- prediction
    @staticmethod
    def _chunks(positions: np.ndarray):
        """Blocks of at most ``_CHUNK`` frames (one empty block for empty input), so that
        features -> latents (-> GP) of a block stay in cache."""
        return (positions[i : i + _CHUNK] for i in range(0, max(len(positions), 1), _CHUNK))

    @torch.no_grad()
    def _latents(self, bead_positions) -> torch.Tensor:
        self._check_fitted()
        positions = check_bead_positions(bead_positions, self.n_beads_)
        return torch.cat([self._encode_checked(block) for block in self._chunks(positions)])

    def _encode_checked(self, positions: np.ndarray) -> torch.Tensor:
        """Latent means (F, N_f) of validated positions (F, M, 3) Å; features in float64
        torch (threaded), equal to the NumPy features used in training to the last bit or two
        (the float32 latents come out identical)."""
        bead_positions = torch.from_numpy(positions)
        features = distance_features(bead_positions, squared=self.config.squared_distances)
        x = self.standardizer_.transform(features).to(torch.float32).to(self.device)
        self.module_.eval()
        return self.module_.encoder(x)[1]

    def encode(self, bead_positions) -> np.ndarray:
        """Latent means ``e1`` (F, N_f) of the configurations (used by the GMM validation)."""
        return self._latents(bead_positions).cpu().numpy().astype(float)

    def predict(self, bead_positions, return_std: bool = False):
        """Predict the property for configurations (F, M, 3) Å.

        Returns
        -------
        mean : ndarray, shape (F,)
            Predictive mean (target unit, eV).
        std : ndarray, shape (F,)
            Predictive standard deviation including the noise, only if ``return_std``.
        """
        self._check_fitted()
        positions = check_bead_positions(bead_positions, self.n_beads_)
        with torch.no_grad():
            parts = [self.cache_.predict(self._encode_checked(b)) for b in self._chunks(positions)]
        mean = torch.cat([p[0] for p in parts])
        variance = torch.cat([p[1] for p in parts])
        mean = mean.cpu().numpy() * self.target_scale_ + self.target_mean_
        if not return_std:
            return mean
        return mean, np.sqrt(variance.clamp_min(0.0).cpu().numpy()) * self.target_scale_

    def predict_components(self, bead_positions) -> dict[str, np.ndarray]:
        """Predictive mean and the variance decomposition (paper eq. 7).

        Returns
        -------
        dict of ndarray, shape (F,)
            ``mean`` (eV), ``var_K`` (s_K^2, mean-fit term), ``var_S`` (s_S^2, inducing
            distribution term), ``var_noise`` (s^2), ``var_total`` (their sum), all eV^2.
        """
        self._check_fitted()
        parts = self.cache_.predict_components(self._latents(bead_positions))
        scale2 = self.target_scale_**2
        out = {k: v.cpu().numpy() * scale2 for k, v in parts.items() if k != "mean"}
        out["mean"] = parts["mean"].cpu().numpy() * self.target_scale_ + self.target_mean_
        return out

    def to(self, device) -> ECGRegressor:
        """Move the fitted model and its cache to ``device`` (in place); returns self."""
        self._check_fitted()
        self.device = device
        self.module_ = self.module_.to(device).eval()
        self.cache_ = PredictiveCache.from_gp(self.module_.gp, self.module_.likelihood, device)
        return self

    def fit_store(self, store, map_name: str, label: str, indices=None, system=None):
        """Train on a :mod:`cgkit.data` store: bead positions through map ``map_name``.

        Parameters
        ----------
        store : cgkit.data.Store
        map_name : str
            Map stored with the system (``store.cg(map_name, system)``).
        label : str
            Label to learn; only frames whose label status is ok are used.
        indices : array_like of int, optional
            Restrict to these frames (still only the ok ones).
        system : str, optional
            System name when several systems have ``map_name``.

        Returns
        -------
        self
        """
        view = store.cg(map_name, system)
        frames = np.asarray(view.ok_frames(label), dtype=int)
        if indices is not None:
            frames = np.intersect1d(frames, np.asarray(indices, dtype=int))
        if len(frames) < 2:
            raise ValueError(f"{store.path}: fewer than 2 frames with an ok {label!r} label")
        return self.fit(view.bead_positions(frames), view.read_labels(label, frames))

    # ------------------------------------------------------------------ storage
    def save(self, path) -> None:
        """Save state_dict + JSON config (with standardizer) + cgkit version to ``path``."""
        self._check_fitted()
        metadata = {
            "config": asdict(self.config),
            "standardizer": self.standardizer_.to_dict(),
            "target_mean": self.target_mean_,
            "target_scale": self.target_scale_,
            "n_beads": self.n_beads_,
            "n_features": int(len(self.standardizer_.mean_)),
            "n_inducing": int(self.module_.gp.variational_strategy.inducing_points.shape[0]),
        }
        save_model(path, "ECGRegressor", metadata, self.module_.state_dict())

    @classmethod
    def load(cls, path, device="cpu") -> ECGRegressor:
        """Load a model written by :meth:`save` (``torch.load(weights_only=True)``)."""
        metadata, state = load_model(path, "ECGRegressor")
        try:
            config = ECGConfig.from_dict(metadata["config"])
            obj = cls.from_config(config, device=device)
            obj.standardizer_ = Standardizer.from_dict(metadata["standardizer"])
            obj.target_mean_ = float(metadata["target_mean"])
            obj.target_scale_ = float(metadata["target_scale"])
            obj.n_beads_ = int(metadata["n_beads"])
            n_features, n_inducing = int(metadata["n_features"]), int(metadata["n_inducing"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: invalid ECG model metadata ({exc})") from None
        if len(obj.standardizer_.mean_) != n_features:
            raise ValueError(f"{path}: standardizer size does not match n_features={n_features}")
        module = obj._build(n_features, n_inducing)
        load_state_strict(module, state, path)
        obj.module_ = module.to(device).eval()
        obj.cache_ = PredictiveCache.from_gp(module.gp, module.likelihood, device=device)
        return obj
